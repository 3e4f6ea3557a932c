"""Many descents at once: local versus global minima, basins, and learning-rate sweeps.

`multistart` draws starts inside the bounds, runs one vmapped, jitted descent
over all of them (sharded across devices), and clusters the endpoints into
distinct minima: each with its value, how many starts reached it (its basin
share), its kind from the Hessian's eigenvalues, and whether it is global.
Starts that diverged or ran out of steps are labelled −1 and counted apart.

`basin_map` does the same from a regular grid of starts (1-D or 2-D), so the
basins can be drawn; `sweep_learning_rates` runs one descent per learning rate
in one compiled call and gives the stability limit ``2/L`` from the curvature.

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

from gradlab import parallel
from gradlab._checks import check_points, check_positive, short
from gradlab.costs import Cost, as_cost, prepare
from gradlab.descent import Trajectory, descend_many, resolve_options
from gradlab.grid import grid_axes, grid_points, grid_shape
from gradlab.optimizers import trust_newton
from gradlab.result import Status, record

# The default optimiser: trust-region Newton while the Hessian is small (it needs no
# line search, whose inner loops cost most of the time under vmap), L-BFGS beyond.
NEWTON_MAX_DIM = 32
LBFGS = optax.lbfgs()


def default_optimizer(cost: Cost) -> optax.GradientTransformation:
    """Trust-region Newton scaled to the bounds for up to `NEWTON_MAX_DIM` parameters, else L-BFGS.

    The first step is 2% of the widest bound and the radius never exceeds 10% of
    it, so a descent explores its own basin rather than leaping across the box.
    """
    if cost.dim is None or cost.dim > NEWTON_MAX_DIM or cost.bounds is None:
        return LBFGS
    width = max(hi - lo for lo, hi in cost.bounds)
    return trust_newton(radius=0.02 * width, max_radius=0.1 * width)
SAMPLINGS = ("uniform", "lhs")


@record
class Minima:
    """Distinct minima found by a multi-start run, best first.

    Attributes:
      points: ``(k, d)`` each minimum's location (its best endpoint).
      values: ``(k,)`` the cost there.
      counts: ``(k,)`` how many starts reached it.
      shares: ``(k,)`` ``counts / n_starts``: the share of the bounds' starts in its basin.
      is_global: ``(k,)`` whether its value ties the best (to roundoff).
      kind: ``(k,)`` ``"minimum"``, ``"saddle"`` or ``"flat"``, from the Hessian's eigenvalues.
      min_eigenvalue: ``(k,)`` the Hessian's smallest eigenvalue there.
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
      labels: ``(n,)`` index into ``minima`` of the minimum each start reached; −1 for none.
      minima: the distinct `Minima`.
      unlabelled_share: share of starts that diverged or did not converge.
      starts_for_99: random starts needed to reach the global minimum with 99%
        probability, from its basin share (inf if it was never reached).
      known_found: for each of the cost's known minima, whether it was found (None if none known).
      tol: ``(d,)`` the distance under which endpoints count as the same minimum.
    """

    starts: jax.Array
    trajectories: Trajectory
    labels: np.ndarray
    minima: Minima
    unlabelled_share: float
    starts_for_99: float
    known_found: np.ndarray | None
    tol: np.ndarray

    @property
    def best(self) -> np.ndarray:
        """Location of the best minimum found."""
        return self.minima.points[0]


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


def _cluster(points: np.ndarray, values: np.ndarray, ok: np.ndarray, tol: np.ndarray):
    """Greedy clustering, best value first: each endpoint joins the first centre within ``tol``."""
    labels = np.full(len(points), -1)
    remaining = np.flatnonzero(ok)[np.argsort(values[ok], kind="stable")]
    centres = []
    while remaining.size:
        centre = remaining[0]
        close = np.all(np.abs(points[remaining] - points[centre]) <= tol, axis=1)
        labels[remaining[close]] = len(centres)
        centres.append(centre)
        remaining = remaining[~close]
    return labels, np.asarray(centres, dtype=int)


@jax.jit
def _hessian_eigenvalues(cost, points):
    return jax.vmap(lambda x: jnp.linalg.eigvalsh(jax.hessian(cost)(x)))(points)


def _describe_minima(cost: Cost, final_x, final_f, labels, centres, n_starts, dtype) -> Minima:
    points = final_x[centres]
    values = final_f[centres]
    counts = np.bincount(labels[labels >= 0], minlength=len(centres))
    eps = float(jnp.finfo(dtype).eps)
    if len(centres):
        # pad to a power of two so a new number of minima does not compile anew
        padded = np.resize(points, (1 << (len(points) - 1).bit_length(), points.shape[1]))
        eig = np.asarray(_hessian_eigenvalues(cost, jnp.asarray(padded, dtype)))[:len(points)]
        lowest = eig.min(axis=1)
        scale = np.sqrt(eps) * np.maximum(1.0, np.abs(eig).max(axis=1))
        kind = np.where(lowest > scale, "minimum", np.where(lowest < -scale, "saddle", "flat"))
        best = values.min()
        is_global = values <= best + np.sqrt(eps) * max(1.0, abs(best))
    else:
        lowest, kind, is_global = np.zeros(0), np.zeros(0, dtype="<U7"), np.zeros(0, bool)
    low, high = np.asarray(cost.bounds, dtype=float).T
    in_bounds = np.all((points >= low) & (points <= high), axis=1)
    return Minima(points=points, values=values, counts=counts, shares=counts / n_starts,
                  is_global=is_global, kind=kind, min_eigenvalue=lowest, in_bounds=in_bounds)


def _run_starts(cost: Cost, starts, *, optimizer, steps, record_every, gtol, bounds,
                learning_rates=None):
    dtype = starts.dtype
    if record_every is None:
        record_every = steps // 10 if steps % 10 == 0 else steps
    config, box, tols = resolve_options(cost, dtype, steps=steps, record_every=record_every,
                                        bounds=bounds, gtol=gtol, xtol=None, divergence=1e6)
    parallel.check_same_on_all_processes("a batch of descents", cost=cost.name, data=cost.data,
                                         starts=starts, rates=learning_rates,
                                         loop=(config, box, tols))
    padded, n = parallel.pad_rows(starts)
    rates = None
    if learning_rates is not None:
        rates = parallel.shard_rows(parallel.pad_rows(learning_rates)[0])
    trajs = parallel.gather(descend_many(cost, parallel.shard_rows(padded), optimizer=optimizer,
                                         learning_rates=rates, config=config, box=box, tols=tols))
    if padded.shape[0] == n:  # no padding to drop (slicing every field costs ~0.2 ms each)
        return trajs
    return jax.tree.map(lambda a: a[:n], trajs)


def multistart(cost, n_starts: int = 1000, seed: int = 0, *, starts=None,
               sampling: str = "uniform", optimizer=None, steps: int = 100,
               record_every: int | None = None, gtol: float | None = None,
               tol: float = 1e-3, bounds=None, project: bool = False) -> MultiStart:
    """Descend from many starts at once and name every distinct minimum reached.

    Args:
      cost: a `Cost`, a registered name, or a callable (with ``bounds``).
      n_starts: how many random starts (ignored when ``starts`` is given).
      seed: seed for the starts; the same seed gives bitwise-identical results.
      starts: ``(n, d)`` explicit starts instead of random ones (inside the bounds).
      sampling: ``"uniform"`` or ``"lhs"`` (Latin hypercube: space-filling).
      optimizer: an optax transformation (default: `default_optimizer`, a
        trust-region Newton method for up to 32 parameters, L-BFGS beyond).
      steps: the most steps per start.
      record_every: history thinning (default: 11 recorded points per start).
      gtol: gradient-norm tolerance for convergence (see `descend`).
      tol: endpoints closer than ``tol × (high − low)`` on every axis are one minimum.
      bounds: override the cost's bounds.
      project: keep every descent inside the bounds (projected steps).

    Returns:
      A `MultiStart`.

    Example:
      >>> import gradlab as gl
      >>> ms = gl.multistart("sine", n_starts=300, seed=0)
      >>> round(float(ms.best[0]), 4)
      10.0
    """
    cost = as_cost(cost, bounds, need_bounds=True, what="drawing starts")
    low, high = np.asarray(cost.bounds, dtype=float).T
    if starts is None:
        n_starts = check_positive(n_starts, "n_starts", integer=True)
        if sampling not in SAMPLINGS:
            raise ValueError(f"sampling must be one of {SAMPLINGS}; got {sampling!r}")
        starts = jnp.asarray(sample_starts(cost.bounds, n_starts, seed, sampling),
                             jnp.result_type(float))
    else:
        cost, starts = prepare(cost, starts, name="starts", batch=True)
        host = np.asarray(starts)
        outside = np.any((host < low) | (host > high), axis=1)
        if outside.any():
            i = int(np.flatnonzero(outside)[0])
            raise ValueError(
                f"starts must lie inside the bounds {cost.bounds}; start {i} is "
                f"{short(host[i].tolist())} ({int(outside.sum())} outside)"
            )
    if optimizer is None:
        optimizer = default_optimizer(cost)
    elif not isinstance(optimizer, optax.GradientTransformation):
        raise TypeError(
            f"optimizer must be an optax.GradientTransformation; got {short(optimizer)}"
        )
    trajs = _run_starts(cost, starts, optimizer=optimizer, steps=steps,
                        record_every=record_every, gtol=gtol,
                        bounds=cost.bounds if project else None)
    return summarise(cost, starts, trajs, tol=tol)


def summarise(cost: Cost, starts, trajs: Trajectory, *, tol: float = 1e-3) -> MultiStart:
    """Cluster the endpoints of a batch of descents into a `MultiStart` record."""
    check_positive(tol, "tol")
    low, high = np.asarray(cost.bounds, dtype=float).T
    tol_vec = tol * (high - low)
    final_x, final_f = np.asarray(trajs.x), np.asarray(trajs.fun)
    ok = np.asarray(trajs.status) == Status.CONVERGED
    labels, centres = _cluster(final_x, final_f, ok, tol_vec)
    n = len(final_x)
    minima = _describe_minima(cost, final_x, final_f, labels, centres, n, starts.dtype)
    global_share = float(minima.shares[minima.is_global].sum()) if len(centres) else 0.0
    known_found = None
    if cost.minima:
        known = np.asarray([m.x for m in cost.minima])
        known_found = np.array([
            bool(len(centres)) and bool(np.any(np.all(np.abs(minima.points - k) <= tol_vec, 1)))
            for k in known])
    return MultiStart(starts=starts, trajectories=trajs, labels=labels, minima=minima,
                      unlabelled_share=float(np.mean(labels < 0)),
                      starts_for_99=starts_needed(global_share), known_found=known_found,
                      tol=tol_vec)


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
              tol: float = 1e-3, bounds=None) -> BasinMap:
    """Descend from every point of a regular grid and label each by where it lands.

    Args:
      cost: a `Cost` of 1 or 2 parameters (with bounds).
      num: grid points per axis (an int, or one per axis).
      optimizer, steps, gtol, tol: as in `multistart`.
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
    axes = grid_axes(cost.bounds, shape, jnp.result_type(float))
    starts = grid_points(axes)
    run = multistart(cost, starts=starts, optimizer=optimizer, steps=steps, gtol=gtol, tol=tol)
    return BasinMap(axes=axes, labels=run.labels.reshape(shape), run=run)


@record
class LearningRateSweep:
    """One descent per learning rate, from the same start.

    Attributes:
      learning_rates: ``(k,)`` the rates tried.
      trajectories: a `Trajectory` with a leading axis of ``k``.
      status: ``(k,)`` each run's `Status` code.
      curvature: the Hessian's largest eigenvalue ``L`` at ``x0``.
      stability_limit: ``2 / L``: plain gradient descent on a quadratic converges
        for rates below it and diverges above (NaN when ``L ≤ 0``); a local
        estimate for other costs and a guide only for other optimisers.
    """

    learning_rates: jax.Array
    trajectories: Trajectory
    status: np.ndarray
    curvature: float
    stability_limit: float


def sweep_learning_rates(cost, x0, learning_rates, *, steps: int = 100, optimizer=optax.sgd,
                         gtol: float | None = None, record_every: int = 1,
                         bounds=None) -> LearningRateSweep:
    """Run one descent per learning rate, all in one compiled call.

    Args:
      cost: a `Cost`, a registered name, or a callable.
      x0: ``(d,)`` the common start.
      learning_rates: ``(k,)`` positive rates; traced, so new values do not recompile.
      steps: steps per run.
      optimizer: a factory ``learning_rate -> optax transformation`` (``optax.sgd``,
        the course's plain rule, by default; ``optax.adam``, ``optax.sgd`` with momentum
        via ``functools.partial(optax.sgd, momentum=0.9)``, ...).
      gtol, record_every: as in `descend`.
      bounds: optional box to project each step into.

    Returns:
      A `LearningRateSweep`.

    Example:
      >>> import gradlab as gl
      >>> sweep = gl.sweep_learning_rates("bowl", [-1.0, -1.0], [0.1, 0.5, 1.2], steps=100)
      >>> [gl.Status(int(s)).name for s in sweep.status], float(sweep.stability_limit)
      (['CONVERGED', 'CONVERGED', 'DIVERGED'], 1.0)
    """
    cost, x0 = prepare(cost, x0)
    if not callable(optimizer) or isinstance(optimizer, optax.GradientTransformation):
        raise TypeError(
            "optimizer must be a factory taking learning_rate, such as optax.sgd or "
            f"optax.adam (not an optimiser already built); got {short(optimizer)}"
        )
    rates = check_points(learning_rates if isinstance(learning_rates, jax.Array | np.ndarray)
                         else list(np.ravel(learning_rates)), "learning_rates", None)
    if not np.all(np.asarray(rates) > 0):
        raise ValueError(f"learning_rates must all be positive; got {short(np.asarray(rates))}")
    rates = rates.astype(x0.dtype)
    starts = jnp.broadcast_to(x0, (rates.shape[0], x0.shape[0]))
    trajs = _run_starts(cost, starts, optimizer=optimizer, steps=steps,
                        record_every=record_every, gtol=gtol, bounds=bounds,
                        learning_rates=rates)
    curvature = float(jnp.max(_hessian_eigenvalues(cost, x0[None])))
    limit = 2.0 / curvature if curvature > 0 else math.nan
    return LearningRateSweep(learning_rates=rates, trajectories=trajs,
                             status=np.asarray(trajs.status), curvature=curvature,
                             stability_limit=limit)
