"""Brute-force grid search: every point of a regular grid, evaluated in compiled chunks.

Grid points are never materialised as a ``(num**d, d)`` array: each chunk of
flat indices is unravelled into coordinates inside the compiled function, the
chunk is evaluated with ``vmap``, and chunks run one after another in a
``lax.scan`` — so memory is bounded by the chunk size, not the grid (how chunks
are sized from a memory budget: `gradlab._grid_chunks`). With
``keep_values=False`` only the running best is kept, so grids of 10⁸ points and
more fit in a few hundred MB. On several devices each device walks its own block
of the grid and keeps its own best; the bests are compared once, at the end.

Example:
  >>> import gradlab as gl
  >>> result = gl.grid_search("bowl", num=101)
  >>> [round(float(v), 2) for v in result.x], result.values.shape
  ([2.0, -3.0], (101, 101))
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np
import optax

from gradlab import _programs, parallel
from gradlab import progress as progress_
from gradlab._checks import (
    check_bounds,
    check_memory,
    check_points,
    check_positive,
    human_bytes,
    short,
)
from gradlab._checks import memory_budget as memory_budget_
from gradlab._grid_chunks import TABLE_SHARE, bytes_per_point, chunk_size
from gradlab.costs import as_cost
from gradlab.derivatives import check_pointwise, point_term, pointwise_fit
from gradlab.result import record

DEFAULT_MAX_POINTS = 2 * 10**9  # beyond this a grid takes too long to be a sensible tool
# Data points per iteration of a pointwise fit's scan: the chunk's running sums are
# read and written once per iteration, so eight points per pass make it about 2×
# faster (500² line grid: 13 ms → 6.6 ms; 20001-point sine: 180 → 107 ms), at the
# same compile time.
FIT_UNROLL = 8


@record
class GridResult:
    """The outcome of `grid_search`.

    Attributes:
      x: ``(d,)`` the best grid point (or the polished point, if polished); NaN
        when no grid point has a finite cost.
      fun: ``()`` the cost at ``x`` (NaN when none is finite).
      success: whether some grid point has a finite cost (NaN points never win).
      axes: one 1-D array per parameter: the grid's coordinates.
      values: the cost on the whole grid, shape ``(num_0, ..., num_{d-1})``
        (indexed ``values[i0, i1, ...]`` like ``np.meshgrid(..., indexing="ij")``),
        NaN where the cost is NaN; or None with ``keep_values=False``.
      nfev: cost evaluations (grid points, plus any polishing).
      grid_x, grid_fun: the best grid point and its cost, before polishing.
      polish: the polishing `Trajectory`, or None.
    """

    x: jax.Array
    fun: jax.Array
    success: jax.Array
    axes: tuple
    values: jax.Array | None
    nfev: int
    grid_x: jax.Array
    grid_fun: jax.Array
    polish: object = None

    @property
    def message(self) -> str:
        if bool(self.success):
            return "the grid's lowest finite value"
        return "no grid point has a finite cost: the cost is NaN or inf on the whole grid"


def _coordinates(flat_index, axes, shape):
    """Grid coordinates ``(B, d)`` of flat (row-major) indices ``(B,)``."""
    coords = []
    for axis, stride in zip(axes, _strides(shape)):
        coords.append(axis[(flat_index // stride) % axis.shape[0]])
    return jnp.stack(coords, axis=-1)


def _strides(shape):
    return [math.prod(shape[k + 1:]) for k in range(len(shape))]


def _fit_values(cost, points):
    """Values of a fitted cost at many points, accumulated over its data one point at a time.

    ``vmap(cost)`` reduces over the data inside each grid point, a short reduction
    along the fastest axis; walking the data in a scan with vectors over the grid
    points is about 5× faster on CPU for the same arithmetic.
    """
    term = point_term(cost)
    x, y = cost.data

    def add(total, xy):
        xi, yi = xy
        return total + jax.vmap(lambda p: term(p, xi, yi))(points), None

    total, _ = jax.lax.scan(add, jnp.zeros(points.shape[0], points.dtype), (x, y),
                            unroll=FIT_UNROLL)
    return total / y.size


def _evaluate_chunk(cost, axes, shape, total, start, batch, pointwise=False):
    index = start + jnp.arange(batch, dtype=start.dtype)
    points = _coordinates(index, axes, shape)
    values = _fit_values(cost, points) if pointwise else jax.vmap(cost)(points)
    return values, index < total  # the last chunk's padding runs past the grid


def _lowest(values, inside):
    """Index of the lowest value among ``inside`` ones; NaN never wins (inf if none finite)."""
    return jnp.argmin(jnp.where(inside & ~jnp.isnan(values), values, jnp.inf))


@_programs.keepable(lambda args, static: (0 if static["keep_values"] else None, 0, 0))
@functools.partial(jax.jit, static_argnames=("shape", "batch", "keep_values", "pointwise"))
def _grid(cost, axes, token, *, shape, batch, keep_values, pointwise):
    """Each block's values (None unless ``keep_values``), its best flat index and its
    value, split by rows (one block per device, for `_combine` once gathered);
    chunks done are reported to a `gradlab.progress` ``token``.

    Each device walks its own contiguous block of the flat (row-major) grid, in
    chunks of ``batch / devices`` points, and keeps its own best
    (`parallel.map_rows`: nothing is sent while it runs). The blocks' bests are
    compared once, at the end (`_combine`): the lowest value wins, NaN never, and
    among equal values the lowest flat index — what one device walking the whole
    grid in order keeps, so the answer does not depend on the number of devices.
    """
    total = math.prod(shape)
    devices = parallel.device_count()
    local = -(-batch // devices)  # each device's share of a chunk
    n_chunks = -(-total // (local * devices))  # chunks per device
    block = n_chunks * local  # flat indices per device
    index_dtype = jnp.int64 if block * devices >= 2**31 else jnp.int32
    report = lambda k, token: progress_.maybe_report(token, k + 1, n_chunks)

    def walk(_, shared):
        cost, axes, token = shared
        first = parallel.device_index().astype(index_dtype) * block
        starts = first + jnp.arange(n_chunks, dtype=index_dtype) * local
        evaluate = lambda k: _evaluate_chunk(cost, axes, shape, total, starts[k], local,
                                             pointwise)
        if keep_values:
            if n_chunks == 1:
                values, inside = evaluate(0)
                report(0, token)
            else:
                def chunk(k):
                    report(k, token)
                    return evaluate(k)

                values, inside = (a.reshape(-1) for a in jax.lax.map(
                    chunk, jnp.arange(n_chunks, dtype=jnp.int32)))
            i = _lowest(values, inside)
            return values, (first + i).astype(index_dtype)[None], values[i][None]

        def keep_best(carry, k):
            best_index, best_value = carry
            report(k, token)
            values, inside = evaluate(k)
            i = _lowest(values, inside)
            better = (values[i] < best_value) | jnp.isnan(best_value)  # the first of ties wins
            better = better & inside[i] & ~jnp.isnan(values[i])
            return (jnp.where(better, (starts[k] + i).astype(index_dtype), best_index),
                    jnp.where(better, values[i], best_value)), None

        init = (first, jnp.asarray(jnp.nan, axes[0].dtype))
        (best, value), _ = jax.lax.scan(keep_best, init, jnp.arange(n_chunks, dtype=jnp.int32))
        return None, best[None], value[None]

    return parallel.map_rows(walk, None, (cost, axes, token))


@_programs.keepable(lambda args, static: (0, 0, 0, None if args[0] is None else 0))
@functools.partial(jax.jit, static_argnames=("shape",))
def _combine(values, best, value, axes, *, shape):
    """`_grid`'s blocks made one grid: the best point (NaN if none is finite), its value,
    whether it is finite, and the table of values (None if not kept).

    Of the blocks' bests the lowest value wins (NaN as inf), and of equal values
    the lowest flat index.
    """
    key = jnp.where(jnp.isnan(value), jnp.inf, value)
    d = jnp.argmin(jnp.where(key == jnp.min(key), best, jnp.iinfo(best.dtype).max))
    point = _best_point(best[d], value[d], axes, shape)
    return (*point, None if values is None else values[:math.prod(shape)].reshape(shape))


def _best_point(best, value, axes, shape):
    """The best point and its value, both NaN when no value is finite (inside the jit:
    done eagerly, these few indexing ops cost milliseconds of dispatch per call)."""
    found = jnp.isfinite(value)
    x = jnp.where(found, _coordinates(best[None], axes, shape)[0], jnp.nan)
    return x, jnp.where(found, value, jnp.nan), found


def grid_shape(num, dim: int) -> tuple:
    """Points per axis from ``num`` (one int for all axes, or one per axis), each at least 2."""
    integer = lambda n: isinstance(n, int | np.integer) and not isinstance(n, bool)
    if integer(num):
        shape = (int(num),) * dim
    else:
        if isinstance(num, str) or not isinstance(num, Sequence | np.ndarray) or not all(
                integer(n) for n in num):
            raise TypeError(f"num must be an int or one int per parameter; got {short(num)}")
        shape = tuple(int(n) for n in num)
        if len(shape) != dim:
            raise ValueError(f"num must have one entry per parameter ({dim}); got {short(num)}")
    if min(shape) < 2:
        raise ValueError(f"num must be at least 2 on every axis; got {short(num)}")
    return shape


def grid_axes(bounds, shape, dtype) -> tuple:
    """One 1-D array of coordinates per parameter."""
    return tuple(_axis(lo, hi, n, dtype) for (lo, hi), n in zip(bounds, shape))


def grid_points(axes) -> jax.Array:
    """``(prod(shape), d)`` every grid point, in the ``values`` table's (row-major) order."""
    # on the host: copies only, and eagerly each operation was a program of its own
    host = [np.asarray(a) for a in axes]
    return jax.device_put(np.stack([g.ravel() for g in np.meshgrid(*host, indexing="ij")],
                                   axis=1))


@functools.lru_cache(maxsize=64)
def _axis(low: float, high: float, num: int, dtype) -> jax.Array:
    """numpy's linspace, so a numpy reference sees exactly the same points (cached on device)."""
    # rounded to ``dtype`` on the host, as XLA would (to nearest): no program to run
    return jax.device_put(np.linspace(low, high, num).astype(jnp.dtype(dtype)))


def grid_search(cost, num=100, *, bounds=None, keep_values: bool = True,
                batch_size: int | None = None, chunked: bool = True,
                memory_budget: int | None = None, max_points: int = DEFAULT_MAX_POINTS,
                polish: bool = False, polish_steps: int = 200, progress=None) -> GridResult:
    """Evaluate ``cost`` on every point of a regular grid over its bounds; keep the best.

    Args:
      cost: a `Cost`, a registered name, or a callable (with ``bounds``).
      num: points per axis (at least 2): one int for all axes, or one per axis.
      bounds: override the cost's bounds.
      keep_values: keep the full table of values (for heat maps); turn off for huge grids.
      batch_size: grid points per compiled chunk; by default an eighth of the memory
        budget's worth.
      chunked: with False, evaluate the whole grid at once (refused if it would not
        fit in the memory budget).
      memory_budget: bytes this call may use (default: `gl.memory_budget()`, 2 GiB);
        a kept table of values may take half of it.
      max_points: refuse grids larger than this (a 50-parameter grid is never sensible).
      polish: refine the best cell by projected L-BFGS, staying inside the bounds
        (unlike scipy's ``brute(finish=...)``); kept only if it improves the value.
      polish_steps: the most polishing steps.
      progress: optional ``progress(done, total)`` with the chunks done
        (`gradlab.progress`); off by default.

    Returns:
      A `GridResult`.

    Example:
      >>> import gradlab as gl
      >>> result = gl.grid_search("himmelblau", num=[50, 60], keep_values=False)
      >>> result.values is None, result.nfev
      (True, 3000)
    """
    cost = as_cost(cost, bounds, need_bounds=True, what="a grid search")
    progress_.check(progress)
    for flag, name in ((keep_values, "keep_values"), (chunked, "chunked"), (polish, "polish")):
        if not isinstance(flag, bool | np.bool_):
            raise TypeError(f"{name} must be True or False; got {short(flag)}")
    box = check_bounds(cost.bounds)
    dim = len(box)
    shape = grid_shape(num, dim)
    total = math.prod(shape)
    if total > max_points:
        raise ValueError(
            f"a grid of {' x '.join(map(str, shape))} = {total:.3g} points over {dim} parameters "
            f"is over max_points={max_points:.3g}: a grid grows as num**d. Use "
            "gl.descend or gl.multistart for this many parameters, or a coarser num."
        )
    budget = (memory_budget_() if memory_budget is None
              else check_positive(memory_budget, "memory_budget", integer=True))
    dtype = jnp.result_type(float)
    itemsize = jnp.dtype(dtype).itemsize  # (a Cost with bounds checked its output when built)
    if keep_values and total * itemsize > budget * TABLE_SHARE:
        raise ValueError(
            f"keeping the table of {total:.3g} values needs {human_bytes(total * itemsize)}, "
            f"over half the memory budget ({human_bytes(budget)}): pass keep_values=False "
            "(the best point is still found) or raise the budget (gl.set_memory_budget)"
        )
    if batch_size is not None:
        batch_size = check_positive(batch_size, "batch_size", integer=True)
    if not chunked:  # judged on the generic path's memory, before anything is traced
        per_point = bytes_per_point(cost, dim, dtype, pointwise=False)
        if total * per_point > budget:
            raise ValueError(
                f"without chunking the grid's {total:.3g} points need about "
                f"{human_bytes(total * per_point)}, over the memory budget "
                f"({human_bytes(budget)}): leave chunked=True or raise the budget"
            )
    pointwise = pointwise_fit(cost)
    if pointwise:
        check_pointwise(cost, dim, dtype)
    axes = grid_axes(box, shape, dtype)
    if not chunked:
        batch = total
    elif batch_size is None:
        batch = chunk_size(cost, axes, shape, budget, program=_grid, keep_values=keep_values,
                           pointwise=pointwise, progress=progress is not None)
    else:
        batch = min(total, batch_size)
    batch = parallel.round_up_to_devices(batch) if batch < total else batch

    parallel.check_same_on_all_processes("grid_search", cost=cost.name, data=cost.data, axes=axes,
                                         chunks=(batch, keep_values, pointwise))
    with progress_.reporting(progress) as token:
        blocks = parallel.gather(_grid(cost.objective, axes, token, shape=shape, batch=batch,
                                       keep_values=keep_values, pointwise=pointwise))
        blocks = blocks if token is None else jax.block_until_ready(blocks)
    grid_x, value, found, values = _combine(*blocks, axes, shape=shape)
    result = GridResult(x=grid_x, fun=value, success=found, axes=axes, values=values,
                        nfev=total, grid_x=grid_x, grid_fun=value)
    if polish and bool(found):
        return _polish(cost, result, box, polish_steps)
    return result


def _polish(cost, result: GridResult, box, steps: int) -> GridResult:
    from gradlab.descent import descend  # lazy: descent is not needed otherwise

    traj = descend(cost, result.grid_x, optimizer=_POLISHER, steps=steps, bounds=box)
    improved = bool(jnp.isfinite(traj.fun) & (traj.fun < result.grid_fun))
    return GridResult(x=traj.x if improved else result.grid_x,
                      fun=traj.fun if improved else result.grid_fun, success=result.success,
                      axes=result.axes,
                      values=result.values, nfev=result.nfev + int(traj.nfev),
                      grid_x=result.grid_x, grid_fun=result.grid_fun, polish=traj)


_POLISHER = optax.lbfgs()  # one instance, so polishing compiles once per cost shape


@record
class GradientField:
    """Gradients of a cost on a regular grid, and at chosen points (for arrows).

    Attributes:
      axes: one 1-D array per parameter.
      gradients: grid-shaped gradients, ``(num_0, ..., num_{d-1}, d)``.
      points: ``(k, d)`` extra points, or an empty ``(0, d)`` array.
      point_gradients: ``(k, d)`` the gradient at each extra point.
    """

    axes: tuple
    gradients: jax.Array
    points: jax.Array
    point_gradients: jax.Array


@_programs.keepable(lambda args, static: 0)
@jax.jit
def _grads_at(cost, points):
    return jax.vmap(jax.grad(cost))(points)


def gradient_field(cost, num=20, *, points=None, bounds=None) -> GradientField:
    """``jax.grad`` of ``cost`` on a ``num``-per-axis grid (and at ``points``), for quiver plots.

    Example:
      >>> import gradlab as gl
      >>> field = gl.gradient_field("bowl", num=5, points=[[-1.0, -2.0]])
      >>> [float(g) for g in field.point_gradients[0]]
      [-6.0, 2.0]
    """
    cost = as_cost(cost, bounds, need_bounds=True, what="a gradient field")
    dim = cost.dim
    shape = grid_shape(num, dim)
    dtype = jnp.result_type(float)
    total = math.prod(shape)
    # every point's gradient at once: the field itself and each point's intermediates
    per_point = bytes_per_point(cost, dim, dtype, pointwise=False, grad=True)
    check_memory(float(total) * (per_point + 2 * dim * jnp.dtype(dtype).itemsize),
                 f"a gradient field of {' x '.join(map(str, shape))} points over {dim} "
                 "parameters", "a coarser grid (num=), or gl.gradient_field(cost, points=...) "
                 "at chosen points")
    axes = grid_axes(cost.bounds, shape, dtype)
    mesh = grid_points(axes)
    extra = (jnp.zeros((0, dim), dtype) if points is None
             else check_points(points, "points", dim, batch=True))
    # joined and split on the host (copies): eagerly on device, a program each
    grads = np.asarray(_grads_at(cost.objective, np.concatenate(
        [np.asarray(mesh), np.asarray(extra).astype(dtype)])))
    return GradientField(axes=axes,
                         gradients=jax.device_put(grads[: len(mesh)].reshape(*shape, dim)),
                         points=extra, point_gradients=jax.device_put(grads[len(mesh):]))
