"""A cost's value and gradient with their sums over the data taken in one pass.

``jax.value_and_grad`` of a cost written as a plain function, such as
``lambda p: jnp.mean((p[0] * x + p[1] - y) ** 2)``, sums over the data once
for the value and once per gradient component. XLA:CPU runs each sum as a
loop of its own (a fused kernel that recomputes the residual, then a tree of
partial sums), so a descent step of the course's line ran three passes over
the data and about twice as many kernels as a step of its `fit_cost`, whose
declared structure `gradlab.derivatives` sums in one variadic reduction. A
1000-step descent of the line took 1.20–1.61× a bare ``lax.scan``, its
`fit_cost` 0.90–1.01×; with the sums merged here, 0.86–0.99× (interleaved,
2026-11-30, load 7–8; the README gives `gradlab bench --only userpaths`).

`value_and_grad` gives any cost that one pass, without being told its
structure: it traces ``jax.value_and_grad(fn)`` to a jaxpr and evaluates it
with the ``reduce_sum`` equations that have operands of the same shape, sum
over the same axes and do not depend on one another merged into one variadic
reduction. Which sums may merge is decided by their depth (how many sums lie
on the longest path before them): two sums at the same depth cannot depend on
each other, and merging them cannot create a cycle, since every path through a
merged sum leads to a deeper one.

A merged sum is taken in one run while its rounding bound n·eps stays below
`ONE_RUN_ROUNDING` (1,024 float32 terms). A variadic reduction adds element
after element, and in float32 lost 1% of a sum of 10⁶ terms, so longer sums
are taken as XLA takes them: in blocks
of `BLOCK` elements, then the blocks' sums in blocks, and so on
(`tree_sums`). The values agree with ``jax.value_and_grad`` to roundoff (the
terms are added in another order).

Equations inside nested calls (a ``jax.jit`` in the cost) are left as they are.
"""

from __future__ import annotations

import functools
import heapq
from collections.abc import Callable

import jax
import jax.numpy as jnp

# Elements summed in one run before a partial sum is kept: XLA:CPU's own block for
# long sums (its tree reduction), so merged sums are as accurate as separate ones.
BLOCK = 32
# A sum taken in one run is within n·eps of exact (relative to the sum of its terms'
# sizes); runs are kept within this bound: 1,024 float32 terms, 2³⁹ float64 ones. A
# second level of partial sums is a kernel more per evaluation, ~15% of a step of the
# course's 100-point line, so the shortest sums are never split.
ONE_RUN_ROUNDING = 2.0**-13


def one_run_max(dtype) -> int:
    """How many terms of ``dtype`` are added in one run (at least `BLOCK`)."""
    return max(BLOCK, int(ONE_RUN_ROUNDING / float(jnp.finfo(dtype).eps)))


def value_and_grad(fn: Callable, x):
    """``(fn(x), ∇fn(x))``, with sibling sums over the data merged (module docstring)."""
    closed = jax.make_jaxpr(jax.value_and_grad(fn))(x)
    return tuple(_evaluate(closed.jaxpr, closed.consts, [x]))


def _sum_groups(eqns) -> dict[int, int]:
    """``{equation index: group}`` for the ``reduce_sum`` equations that merge.

    A group holds sums of one depth, operand shape, dtype and axes; groups of one are
    left out, and so is every sum of a program with side effects (a callback).
    """
    if any(eqn.effects for eqn in eqns):  # a callback's place in the order is kept
        return {}
    level = {}  # var -> how many sums lie on the longest path up to it
    keyed: dict[tuple, list[int]] = {}
    for i, eqn in enumerate(eqns):
        depth = max((level.get(v, 0) for v in eqn.invars if not _is_literal(v)), default=0)
        if eqn.primitive.name == "reduce_sum" and eqn.invars[0].aval.ndim > 0:
            operand = eqn.invars[0].aval
            key = (depth, operand.shape, operand.dtype, tuple(eqn.params["axes"]))
            keyed.setdefault(key, []).append(i)
            depth += 1
        for v in eqn.outvars:
            level[v] = depth
    groups = [members for members in keyed.values() if len(members) > 1]
    return {i: g for g, members in enumerate(groups) for i in members}


def _schedule(eqns, groups: dict[int, int]) -> list[list[int]]:
    """The equations in an order that computes every merged group at once.

    Each item is a list of equation indices: one equation, or a whole group.
    Kahn's topological sort over those items, earliest equation first.
    """
    item_of = {}  # equation index -> item key
    members: dict[object, list[int]] = {}
    for i in range(len(eqns)):
        key = ("group", groups[i]) if i in groups else i
        item_of[i] = key
        members.setdefault(key, []).append(i)
    producer = {v: item_of[i] for i, eqn in enumerate(eqns) for v in eqn.outvars}
    needs = {key: {producer[v] for i in idx for v in eqns[i].invars
                   if not _is_literal(v) and v in producer} - {key}
             for key, idx in members.items()}
    users: dict[object, list] = {key: [] for key in members}
    for key, deps in needs.items():
        for dep in deps:
            users[dep].append(key)
    waiting = {key: len(deps) for key, deps in needs.items()}
    ready = [(members[key][0], key) for key, count in waiting.items() if count == 0]
    heapq.heapify(ready)
    order = []
    while ready:
        _, key = heapq.heappop(ready)
        order.append(members[key])
        for user in users[key]:
            waiting[user] -= 1
            if waiting[user] == 0:
                heapq.heappush(ready, (members[user][0], user))
    if len(order) != len(members):  # cannot happen (module docstring); never run out of order
        raise AssertionError("merged sums would form a cycle")
    return order


def _evaluate(jaxpr, consts, args):
    """``jax.core.eval_jaxpr``, with each merged group of sums taken in one reduction."""
    env = environment(jaxpr, consts, args)
    read = functools.partial(read_var, env)
    eqns = jaxpr.eqns
    for item in _schedule(eqns, _sum_groups(eqns)):
        if len(item) > 1:
            sums = tree_sums([read(eqns[i].invars[0]) for i in item],
                             tuple(eqns[item[0]].params["axes"]))
            outs = [[s] for s in sums]
        else:
            eqn = eqns[item[0]]
            outs = [bind_equation(eqn, [read(v) for v in eqn.invars])]
        for i, values in zip(item, outs, strict=True):
            for v, value in zip(eqns[i].outvars, values, strict=True):
                env[v] = value
    return [read(v) for v in jaxpr.outvars]


def environment(jaxpr, consts, args) -> dict:
    """``{variable: value}`` for a jaxpr's constants and inputs."""
    env = dict(zip(jaxpr.constvars, consts, strict=True))
    env.update(zip(jaxpr.invars, args, strict=True))
    return env


def read_var(env: dict, v):
    """A jaxpr variable's value in ``env``, or a literal's own."""
    return v.val if _is_literal(v) else env[v]


def bind_equation(eqn, values) -> list:
    """One equation applied to ``values``, as ``jax.core.eval_jaxpr`` binds it: its outputs."""
    with eqn.ctx.manager:
        out = eqn.primitive.bind(*values, **_bind_params(eqn.primitive, eqn.params))
    return out if eqn.primitive.multiple_results else [out]


def _bind_params(primitive, params) -> dict:
    bound = primitive.get_bind_params(params)
    if isinstance(bound, tuple):  # JAX before 0.7: (subfuns, params)
        subfuns, bound = bound
        if subfuns:
            raise NotImplementedError("a call primitive from an older JAX")
    return bound


def _is_literal(v) -> bool:
    # imported here, when a program is traced: importing jax.extend imports Pallas, 0.07-0.09 s
    # that a command loading its programs whole does not need
    from jax.extend.core import Literal

    return isinstance(v, Literal)


def _add(a, b):
    return tuple(u + v for u, v in zip(a, b, strict=True))


def tree_sums(operands, axes: tuple) -> tuple:
    """The sums of same-shaped ``operands`` over ``axes``, in one variadic reduction per level.

    Up to `one_run_max` terms are added in one run. Longer sums are taken in levels:
    each adds runs of `BLOCK` elements (the last padded with zeros), until at most
    `BLOCK` partial sums are left: as accurate as XLA's own long sums.
    """
    kept = [a for a in range(operands[0].ndim) if a not in axes]
    shape = tuple(operands[0].shape[a] for a in kept)
    # the summed axes last, as one
    flat = [jnp.transpose(o, kept + list(axes)).reshape(*shape, -1) for o in operands]
    zeros = tuple(jnp.zeros((), o.dtype) for o in operands)
    if flat[0].shape[-1] > one_run_max(flat[0].dtype):
        while flat[0].shape[-1] > BLOCK:
            flat = _block_sums(flat, zeros)
    return jax.lax.reduce(tuple(flat), zeros, _add, (len(shape),))


def _block_sums(flat, zeros) -> list:
    """One level of partial sums over the last axis: runs of `BLOCK` elements."""
    n = flat[0].shape[-1]
    runs = -(-n // BLOCK)
    kept = flat[0].shape[:-1]
    pad = [(0, 0, 0)] * len(kept) + [(0, runs * BLOCK - n, 0)]
    # partial sum r adds elements r, r + runs, r + 2·runs, ...: the loop runs along
    # contiguous rows
    blocks = [jax.lax.pad(o, z, pad).reshape(*kept, BLOCK, runs)
              for o, z in zip(flat, zeros, strict=True)]
    return list(jax.lax.reduce(tuple(blocks), zeros, _add, (len(kept),)))
