"""Many descents at once: local versus global minima and basins.

`multistart` draws starts inside the bounds, runs one vmapped, jitted descent
over all of them (sharded across devices), and clusters the endpoints into
distinct minima: each with its value, how many starts reached it (its basin
share), its kind from the Hessian's eigenvalues, and whether it is global.
Starts that diverged or ran out of steps are labelled −1 and counted apart.

`basin_map` does the same from a regular grid of starts (1-D or 2-D), so the
basins can be drawn. Learning-rate sweeps live in `gradlab.sweep`.

Example:
  >>> import gradlab as gl
  >>> ms = gl.multistart("himmelblau", n_starts=200, seed=0)
  >>> len(ms.minima.points), bool(ms.minima.is_global.all())
  (4, True)
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import optax

from gradlab import derivatives, parallel, stopping
from gradlab import progress as progress_
from gradlab._checks import check_positive, short
from gradlab._compile import once_jit
from gradlab._method import Method
from gradlab.costs import Cost, as_cost, bounds_array, computation_dtype, prepare
from gradlab.descent import Trajectory, check_runs_fit, descend_many, resolve_options
from gradlab.grid import grid_axes, grid_points, grid_shape
from gradlab.optimizers import make_trust_newton, trust_newton
from gradlab.result import Status, record

# The default optimiser: trust-region Newton while the Hessian is small (it needs no
# line search, whose inner loops cost most of the time under vmap), L-BFGS beyond.
NEWTON_MAX_DIM = 32
LBFGS = optax.lbfgs()
# The trust region's first radius and its ceiling, as shares of the widest bound:
# a descent explores its own basin rather than leaping across the box.
FIRST_RADIUS, MAX_RADIUS = 0.02, 0.1
SAMPLINGS = ("uniform", "lhs")
# Endpoints are one minimum when they lie within this many times their own
# distance to it (each endpoint's Newton step), plus ``tol`` of their size.
CLUSTER_SAFETY = 10.0


def _trust_radii(cost: Cost) -> dict:
    width = max(hi - lo for lo, hi in cost.bounds)
    return {"radius": FIRST_RADIUS * width, "max_radius": MAX_RADIUS * width}


def default_optimizer(cost: Cost) -> optax.GradientTransformation:
    """Trust-region Newton scaled to the bounds for up to `NEWTON_MAX_DIM` parameters, else L-BFGS.

    The first step is 2% of the widest bound and the radius never exceeds 10% of
    it. (`multistart` itself passes those radii as traced values, so new bounds
    never recompile; this function builds the same optimiser for `descend`.)
    """
    if cost.dim is None or cost.dim > NEWTON_MAX_DIM or cost.bounds is None:
        return LBFGS
    return trust_newton(**_trust_radii(cost))


def _default_method(cost: Cost, dtype) -> tuple[Method, dict | None]:
    if cost.dim > NEWTON_MAX_DIM:
        return Method(transformation=LBFGS), None
    radii = {k: stopping.scalar(v, dtype) for k, v in _trust_radii(cost).items()}
    return Method(factory=make_trust_newton), radii


@record
class Minima:
    """Distinct stationary points found by a multi-start run, lowest value first.

    Attributes:
      points: ``(k, d)`` each one's location (its best endpoint).
      values: ``(k,)`` the cost there.
      counts: ``(k,)`` how many starts reached it.
      shares: ``(k,)`` ``counts / n_starts``: the share of the bounds' starts in its basin.
      is_global: ``(k,)`` a minimum whose value ties the lowest minimum's, to the
        accuracy of the two endpoints (never a saddle or a flat point).
      kind: ``(k,)`` ``"saddle"`` where the run's status is SADDLE (a curvature
        negative beyond roundoff, and for a point stationary only on the start's
        scale a lower cost along it: in 1-D, a maximum), else ``"flat"`` (the
        Hessian is singular there: a valley of minima, a plateau) or
        ``"minimum"``; judged on the parameters not held at a bound. Endpoints of
        kind flat with the same value are listed once.
      min_eigenvalue: ``(k,)`` the (reduced) Hessian's smallest eigenvalue there.
      in_bounds: ``(k,)`` whether it lies inside the bounds (an unprojected
        descent may leave them).
    """

    points: np.ndarray
    values: np.ndarray
    counts: np.ndarray
    shares: np.ndarray
    is_global: np.ndarray
    kind: np.ndarray
    min_eigenvalue: np.ndarray
    in_bounds: np.ndarray


@record
class MultiStart:
    """The outcome of `multistart`.

    Attributes:
      starts: ``(n, d)`` the starting points.
      trajectories: a `Trajectory` with a leading axis of ``n`` (history thinned
        to every ``record_every``-th step).
      labels: ``(n,)`` index into ``minima`` of the point each start reached; −1
        for a start that reached no stationary point (diverged, stalled, out of
        steps). A start that stopped at a saddle (status SADDLE) is labelled
        with it: a `Minima` entry of kind ``"saddle"``.
      minima: the distinct `Minima`.
      unlabelled_share: share of starts that reached no stationary point.
      starts_for_99: random starts needed to reach a global minimum with 99%
        probability, from the global minima's basin share (inf if never reached).
      known_found: for each of the cost's known minima, whether it was found (None if none known).
      tol: the relative distance under which endpoints count as one point.
    """

    starts: jax.Array
    trajectories: Trajectory
    labels: np.ndarray
    minima: Minima
    unlabelled_share: float
    starts_for_99: float
    known_found: np.ndarray | None
    tol: float

    @property
    def best(self) -> np.ndarray:
        """Location of the lowest minimum found (a `ValueError` if no start found one)."""
        chosen = np.flatnonzero(self.minima.is_global)
        if not chosen.size:
            kinds = sorted(set(self.minima.kind.tolist()))
            raise ValueError(
                "no minimum was found: "
                + (f"the starts ended only at points of kind {', '.join(kinds)}"
                   if kinds else "no start converged")
                + f" ({self.unlabelled_share:.0%} reached no stationary point); try more steps, "
                "more starts or another optimizer"
            )
        return self.minima.points[chosen[0]]


def starts_needed(share: float, confidence: float = 0.99) -> float:
    """Random starts needed to hit a basin of this share at least once with ``confidence``."""
    if share <= 0:
        return math.inf
    if share >= 1:
        return 1.0
    return float(math.ceil(math.log(1 - confidence) / math.log(1 - share)))


def sample_starts(bounds, n: int, seed: int, sampling: str = "uniform") -> np.ndarray:
    """``(n, d)`` seeded starts inside ``bounds``: uniform, or a Latin hypercube (``"lhs"``)."""
    low, high = np.asarray(bounds, dtype=float).T
    rng = np.random.default_rng(seed)
    if sampling == "uniform":
        unit = rng.random((n, len(low)))
    elif sampling == "lhs":  # one start per stratum of every axis, strata shuffled per axis
        strata = np.stack([rng.permutation(n) for _ in low], axis=1)
        unit = (strata + rng.random((n, len(low)))) / n
    else:
        raise ValueError(f"sampling must be one of {SAMPLINGS}; got {sampling!r}")
    return low + (high - low) * unit


# runs once per multistart: compiled quickly (0.08 s against 0.31 s, 64 starts); level 0's
# arithmetic is safe here, as it compares no value of the cost with the loop's
@once_jit
def _analyse_endpoints(objective, points, box):
    """Per endpoint: the (reduced) Hessian's eigenvalues, the Newton step to the
    nearest stationary point (`stopping.step_to_stationary`: axis by axis, the distance
    to it), and the decrease the saddle-free model predicts (its accuracy in f)."""

    def one(x):
        _, g, hessian = derivatives.value_grad_hessian(objective, x)
        g_free, held = stopping.reduced(x, g, hessian, box)
        return stopping.step_to_stationary(g_free, held)

    return jax.vmap(one)(points)


def _kinds(eigenvalues: np.ndarray, status: np.ndarray, dtype) -> np.ndarray:
    """minimum / saddle / flat: a saddle where the run's status says SADDLE; elsewhere
    flat where the smallest curvature is within sqrt(eps) of the largest, else minimum.

    The status decides saddles (`stopping.rest`): a CONVERGED run near a degenerate
    minimum (a quartic's, where the Hessian is as small as the distance left) can show a
    curvature of the point's own scale that is negative, which the run's verdict found
    to lead nowhere lower on the problem's scale."""
    lowest = eigenvalues.min(axis=1)
    scale = np.sqrt(float(jnp.finfo(dtype).eps)) * np.abs(eigenvalues).max(axis=1)
    return np.where(status == Status.SADDLE, "saddle",
                    np.where(np.abs(lowest) <= scale, "flat", "minimum"))


def _cluster(points, values, ok, steps, value_error, flat, tol):
    """Greedy clustering, lowest value first: each endpoint joins the first centre it
    is indistinguishable from — within `CLUSTER_SAFETY` times the two endpoints'
    Newton steps plus ``tol`` of their size on every axis, or, for two flat
    points, of the same value to the accuracy of both."""
    labels = np.full(len(points), -1)
    remaining = np.flatnonzero(ok)[np.argsort(values[ok], kind="stable")]
    size = np.abs(points)
    centres = []
    while remaining.size:
        c = remaining[0]
        reach = CLUSTER_SAFETY * (steps[remaining] + steps[c]) + tol * np.maximum(
            size[remaining], size[c])
        near = np.all(np.abs(points[remaining] - points[c]) <= reach, axis=1)
        level = (flat[remaining] & flat[c]
                 & (np.abs(values[remaining] - values[c])
                    <= CLUSTER_SAFETY * (value_error[remaining] + value_error[c])))
        close = near | level
        labels[remaining[close]] = len(centres)
        centres.append(c)
        remaining = remaining[~close]
    return labels, np.asarray(centres, dtype=int)


def _default_record_every(steps: int, record_every: int | None) -> int:
    if record_every is None:  # 11 recorded points per run
        return steps // 10 if steps % 10 == 0 else steps
    return record_every


def check_batch_fits(cost: Cost, n: int, dim: int, steps, record_every, dtype,
                     advice: str) -> None:
    """Refuse, before any start is drawn, a batch of runs over the memory budget."""
    config, _, _ = resolve_options(cost, dtype, steps=steps,
                                   record_every=_default_record_every(steps, record_every),
                                   bounds=None)
    check_runs_fit(n, dim, config, dtype, f"{n:,} runs of {steps:,} steps", advice)


def run_starts(cost: Cost, starts, *, method: Method, hyperparams, steps, record_every, gtol,
               bounds, progress=None):
    """Descend from every row of ``starts`` in one sharded batch (`descend_many`)."""
    dtype = starts.dtype
    config, box, tols = resolve_options(cost, dtype, steps=steps,
                                        record_every=_default_record_every(steps, record_every),
                                        bounds=bounds, gtol=gtol)
    parallel.check_same_on_all_processes("a batch of descents", cost=cost.name, data=cost.data,
                                         starts=starts, hyperparams=hyperparams,
                                         loop=(config, box, tols))
    padded, n = parallel.pad_rows(starts)
    if method.per_run:
        hyperparams = jax.tree.map(lambda a: parallel.shard_rows(parallel.pad_rows(a)[0]),
                                   hyperparams)
    trajs = parallel.gather(descend_many(cost, parallel.shard_rows(padded), method=method,
                                         hyperparams=hyperparams, config=config, box=box,
                                         tols=tols, progress=progress))
    if padded.shape[0] == n:  # no padding to drop (slicing every field costs ~0.2 ms each)
        return trajs
    return jax.tree.map(lambda a: a[:n], trajs)


def multistart(cost, n_starts: int = 1000, seed: int = 0, *, starts=None,
               sampling: str = "uniform", optimizer=None, steps: int = 100,
               record_every: int | None = None, gtol: float | None = None,
               tol: float | None = None, bounds=None, project: bool = False,
               progress=None) -> MultiStart:
    """Descend from many starts at once and name every distinct stationary point reached.

    Args:
      cost: a `Cost`, a registered name, or a callable (with ``bounds``).
      n_starts: how many random starts (ignored when ``starts`` is given).
      seed: seed for the starts; the same seed gives bitwise-identical results.
      starts: ``(n, d)`` explicit starts instead of random ones (inside the bounds, which
        a multistart needs all the same: they scale its default optimiser, and each
        minimum is said to lie inside them or not).
      sampling: ``"uniform"`` or ``"lhs"`` (Latin hypercube: space-filling).
      optimizer: an optax transformation (default: `default_optimizer`, a
        trust-region Newton method for up to 32 parameters, L-BFGS beyond).
      steps: the most steps per start.
      record_every: history thinning (default: 11 recorded points per start).
      gtol: an absolute gradient-norm tolerance you declare (see `descend`).
      tol: endpoints count as one point when they differ by less than ``tol`` of
        their size on every axis, plus ten times their own distance to the
        stationary point (their Newton step). Default ``sqrt(eps)`` of the width.
        The bounds never enter: minima at 0 and 1 stay apart on a box of ±600.
      bounds: override the cost's bounds.
      project: keep every descent inside the bounds (projected steps; minima on a
        bound are then judged on the free parameters).
      progress: optional ``progress(done, total)`` with the steps done by the batch
        (`gradlab.progress`); off by default.

    Returns:
      A `MultiStart`. Only starts that stopped at a stationary point (CONVERGED,
      or SADDLE) are clustered; the others are labelled −1 and counted in
      ``unlabelled_share``.

    Example:
      >>> import gradlab as gl
      >>> ms = gl.multistart("sine", n_starts=300, seed=0)
      >>> round(float(ms.best[0]), 4)
      10.0
    """
    # given starts need bounds too: they scale the default optimiser, and each minimum is
    # reported inside them or not
    cost = as_cost(cost, bounds, need_bounds=True,
                   what="drawing starts" if starts is None else "a multistart from given starts")
    dtype = computation_dtype(cost)
    tol = _check_tol(tol, dtype)
    progress_.check(progress)
    low, high = np.asarray(cost.bounds, dtype=float).T
    if starts is None:
        n_starts = check_positive(n_starts, "n_starts", integer=True)
        if sampling not in SAMPLINGS:
            raise ValueError(f"sampling must be one of {SAMPLINGS}; got {sampling!r}")
        check_batch_fits(cost, n_starts, cost.dim, steps, record_every, dtype,
                         "fewer starts (n_starts=) or a coarser history (record_every=)")
        starts = jax.device_put(sample_starts(cost.bounds, n_starts, seed, sampling).astype(dtype))
    else:
        cost, starts = prepare(cost, starts, name="starts", batch=True)
        check_batch_fits(cost, starts.shape[0], starts.shape[1], steps, record_every,
                         starts.dtype, "fewer starts or a coarser history (record_every=)")
        host = np.asarray(starts)
        # the bounds rounded as the starts were: a start given on a bound of 1e-3 is on it
        # in float32 too (0.0010000000474974513, above the float64 bound)
        outside = np.any((host < low.astype(host.dtype)) | (host > high.astype(host.dtype)),
                         axis=1)
        if outside.any():
            i = int(np.flatnonzero(outside)[0])
            raise ValueError(
                f"starts must lie inside the bounds {cost.bounds}; start {i} is "
                f"{short(host[i].tolist())} ({int(outside.sum())} of {len(host)} outside)"
            )
    if optimizer is None:
        method, hyperparams = _default_method(cost, starts.dtype)
    elif isinstance(optimizer, optax.GradientTransformation):
        method, hyperparams = Method(transformation=optimizer), None
    else:
        raise TypeError(
            f"optimizer must be an optax.GradientTransformation; got {short(optimizer)}"
        )
    trajs = run_starts(cost, starts, method=method, hyperparams=hyperparams, steps=steps,
                       record_every=record_every, gtol=gtol,
                       bounds=cost.bounds if project else None, progress=progress)
    return summarise(cost, starts, trajs, tol=tol, project=project)


def _check_tol(tol, dtype) -> float:
    if tol is None:
        return math.sqrt(float(jnp.finfo(dtype).eps))
    check_positive(tol, "tol")
    return float(tol)


def summarise(cost: Cost, starts, trajs: Trajectory, *, tol: float | None = None,
              project: bool = False) -> MultiStart:
    """Cluster the endpoints of a batch of descents into a `MultiStart` record."""
    dtype = trajs.x.dtype
    tol = _check_tol(tol, dtype)
    final_x, final_f = np.asarray(trajs.x), np.asarray(trajs.fun)
    # the stationary points: minima, and the saddles a run can stop on (named by `_kinds`)
    ok = np.isin(np.asarray(trajs.status), [Status.CONVERGED, Status.SADDLE])
    n, d = final_x.shape
    box = bounds_array(cost.bounds, dtype) if project else None
    if ok.any():
        eigenvalues, steps, decrease = (np.asarray(a) for a in _analyse_endpoints(
            cost.objective, trajs.x, box))
    else:
        eigenvalues, steps, decrease = np.zeros((n, d)), np.zeros((n, d)), np.zeros(n)
    eps = float(jnp.finfo(dtype).eps)
    value_error = decrease + 16 * eps * np.abs(final_f)
    kinds = _kinds(eigenvalues, np.asarray(trajs.status), dtype)
    labels, centres = _cluster(final_x, final_f, ok, np.abs(steps), value_error,
                               kinds == "flat", tol)
    counts = np.bincount(labels[labels >= 0], minlength=len(centres))
    points, values, kind = final_x[centres], final_f[centres], kinds[centres]
    is_global = np.zeros(len(centres), bool)
    minimum = kind == "minimum"
    if minimum.any():
        lowest = int(np.flatnonzero(minimum)[np.argmin(values[minimum])])
        reach = CLUSTER_SAFETY * (value_error[centres] + value_error[centres[lowest]])
        is_global = minimum & (values - values[lowest] <= reach)
    low, high = np.asarray(cost.bounds, dtype=float).T
    in_bounds = np.all((points >= low) & (points <= high), axis=1)
    minima = Minima(points=points, values=values, counts=counts, shares=counts / n,
                    is_global=is_global, kind=kind,
                    min_eigenvalue=eigenvalues[centres].min(axis=1) if len(centres)
                    else np.zeros(0), in_bounds=in_bounds)
    global_share = float(minima.shares[is_global].sum())
    known_found = None
    if cost.minima:
        known = np.asarray([m.x for m in cost.minima])
        reach = CLUSTER_SAFETY * np.abs(steps[centres]) + tol * np.abs(points)
        known_found = np.array([
            bool(np.any(minimum & np.all(np.abs(points - k) <= reach + tol * np.abs(k), 1)))
            for k in known])
    return MultiStart(starts=starts, trajectories=trajs, labels=labels, minima=minima,
                      unlabelled_share=float(np.mean(labels < 0)),
                      starts_for_99=starts_needed(global_share), known_found=known_found,
                      tol=tol)


@record
class BasinMap:
    """Starts on a regular 1-D or 2-D grid, each labelled by the minimum it reached.

    Attributes:
      axes: one 1-D array of start coordinates per parameter.
      labels: grid-shaped (``(num,)`` or ``(num_0, num_1)``, ``ij`` indexing) minimum
        index per start; −1 for none.
      run: the underlying `MultiStart` (its ``minima`` name the labels).
    """

    axes: tuple
    labels: np.ndarray
    run: MultiStart


def basin_map(cost, num=101, *, optimizer=None, steps: int = 100, gtol: float | None = None,
              tol: float | None = None, bounds=None, progress=None) -> BasinMap:
    """Descend from every point of a regular grid and label each by where it lands.

    Args:
      cost: a `Cost` of 1 or 2 parameters (with bounds).
      num: grid points per axis (an int, or one per axis).
      optimizer, steps, gtol, tol, progress: as in `multistart`.
      bounds: override the cost's bounds.

    Returns:
      A `BasinMap`, ready for `gradlab.plot.basins`.

    Example:
      >>> import gradlab as gl
      >>> gl.basin_map("himmelblau", num=20).labels.shape
      (20, 20)
    """
    cost = as_cost(cost, bounds, need_bounds=True, what="a basin map")
    if cost.dim not in (1, 2):
        raise ValueError(
            f"a basin map needs a cost of 1 or 2 parameters; {cost.name!r} has {cost.dim}. "
            "Use gl.multistart for the minima of higher-dimensional costs."
        )
    shape = grid_shape(num, cost.dim)
    check_batch_fits(cost, math.prod(shape), cost.dim, steps, None, computation_dtype(cost),
                     "a coarser grid of starts (num=)")
    axes = grid_axes(cost.bounds, shape, jnp.result_type(float))
    starts = grid_points(axes)
    run = multistart(cost, starts=starts, optimizer=optimizer, steps=steps, gtol=gtol, tol=tol,
                     progress=progress)
    return BasinMap(axes=axes, labels=run.labels.reshape(shape), run=run)
