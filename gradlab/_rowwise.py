"""A cost's matrix products as products and sums of elements, so a batch's runs share their code.

gradlab promises that a run of a batch (`gradlab.multistart`, `basin_map`,
`sweep_learning_rates`) ends with the same bits as the same run alone. A cost
with a matrix product broke it: under ``vmap`` the product ``p @ A`` of each
run with one shared matrix becomes one product of the batch's ``(runs, k)``
rows with ``A``, and XLA:CPU computes it with a kernel it picks by the number
of rows, whose rows also round differently by their place in it (float32,
``k = n = 5``: batches of 2 against 3 or more, and the last two rows of a
batch of 8 or 32). A run of ``0.1·pᵀAp + 0.05·Σp⁴`` ended 3.6e-8 away from
itself alone after 100 L-BFGS steps (float64); the same cost written with
elementwise products and sums matched at every batch size.

`rowwise` evaluates a function's jaxpr with each floating-point ``dot_general``
whose contraction is at most `MAX_CONTRACTION` long replaced by a broadcast
product and a sum over the contracted axes. Every output element is then one
loop over its contraction, the same for every row: XLA:CPU compiles it
element by element (with LLVM's vectorisers off in a batch program,
`gradlab._compile`). ``jax.jit`` calls inside the function are evaluated in
place, the same way, and ``jax.checkpoint`` regions are rewritten and kept as
checkpoints; products inside other higher-order primitives (``scan``,
``while_loop``, ``cond``, a ``custom_jvp`` or ``custom_vjp`` function, whose
own derivative rules must stay) are left as they are. Longer contractions
keep XLA's kernels: a batch of them may differ in its last bits by the
batch's size (the README says so).

The values are those of the same products added in another order: equal to
roundoff, not bit for bit, to the cost compiled as written.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Callable

import jax
import jax.numpy as jnp

from gradlab._onepass import bind_equation, environment, read_var
from gradlab.costs import Objective
from gradlab.models import PER_ELEMENT, FitObjective

# The longest contraction written out as a loop: each output element costs that many
# multiply-adds in scalar code, where XLA's kernels run them vectorised. Measured on
# 200 L-BFGS starts of a quadratic (`python -m benchmarks.rowwise`, 2026-12-01): 16
# parameters ran 1.06x as long written out, 32 1.25-1.33x, 64 1.85x.
MAX_CONTRACTION = 32


def objective(obj: Objective) -> Objective:
    """``obj`` with its function (a fit's model) and analytic gradient made `rowwise`."""
    fn = obj.fn
    if isinstance(fn, FitObjective):  # its declared structure stays: the model and a loss
        # of your own change (gradlab's losses have no products, and are known by identity)
        loss = fn.loss if fn.loss in PER_ELEMENT else rowwise(fn.loss)
        fn = dataclasses.replace(fn, model=rowwise(fn.model), loss=loss)
    else:
        fn = rowwise(fn)
    return Objective(fn, rowwise(obj.grad), obj.data)


def rowwise(fn):
    """``fn`` (same arguments, same values to roundoff) with its short matrix products as
    elementwise products and sums (module docstring); None for None."""
    return None if fn is None else Rowwise(fn)


@dataclasses.dataclass(frozen=True)
class Rowwise:
    """``fn`` evaluated through its jaxpr with its short products written out.

    A record equal to another of the same ``fn``: a fit objective holding it compares
    equal from one trace to the next, and `gradlab._static` keys it by ``fn`` (so
    caches keyed on a model still hit), without keeping ``fn`` alive in a cache.
    """

    fn: Callable

    @property
    def __name__(self) -> str:  # a model's name, for its error messages
        return getattr(self.fn, "__name__", type(self.fn).__name__)

    def __call__(self, *args):
        closed, shape = jax.make_jaxpr(self.fn, return_shape=True)(*args)
        out = _evaluate(closed.jaxpr, closed.consts, jax.tree.leaves(args))
        return jax.tree.unflatten(jax.tree.structure(shape), out)


def _evaluate(jaxpr, consts, args):
    """``jax.core.eval_jaxpr``, with short floating-point products written out."""
    from jax.extend.core import primitives

    env = environment(jaxpr, consts, args)
    read = functools.partial(read_var, env)
    for eqn in jaxpr.eqns:
        values = [read(v) for v in eqn.invars]
        if eqn.primitive is primitives.dot_general_p and _short(eqn):
            # a literal operand (jnp.dot(p, 0.5)) is a Python scalar: an array of its type
            operands = [jnp.asarray(a, v.aval.dtype) for a, v in zip(values, eqn.invars)]
            outs = [_products_and_sums(*operands, **eqn.params)]
        elif eqn.primitive is primitives.jit_p:
            inner = eqn.params["jaxpr"]
            outs = _evaluate(inner.jaxpr, inner.consts, values)
        elif eqn.primitive is primitives.remat_p:  # jax.checkpoint: kept, around the rewrite
            inner = eqn.params["jaxpr"]
            outs = jax.checkpoint(lambda *a, inner=inner: _evaluate(inner, [], a),
                                  prevent_cse=eqn.params["prevent_cse"],
                                  policy=eqn.params["policy"])(*values)
        else:
            outs = bind_equation(eqn, values)
        for v, value in zip(eqn.outvars, outs, strict=True):
            env[v] = value
    return [read(v) for v in jaxpr.outvars]


def _short(eqn) -> bool:
    lhs, rhs = (v.aval for v in eqn.invars)
    (contracting, _), _ = eqn.params["dimension_numbers"]
    out = eqn.outvars[0].aval
    floating = all(jnp.issubdtype(a.dtype, jnp.inexact) for a in (lhs, rhs, out))
    return floating and math.prod(lhs.shape[a] for a in contracting) <= MAX_CONTRACTION


def _products_and_sums(lhs, rhs, *, dimension_numbers, preferred_element_type=None, **_):
    """``lax.dot_general(lhs, rhs, dimension_numbers)`` as a broadcast product and a sum:
    the batch axes, then ``lhs``'s free axes, then ``rhs``'s, as ``dot_general`` orders them."""
    (lc, rc), (lb, rb) = dimension_numbers
    lf = [a for a in range(lhs.ndim) if a not in lc and a not in lb]
    rf = [a for a in range(rhs.ndim) if a not in rc and a not in rb]
    dtype = preferred_element_type or jnp.result_type(lhs, rhs)
    left = jnp.transpose(lhs, [*lb, *lf, *lc]).astype(dtype)
    right = jnp.transpose(rhs, [*rb, *rf, *rc]).astype(dtype)
    nb, nl, nr, nc = len(lb), len(lf), len(rf), len(lc)
    # (batch, lhs free, 1 × rhs free, contracted) times (batch, 1 × lhs free, rhs free, contracted)
    left = left.reshape(left.shape[:nb + nl] + (1,) * nr + left.shape[nb + nl:])
    right = right.reshape(right.shape[:nb] + (1,) * nl + right.shape[nb:])
    product = left * right
    return jnp.sum(product, axis=tuple(range(product.ndim - nc, product.ndim)))
