"""`fit`: least-squares fitting of a model to data, with the uncertainty of every parameter.

Contract: ``fit(cost, x0)`` takes a cost made by `gradlab.fit_cost` with the
squared-error loss (MSE), minimises the sum of squared residuals
``Σ ((model(x, X) − Y)/σ)²`` by Levenberg–Marquardt (`gradlab.leastsq`: the
method and its stopping rules; its linear algebra: `gradlab._lm_algebra`), and
returns a `Fit` in scipy's vocabulary with the statistics of the estimate.

The record, and its covariance and standard errors: `gradlab._fit_record`.

Statuses are data, never exceptions (`gradlab.Status`); bad input is refused
before anything is compiled, with a message naming the argument. The same
compiled code serves new starts and new data of the same shapes. Batches:
``x0`` of shape ``(n, d)`` fits from ``n`` starts, ``datasets`` fits one
model to many data sets; both in one compiled loop that steps only the runs
still running, split across every device of every process as `gradlab.parallel`
describes (each device loops over its own fits; every process gets the whole
`Fit`). ``jax.jit`` and ``jax.vmap`` over `fit` work too.

Example:
  >>> import jax.numpy as jnp, gradlab as gl
  >>> x = jnp.linspace(0.0, 4.0, 50)
  >>> y = 3.0 * jnp.exp(-1.3 * x) + 0.01 * jnp.sin(37.0 * x)
  >>> f = gl.fit(gl.fit_cost(lambda p, x: p[0] * jnp.exp(-p[1] * x), (x, y)), [1.0, 1.0])
  >>> bool(f.success), [round(float(v), 2) for v in f.x]
  (True, [3.0, 1.3])
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from gradlab import _programs, leastsq, models, parallel, stopping
from gradlab._checks import (
    check_bounds,
    check_points,
    check_positive,
    float_dtype,
    is_traced,
    short,
)
from gradlab._compile import loop_jit, once_jit
from gradlab._fit_record import Fit, statistics
from gradlab.costs import Objective, as_cost, check_output
from gradlab.datasets import Data

METHODS = ("lm", "gauss-newton")
# The most trials by default: the slowest of NIST's 54 runs (Bennett5 from its
# first start, a long curved valley) takes about 1,200.
DEFAULT_STEPS = 2000


# A fit is two programs: the loop, compiled to run fast, and what runs once after it (the
# verdict and the statistics, `gradlab._compile.once_jit`), compiled quickly. Under a
# caller's jit both are part of the caller's program.
@_programs.keepable(lambda args, static: jax.eval_shape(
    lambda x0: leastsq.init(x0, jnp.ones((), x0.dtype)), args[2]))
@loop_jit(static_argnames=("options",))
def _fit_loop(objective, sigma, x0, steps, box, loop_tols, *, options):
    return leastsq.loop_one(objective, sigma, x0, steps, box, loop_tols, options)


@_programs.keepable(Fit)
@once_jit(static_argnames=("absolute_sigma",))
def _fit_end(objective, sigma, last, box, tols, *, absolute_sigma):
    sol = leastsq.finish(objective, sigma, last, box, tols)
    return statistics(sol, absolute_sigma, last.unit, box is not None)


def _fit_one(objective, sigma, x0, steps, box, tols, loop_tols, *, options, absolute_sigma):
    last = _fit_loop(objective, sigma, x0, steps, box, loop_tols, options=options)
    return _fit_end(objective, sigma, last, box, tols, absolute_sigma=absolute_sigma)


def _rows_sigma(y, sigma, data_axis: bool):
    """A batch's σ: with ``data_axis``, broadcast to the data sets' shape (a row each)."""
    return jnp.broadcast_to(sigma, y.shape) if data_axis and sigma is not None else sigma


def _on_rows(per_device: bool, run, rows, shared, data_axis: bool):
    """``run(rows, shared)``, each device on its own rows with ``per_device``
    (`parallel.map_rows`); the problem ``shared[-1]`` is a row each with ``data_axis``."""
    rows, shared = ((rows, shared[-1]), (*shared[:-1], None)) if data_axis else (
        (rows, None), shared)
    return (parallel.map_rows if per_device else lambda f, r, s: f(r, s))(run, rows, shared)


# A batch of fits is two programs too: its loop, vectorised, and its verdicts and
# statistics, with LLVM's vectorisers off (`gradlab._compile`). Vectorised, the end's
# scalar remainder took other rows for other batch sizes, so a fit's covariance
# differed in its last bits between a batch of 70 and its last 9, or between one
# process and two of 35 each (found 2026-12-01, on a CPU without AVX2; one program
# vectorised whole had passed on another). Compiled with the loop, unvectorised, the
# batch took 1.1–1.5× as long (1,000 Thurber starts, 10⁴ data sets); at level 0 (as a
# single fit's end), the covariance still depended on the batch.
@loop_jit(static_argnames=("options", "data_axis", "per_device"))
def _fit_many_loop(objective, sigma, x0s, steps, box, loop_tols, *, options, data_axis,
                   per_device=False):
    """A batch's loop; ``per_device``: each device fits its own rows, the rows being the
    starts, and with ``data_axis`` the data sets and ``sigma``. Each run's last state."""
    def run(rows, shared):
        (x0s, problem), (steps, box, loop_tols, same) = rows, shared
        objective, sigma = problem if data_axis else same
        # imported here: the batch driver imports `gradlab._loop`, and with it optax, which
        # a single fit never needs (0.2 s more to import gradlab.fitting)
        from gradlab._lm_batch import run_many

        return run_many(objective, _rows_sigma(objective.data.y, sigma, data_axis), x0s, steps,
                        box, loop_tols, options, data_axis=data_axis)

    return _on_rows(per_device, run, x0s, (steps, box, loop_tols, (objective, sigma)),
                    data_axis)


@loop_jit(static_argnames=("absolute_sigma", "data_axis", "per_device"), vectorize=False)
def _fit_many_end(objective, sigma, last, box, tols, *, absolute_sigma, data_axis,
                  per_device=False):
    """Each run's `Fit`, from `_fit_many_loop`'s last states (rows as there)."""
    def run(rows, shared):
        (last, problem), (box, tols, same) = rows, shared
        objective, sigma = problem if data_axis else same
        from gradlab._lm_batch import finish_many

        sols = finish_many(objective, _rows_sigma(objective.data.y, sigma, data_axis), last,
                           box, tols, data_axis=data_axis)
        return jax.vmap(lambda s, u: statistics(s, absolute_sigma, u, box is not None,
                                                vectorised=True))(sols, last.unit)

    return _on_rows(per_device, run, last, (box, tols, (objective, sigma)), data_axis)


def _fit_many(objective, sigma, x0s, steps, box, tols, loop_tols, *, options, absolute_sigma,
              data_axis, per_device=False):
    """A batch of fits: `_fit_many_loop`, then `_fit_many_end`."""
    last = _fit_many_loop(objective, sigma, x0s, steps, box, loop_tols, options=options,
                          data_axis=data_axis, per_device=per_device)
    return _fit_many_end(objective, sigma, last, box, tols, absolute_sigma=absolute_sigma,
                         data_axis=data_axis, per_device=per_device)


def _fit_spread(name, objective, sigma, x0s, steps, box, tols, loop_tols, *, options,
                absolute_sigma, data_axis):
    """`_fit_many` with its rows split across every device of every process: the
    processes' arguments compared first, rows padded to the device count, and the
    whole `Fit` gathered onto every process at the end (nothing sent in between)."""
    run = functools.partial(_fit_many, options=options, absolute_sigma=absolute_sigma,
                            data_axis=data_axis)
    if parallel.device_count() == 1 or any(map(is_traced, jax.tree.leaves(
            (objective, sigma, x0s, steps)))):  # under the caller's jit or vmap: as it is
        return run(objective, sigma, x0s, steps, box, tols, loop_tols)
    parallel.check_same_on_all_processes(
        "a batch of fits", cost=name, data=objective.data, sigma=sigma, starts=x0s,
        loop=(steps, box, tols, loop_tols, tuple(options), absolute_sigma, data_axis))
    padded, n = parallel.pad_rows(x0s)
    place = lambda a: parallel.shard_rows(parallel.pad_rows(a)[0])
    if data_axis:
        objective, sigma = jax.tree.map(place, (objective, sigma))
    fits = parallel.gather(run(objective, sigma, parallel.shard_rows(padded), steps, box, tols,
                               loop_tols, per_device=True))
    return fits if padded.shape[0] == n else jax.tree.map(lambda a: a[:n], fits)


def loop_xtol(dtype) -> float:
    """The loop's own default ``xtol``: ``eps^(3/4)`` (1.8e-12 in float64, 6.4e-6 in float32).

    Past the verdict's ``sqrt(eps)``: Levenberg–Marquardt converges only
    linearly on large-residual problems, and the parameters reach the
    precision their data allow a few steps after the point first counts as
    stationary (on NIST's Thurber, 7.6 digits then, 10.4 at this tolerance).
    """
    return float(jnp.finfo(dtype).eps) ** 0.75


# -- the public function ---------------------------------------------------------------------
def is_least_squares(cost) -> bool:
    """Whether ``cost`` is a `fit_cost` with the squared-error loss: what `fit` solves."""
    fn = getattr(cost, "fn", None)
    return isinstance(fn, models.FitObjective) and fn.loss is models.mse


def fit(cost, x0, *, sigma=None, absolute_sigma: bool = False, bounds=None, datasets=None,
        method: str = "lm", steps: int = DEFAULT_STEPS, xtol: float | None = None,
        ftol: float | None = None, gtol: float | None = None) -> Fit:
    """Fit a model to data by least squares (Levenberg–Marquardt), with standard errors.

    Args:
      cost: a cost made by ``gl.fit_cost(model, data)`` with the default
        squared-error loss (or a registered name of one, such as ``"line"``).
      x0: ``(d,)`` the start, or ``(n, d)``: ``n`` starts fitted at once.
      sigma: optional uncertainties of ``y`` (its shape; with ``datasets``, that
        of ``datasets.y`` or of one data set's ``y``): positive and finite. The
        residuals are divided by them, as in ``scipy.optimize.curve_fit``.
      absolute_sigma: False (default): ``sigma`` are relative weights and the
        covariance is scaled by ``rss/dof``; True: they are the standard
        deviations of ``y`` and the covariance is ``(JᵀJ)⁻¹`` (curve_fit's meaning).
      bounds: optional ``(low, high)`` per parameter: box constraints (an
        active-set rule, see `gradlab.leastsq`; ``x0`` must lie inside). The
        cost's own bounds (for grids and random starts) are not constraints.
      datasets: optional `Data` whose ``x`` and ``y`` carry a leading axis of
        ``k`` data sets, each shaped like the cost's own data: the model is
        fitted to each (from ``x0`` of shape ``(d,)``, or one start per data set).
      method: ``"lm"`` (Levenberg–Marquardt) or ``"gauss-newton"`` (undamped steps).
      steps: the most trials (each one evaluation of residuals and Jacobian).
      xtol, ftol: the stationarity tolerances of `gradlab.stopping` (defaults
        ``sqrt(eps)`` and ``eps``). By default the loop runs until no step can
        improve ``x`` (to rounding) and the verdict judges the end with them;
        given, the loop also stops as soon as they hold.
      gtol: stop, CONVERGED, once ``‖Jᵀr‖ ≤ gtol`` (an absolute scale you declare).

    Returns:
      A `Fit` (with a leading batch axis for several starts or data sets).

    Example:
      >>> import gradlab as gl
      >>> f = gl.fit("line", [0.0, 0.0])
      >>> [round(float(v), 3) for v in f.x], [round(float(v), 3) for v in f.stderr]
      ([2.018, -2.98], [0.042, 0.024])
    """
    cost = as_cost(cost)
    if not is_least_squares(cost):
        loss = getattr(getattr(cost.fn, "loss", None), "__name__", None)
        what = (f"a fit_cost with loss {loss!r}" if loss else "not a fit_cost(model, data)")
        raise TypeError(
            f"fit solves least-squares fits: a cost made by gl.fit_cost(model, data) with the "
            f"default squared-error loss (mse); cost {cost.name!r} is {what}. Minimise other "
            "costs with gl.descend (or gl.multistart)"
        )
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}; got {short(method)}")
    if not isinstance(absolute_sigma, bool):
        raise TypeError(f"absolute_sigma must be True or False; got {short(absolute_sigma)}")
    steps = check_positive(steps, "steps", integer=True)
    batch = np.ndim(x0) == 2
    k = None
    if datasets is not None:  # each shaped like the cost's own data, which check the model
        datasets = _check_datasets(datasets, cost.data)
        k = datasets.y.shape[0]
        if batch and np.shape(x0)[0] != k:
            raise ValueError(f"x0 must have one start per data set ({k}) or be one start (d,); "
                             f"got shape {np.shape(x0)}")
    x0 = _prepare(cost, x0, batch)
    dtype = x0.dtype
    objective = cost.objective
    if k is not None:
        if not batch:
            x0 = (jnp if is_traced(x0) else np).broadcast_to(x0, (k, x0.shape[-1]))
        objective = Objective(cost.fn, cost.grad, datasets)
    y_shape = tuple(cost.data.y.shape)
    sigma = _check_sigma(sigma, y_shape, k, dtype)
    box = None
    if bounds is not None:
        bounds = check_bounds(bounds, dim=x0.shape[-1])
        _check_inside(x0, bounds)
        box = tuple(np.asarray(b, dtype) for b in np.asarray(bounds).T)
    try:
        tols, loop_tols = _tolerances(np.dtype(dtype), xtol, ftol, gtol)
    except TypeError:  # unhashable: let the shared check say what is wrong
        stopping.tolerances(dtype, xtol=xtol, ftol=ftol, gtol=gtol)
        raise
    options = leastsq.Options(gauss_newton=method == "gauss-newton")
    steps = stopping.scalar(steps, jnp.int32)
    if k is None and not batch:
        return _fit_one(objective, sigma, x0, steps, box, tols, loop_tols, options=options,
                        absolute_sigma=absolute_sigma)
    return _fit_spread(cost.name, objective, sigma, x0, steps, box, tols, loop_tols,
                       options=options, absolute_sigma=absolute_sigma, data_axis=k is not None)


def _prepare(cost, x0, batch: bool):
    """``x0`` checked (as `costs.prepare` does) and cast to the fit's dtype, on the host when
    it is there; the cost's output checked once per (model, shapes, dtype)."""
    check_points(x0, "x0", cost.dim, batch=batch, convert=False)
    if not isinstance(x0, jax.Array):  # a list or a NumPy array: stays on the host
        x0 = np.asarray(x0, None if isinstance(x0, np.ndarray) else float_dtype())
    data = cost.data
    dtype = _dtype(np.dtype(data.x.dtype), np.dtype(data.y.dtype), np.dtype(x0.dtype),
                   jax.config.jax_enable_x64)
    if x0.dtype != dtype:
        x0 = x0.astype(dtype)
    key = (cost.fn, tuple(data.x.shape), tuple(data.y.shape), dtype, x0.shape[-1])
    if key not in _CHECKED:
        check_output(cost, jax.ShapeDtypeStruct(x0.shape[-1:], dtype))  # the model's output
        if len(_CHECKED) < 1024:
            _CHECKED.add(key)
    return x0


_CHECKED: set = set()


@functools.cache
def _dtype(x_dtype, y_dtype, x0_dtype, x64: bool):
    # canonical first: a NumPy float64 x0 under float32 is float32, without JAX's warning
    # about an "explicitly requested" float64
    floats = [jax.dtypes.canonicalize_dtype(t) for t in (x_dtype, y_dtype, x0_dtype)
              if jnp.issubdtype(t, jnp.floating)]
    return np.dtype(jnp.result_type(*floats))


@functools.cache
def _tolerances(dtype, xtol, ftol, gtol):
    """The verdict's tolerances and the loop's (`loop_xtol`; ftol 0 unless given)."""
    tols = stopping.tolerances(dtype, xtol=xtol, ftol=ftol, gtol=gtol)
    return tols, tols._replace(
        xtol=tols.xtol if xtol is not None else stopping.scalar(loop_xtol(dtype), dtype),
        ftol=tols.ftol if ftol is not None else stopping.scalar(0, dtype))


def _check_datasets(datasets, data: Data) -> Data:
    """A `Data` of ``k`` data sets, each shaped like ``data``; finite when concrete."""
    if not isinstance(datasets, Data):
        try:
            datasets = Data(*datasets)
        except (TypeError, ValueError):
            raise TypeError(f"datasets must be a gradlab.Data or an (x, y) pair of arrays "
                            f"with a leading axis of data sets; got {short(datasets)}") from None
    arrays = []
    for label, a, one in (("x", datasets.x, data.x), ("y", datasets.y, data.y)):
        if not is_traced(a):
            a = np.asarray(a)
            if not np.issubdtype(a.dtype, np.number) or np.iscomplexobj(a):
                raise TypeError(f"datasets.{label} must be real numbers; got dtype {a.dtype}")
            if not np.all(np.isfinite(a)):
                raise ValueError(f"datasets.{label} must be finite; it holds NaN or inf")
        if tuple(np.shape(a)[1:]) != tuple(np.shape(one)) or np.ndim(a) != np.ndim(one) + 1:
            raise ValueError(
                f"datasets.{label} must have shape (k, {', '.join(map(str, np.shape(one)))}) "
                f"(k data sets shaped like the cost's own {label}); got shape {np.shape(a)}")
        arrays.append((jnp if is_traced(a) else np).asarray(a, one.dtype))  # the cost's width
    if np.shape(arrays[0])[0] != np.shape(arrays[1])[0]:
        raise ValueError(f"datasets.x and datasets.y must hold the same number of data sets; "
                         f"got {np.shape(arrays[0])[0]} and {np.shape(arrays[1])[0]}")
    return Data(*arrays)


def _check_sigma(sigma, y_shape, k, dtype):
    if sigma is None:
        return None
    if isinstance(sigma, bool) or not (is_traced(sigma) or isinstance(
            sigma, np.ndarray | jax.Array | list | tuple | int | float)):
        raise TypeError(f"sigma must be an array of positive numbers; got {short(sigma)}")
    shapes = [y_shape] + ([] if k is None else [(k, *y_shape)])
    if tuple(np.shape(sigma)) not in shapes:
        want = " or ".join(str(s) for s in shapes)
        raise ValueError(f"sigma must have the shape of y, {want}; got shape {np.shape(sigma)}")
    if not is_traced(sigma):
        host = np.asarray(sigma)
        if not np.issubdtype(host.dtype, np.number) or np.iscomplexobj(host):
            raise TypeError(f"sigma must be real numbers; got dtype {host.dtype}")
        if not np.all(np.isfinite(host)) or not np.all(host > 0):
            raise ValueError(f"sigma must be positive and finite; got {short(host)}")
    sigma = jnp.asarray(sigma, dtype)
    if k is not None:
        sigma = jnp.broadcast_to(sigma, (k, *y_shape))
    return sigma


def _check_inside(x0, bounds):
    if is_traced(x0):
        return
    low, high = np.asarray(bounds, float).T
    host = np.asarray(x0)
    outside = np.any((host < low) | (host > high), axis=-1)
    if np.any(outside):
        raise ValueError(f"x0 must lie inside the bounds {bounds}; got {short(host.tolist())}")
