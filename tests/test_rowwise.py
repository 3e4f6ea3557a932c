"""A cost's short matrix products written out (`gradlab._rowwise`): the same values, no
``dot_general`` left for XLA to pick a kernel for by the batch's size, and what must stay
(long contractions, integer products, a function's own derivative rule) stays.

That a run then ends with the same bits in any batch is `tests/test_multistart.py`'s.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax import lax
from jax.extend.core import jaxprs_in_params

import gradlab as gl
from gradlab import _rowwise, _static
from gradlab.models import FitObjective

# (lhs shape, rhs shape, ((lhs contracting, rhs contracting), (lhs batch, rhs batch)))
PRODUCTS = {
    "vector·vector": ((4,), (4,), (([0], [0]), ([], []))),
    "matrix·vector": ((6, 4), (4,), (([1], [0]), ([], []))),
    "vector·matrix": ((4,), (4, 5), (([0], [0]), ([], []))),
    "matrix·matrix": ((3, 4), (4, 5), (([1], [0]), ([], []))),
    "contract the leading axes": ((4, 3), (4, 5), (([0], [0]), ([], []))),
    "batched": ((2, 3, 4), (2, 4, 5), (([2], [1]), ([0], [0]))),
    "batch axes elsewhere": ((2, 3, 4), (5, 4, 2), (([2], [1]), ([0], [2]))),
    "two contracted axes": ((3, 4, 6), (6, 4, 7), (([1, 2], [1, 0]), ([], []))),
    "batch and free axes mixed": ((2, 6, 3), (6, 2), (([1], [0]), ([0], [1]))),
    "outer product": ((5,), (7,), (([], []), ([], []))),
}


@pytest.mark.parametrize("case", PRODUCTS)
def test_a_product_written_out_is_the_product(width, case):
    lhs_shape, rhs_shape, numbers = PRODUCTS[case]
    rng = np.random.default_rng(0)
    lhs, rhs = (jnp.asarray(rng.normal(size=s), width.dtype) for s in (lhs_shape, rhs_shape))
    expected = lax.dot_general(lhs, rhs, numbers)
    got = _rowwise._products_and_sums(lhs, rhs, dimension_numbers=numbers)
    assert got.shape == expected.shape and got.dtype == expected.dtype
    # the same terms added in another order: within length·eps of the sum of their sizes
    length = max(1, int(np.prod([lhs_shape[a] for a in numbers[0][0]])))
    sizes = lax.dot_general(jnp.abs(lhs), jnp.abs(rhs), numbers)
    assert np.all(np.abs(got - expected) <= 2 * length * width.eps * sizes)


def _primitives(fn, *args):
    """The primitives of ``fn``'s jaxpr, nested jaxprs included."""
    seen = []

    def walk(jaxpr):
        for eqn in jaxpr.eqns:
            seen.append(eqn)
            for sub in jaxprs_in_params(eqn.params):
                walk(sub)

    walk(jax.make_jaxpr(fn)(*args).jaxpr)
    return seen


def _dots(fn, *args):
    return [e for e in _primitives(fn, *args) if e.primitive.name == "dot_general"]


A = np.random.default_rng(1).normal(size=(4, 4))


def _cost(p):
    a = jnp.asarray(A, p.dtype)
    inner = jax.jit(lambda q: q @ a)  # a product inside the cost's own jit
    return p @ a @ p + jnp.sum(inner(p) ** 2) + jnp.linalg.norm(a @ p)


def test_the_short_products_are_gone_and_the_values_stay(width):
    p = jnp.asarray([0.3, -1.2, 0.7, 2.0], width.dtype)
    wrapped = _rowwise.rowwise(_cost)
    assert _dots(jax.vmap(jax.value_and_grad(_cost)), p[None]) != []
    assert _dots(jax.vmap(jax.value_and_grad(wrapped)), p[None]) == []  # under vmap, in grads
    value, grad = jax.value_and_grad(_cost)(p)
    value_w, grad_w = jax.value_and_grad(wrapped)(p)
    np.testing.assert_allclose(value_w, value, rtol=64 * width.eps)
    np.testing.assert_allclose(grad_w, grad, rtol=64 * width.eps, atol=64 * width.eps)
    # equal wrappers of one function, keyed alike (caches keyed on the function still hit)
    assert _rowwise.rowwise(_cost) == wrapped
    assert _static.Keyed(_rowwise.rowwise(_cost)) == _static.Keyed(wrapped)


def test_long_and_integer_products_and_a_function_s_own_derivative_are_kept(x64):
    n = _rowwise.MAX_CONTRACTION + 1
    long = jnp.asarray(np.random.default_rng(2).normal(size=(n, n)))

    @jax.custom_jvp
    def doubled(q):  # its own derivative rule, deliberately not its function's
        return q @ jnp.asarray(A)

    doubled.defjvp(lambda primals, tangents: (doubled(primals[0]), 2.0 * tangents[0]))

    def cost(p):
        counts = jnp.arange(3) @ jnp.arange(3).reshape(3, 1)  # an integer product
        return jnp.sum(p @ long) + jnp.sum(doubled(p[:4])) + counts[0]

    wrapped = _rowwise.rowwise(cost)
    p = jnp.linspace(-1.0, 1.0, n)
    kept = [e.invars[0].aval.shape for e in _dots(wrapped, p)]
    assert sorted(kept) == [(3,), (4,), (n,)]  # integer, custom_jvp's, long: kept
    assert _dots(_rowwise.rowwise(lambda p: p[:4] @ jnp.asarray(A) @ p[:4]), p) == []
    np.testing.assert_array_equal(jax.grad(wrapped)(p)[:4], jax.grad(cost)(p)[:4])
    assert float(jax.grad(wrapped)(p)[0]) == pytest.approx(float(jnp.sum(long[0])) + 2.0)


def test_scalar_operands_and_checkpoints_are_written_out_too(width):
    p = jnp.asarray([0.3, -1.2, 0.7, 2.0], width.dtype)
    a = jnp.asarray(A, width.dtype)
    remat = jax.checkpoint(lambda q: jnp.sum((a @ q) ** 2),
                           policy=jax.checkpoint_policies.nothing_saveable)

    def cost(p):  # a Python scalar as an operand is a literal in the jaxpr
        return jnp.sum(jnp.dot(p, 0.5) ** 2) + jnp.sum(jnp.tensordot(p, 2.0, axes=0)) + remat(p)

    wrapped = _rowwise.rowwise(cost)
    assert _dots(cost, p) != [] and _dots(jax.grad(wrapped), p) == []
    kept = [e for e in _primitives(wrapped, p) if e.primitive.name == "remat2"]  # jax.checkpoint
    assert len(kept) == 1 and kept[0].params["policy"] is jax.checkpoint_policies.nothing_saveable
    np.testing.assert_allclose(jax.grad(wrapped)(p), jax.grad(cost)(p), rtol=64 * width.eps)


def test_a_fit_keeps_its_declared_structure():
    x = np.random.default_rng(3).uniform(-1.0, 1.0, (30, 3))
    cost = gl.fit_cost(lambda p, x: x @ p[:3] + p[3], (x, x @ np.array([1.0, -2.0, 0.5]) + 0.3))
    objective = _rowwise.objective(cost.objective)
    assert isinstance(objective.fn, FitObjective)
    assert (objective.fn.loss, objective.fn.pointwise) == (cost.fn.loss, cost.fn.pointwise)
    assert objective.fn == _rowwise.objective(cost.objective).fn  # equal: compiled code is reused
    p = jnp.asarray([0.9, -1.8, 0.4, 0.2])
    assert _dots(objective, p) == [] and _dots(cost.objective, p) != []
    np.testing.assert_allclose(objective(p), cost.objective(p), rtol=1e-6)


def test_a_loss_of_your_own_is_written_out_and_gradlab_s_are_kept():
    x = np.random.default_rng(4).normal(size=(20, 4))
    w = jnp.asarray(np.eye(20) + 0.1)  # a weighted least-squares loss: a product of 20
    weighted = lambda prediction, y: (prediction - y) @ w @ (prediction - y) / 20
    model = lambda p, x: jnp.tanh(x @ p)
    data = (x, np.tanh(x @ np.array([1.0, -2.0, 0.5, 3.0])))
    own = _rowwise.objective(gl.fit_cost(model, data, loss=weighted).objective)
    assert own.fn.loss == _rowwise.rowwise(weighted)
    p = jnp.asarray([0.9, -1.8, 0.4, 2.5])
    assert _dots(own, p) == []
    mse = gl.fit_cost(model, data).objective
    assert _rowwise.objective(mse).fn.loss is mse.fn.loss  # known by identity: its fast path
