"""How many grid points a chunk of `gradlab.grid_search` holds, read from a memory budget.

The chunk size comes from a memory budget unless given: a bound read from the
cost's jaxpr (every intermediate counted as kept) says how many points a chunk
may hold, and where that asks for several chunks, XLA's memory analysis of the
whole grid compiled as one chunk decides whether one is enough (it fuses most
of what the bound counts, and one chunk runs faster than several). The bound
also sizes `gradlab.gradient_field`, which takes every point's gradient at once.
"""

from __future__ import annotations

import functools
import math

import jax
import jax.extend.core
import jax.numpy as jnp
import numpy as np

from gradlab import parallel

# Shares of the memory budget (gl.memory_budget(), 2 GiB by default): one chunk's
# intermediates, and a kept table of values.
CHUNK_SHARE, TABLE_SHARE = 1 / 8, 1 / 2


def _even_chunks(total: int, most: int) -> int:
    """The chunk size that covers ``total`` points in as few chunks of at most ``most``
    as possible, split evenly: the last chunk's padding is what it costs (500² points
    in chunks of 2¹⁶ evaluated 12,144 padded points and ran 1.25× slower than in
    four chunks of 62,500)."""
    chunks = -(-total // most)
    return -(-total // chunks)


def chunk_size(cost, axes, shape, budget: int, *, program, keep_values: bool, pointwise: bool,
               progress: bool) -> int:
    """Grid points per chunk: as many as one chunk's working memory allows, in
    `CHUNK_SHARE` of the budget (a kept table of values has its own share). ``program``
    is the compiled grid (`gradlab.grid`'s), whose memory XLA analyses.

    First the bound (`bytes_per_point`), read from the cost's program before
    anything is compiled: it counts every value one evaluation computes as if all
    were kept, so no chunk holds more than it says. Where it asks for more than one
    chunk, XLA has the last word: its memory analysis of the whole grid compiled as
    one chunk (the very program that then runs, so nothing is compiled twice). XLA
    fuses most of what the bound counts (the course's line as a plain function:
    3,264 bytes a point by the bound, 24 by XLA), and one chunk runs faster than
    several (500² points of that line, CPU time against a bare ``jit(vmap)``: 4
    chunks 1.17×, one 1.02×; README). A grid whose one chunk does not fit keeps the
    bound's chunks; without a table, one whose values alone exceed the share is
    not even compiled whole, nor a grid whose progress is reported (chunk by chunk:
    one chunk would be one report, at the end). Chunks are not made smaller to fit
    a core's cache: that halves the plain line's time but slows elementwise costs
    and the pointwise fit (the userpaths benchmark).
    """
    total = math.prod(shape)
    dtype = axes[0].dtype
    share = budget * CHUNK_SHARE
    per_point = bytes_per_point(cost, len(shape), dtype, pointwise)
    batch = _even_chunks(total, max(1, int(share // per_point)))
    itemsize = jnp.dtype(dtype).itemsize
    if batch == total or progress or (not keep_values and total * itemsize > share):
        return batch  # (without a table, one chunk holds all its values: no need to ask)
    used = _one_chunk_bytes(program, cost.objective, axes, shape, keep_values=keep_values,
                            pointwise=pointwise)
    table = -(-total // parallel.device_count()) * itemsize if keep_values else 0
    return total if used is not None and used - table <= share else batch


def _one_chunk_bytes(program, objective, axes, shape, **static) -> int | None:
    """Bytes XLA allocates for the whole grid in one chunk (its temporaries and outputs,
    per device), or None where the backend does not say."""
    struct = lambda v: jax.ShapeDtypeStruct(np.shape(v), jnp.result_type(v))
    leaves, tree = jax.tree.flatten(objective)
    return _compiled_bytes(program, tree, tuple(map(struct, leaves)), tuple(map(struct, axes)),
                           shape, tuple(sorted(static.items())))


@functools.lru_cache(maxsize=64)  # keyed on what the program depends on: shapes, not values
def _compiled_bytes(program, tree, leaves, axes, shape, static) -> int | None:
    # lowered from shapes alone, the program is jit's own: the call after reuses it
    compiled = program.lower(jax.tree.unflatten(tree, leaves), axes, None, shape=shape,
                             batch=math.prod(shape), **dict(static)).compile()
    try:
        used = compiled.memory_analysis()
    except (NotImplementedError, jax.errors.JaxRuntimeError):  # no analysis: the bound decides
        return None
    if used is None:
        return None
    return int(used.temp_size_in_bytes + used.output_size_in_bytes)


def bytes_per_point(cost, dim: int, dtype, pointwise: bool, *, grad: bool = False) -> int:
    """An upper bound on one grid point's intermediates under ``vmap``: every value one
    evaluation of the cost (of its gradient, with ``grad``) computes, all alive at once.

    Read from the cost's own program (its jaxpr), not guessed from its data: the data
    are read by every point, not copied, and XLA fuses most of what is counted here,
    so chunks this size stay well inside their share of the budget. A pointwise fit
    (`gradlab.grid`'s scan over the data) holds one data point's terms at a time.
    """
    itemsize = jnp.dtype(dtype).itemsize
    if pointwise:
        return itemsize * (4 * dim + 16)
    objective = cost.objective
    leaves, tree = jax.tree.flatten(objective)
    shapes = tuple(jax.ShapeDtypeStruct(np.shape(v), jnp.result_type(v)) for v in leaves)
    return itemsize * dim + _intermediate_bytes(tree, shapes, dim, jnp.dtype(dtype).name, grad)


@functools.lru_cache(maxsize=64)  # keyed on the cost's functions and data shapes, not values
def _intermediate_bytes(tree, shapes, dim: int, dtype: str, grad: bool) -> int:
    def value(x, leaves):
        return jax.tree.unflatten(tree, leaves)(x)

    program = jax.make_jaxpr(jax.grad(value) if grad else value)(
        jax.ShapeDtypeStruct((dim,), dtype), list(shapes))
    return _values_bytes(program.jaxpr)


def _values_bytes(jaxpr) -> int:
    """Bytes of every value a jaxpr computes, its inner programs' (a loop's body: once) included."""
    total = sum(v.aval.size * v.aval.dtype.itemsize for eqn in jaxpr.eqns for v in eqn.outvars
                if hasattr(v.aval, "dtype"))
    return total + sum(_values_bytes(inner) for inner in jax.extend.core.subjaxprs(jaxpr))
