"""Value, gradient and Hessian: the one-pass path for per-element fits against plain autodiff."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import gradlab as gl
from gradlab import _onepass, derivatives


def _cubic(params, x):
    return params[0] * jnp.sin(params[1] * x) + params[2] * x**3


def _centred(params, x):  # mixes data points: not pointwise, still a per-element fit
    return params[0] * (x - jnp.mean(x)) + params[1]


def _two_outputs(params, x):  # two predictions per data point: y of shape (n, 2)
    return jnp.stack([params[0] * jnp.exp(-params[1] * x), params[2] * x], axis=1)


def _fits():
    """(cost, parameter count) pairs: the course's fits, a polynomial, models that are not
    pointwise or have two outputs per point, MAE."""
    rng = np.random.default_rng(3)
    x = np.linspace(-1.5, 2.0, 60)
    y = np.sin(1.3 * x) + 0.1 * rng.standard_normal(60)
    polynomial = gl.fit_cost(gl.models.polynomial, (x, y))
    return [
        (gl.get_cost("sine"), 1),
        (gl.get_cost("line"), 2),
        (polynomial, 2),
        (polynomial, 4),
        (gl.fit_cost(_cubic, (x, y)), 3),
        (gl.fit_cost(_centred, (x, y)), 2),
        (gl.fit_cost(_two_outputs, (x, np.stack([np.exp(-x), y], axis=1))), 3),
        (gl.fit_cost(gl.models.linear, (x, y), loss=gl.models.mae), 2),
    ]


@jax.jit
def _both_ways(cost, p):
    fused = derivatives.value_grad_hessian(cost, p), derivatives.value_and_grad(cost, p)
    plain = cost(p), jax.grad(cost)(p), jax.hessian(cost)(p)
    return fused, plain


@pytest.mark.parametrize("cost, dim", _fits(), ids=lambda c: getattr(c, "name", str(c)))
def test_one_pass_derivatives_equal_autodiff_of_the_whole_cost(x64, cost, dim):
    cost = cost.replace(data=jax.tree.map(lambda a: jnp.asarray(a, jnp.float64), cost.data))
    assert derivatives.per_element_fit(cost)
    for params in np.random.default_rng(dim).uniform(0.2, 3.0, (4, dim)):
        ((f, g, h), (f2, g2)), (value, grad, hessian) = _both_ways(cost.objective,
                                                                   jnp.asarray(params))
        np.testing.assert_allclose(f, value, rtol=1e-13)
        np.testing.assert_allclose(f2, value, rtol=1e-13)
        scale = 1.0 + float(jnp.max(jnp.abs(grad)))
        np.testing.assert_allclose(g, grad, atol=1e-13 * scale)
        np.testing.assert_allclose(g2, grad, atol=1e-13 * scale)
        size = 1.0 + float(jnp.max(jnp.abs(hessian)))
        np.testing.assert_allclose(h, hessian, atol=1e-12 * size)
        np.testing.assert_array_equal(h, h.T)


def test_the_sine_fit_hessian_matches_the_hand_written_second_derivative(x64):
    sine = gl.get_cost("sine")
    x, y = np.asarray(sine.data.x), np.asarray(sine.data.y)
    for w in (0.7, 9.3, 10.0, 31.0):
        _, _, h = derivatives.value_grad_hessian(sine, jnp.array([w]))
        r = np.sin(w * x) - y
        by_hand = 2 * np.mean(x**2 * (np.cos(w * x) ** 2 - r * np.sin(w * x)))
        np.testing.assert_allclose(h[0, 0], by_hand, rtol=1e-12)


def test_works_under_jit_and_vmap_with_new_data_of_the_same_shape(width, count_compiles):
    sine = gl.get_cost("sine")
    run = jax.jit(jax.vmap(derivatives.value_grad_hessian, in_axes=(None, 0)))
    points = jnp.linspace(1.0, 40.0, 16)[:, None]
    f, g, h = run(sine.objective, points)
    assert f.shape == (16,) and g.shape == (16, 1) and h.shape == (16, 1, 1)
    assert f.dtype == width.dtype
    other = sine.replace(data=gl.datasets.sine(n=500, w=7.0))
    with count_compiles() as compiles:
        f_other, _, _ = run(other.objective, points)
    assert compiles["n"] == 0
    np.testing.assert_allclose(f_other, jax.vmap(other)(points), rtol=100 * width.eps)


def test_float32_agrees_with_float64_to_its_eps():
    with jax.enable_x64(True):
        reference = derivatives.value_grad_hessian(gl.get_cost("sine"), jnp.array([9.5]))
    sine = gl.get_cost("sine")
    f, g, h = derivatives.value_grad_hessian(sine, jnp.array([9.5], jnp.float32))
    assert f.dtype == g.dtype == h.dtype == jnp.float32
    for ours, ref in zip((f, g, h), reference):
        np.testing.assert_allclose(ours, np.asarray(ref), rtol=1e3 * np.finfo(np.float32).eps)


def test_other_costs_use_plain_autodiff(x64):
    x = np.linspace(0.0, 1.0, 30)
    huber = gl.fit_cost(gl.models.linear, (x, 2 * x), loss=gl.models.huber)
    for cost in (huber, gl.get_cost("rosenbrock")):
        assert not derivatives.per_element_fit(cost)
        ((f, g, h), _), (value, grad, hessian) = _both_ways(cost.objective, jnp.array([0.3, -1.2]))
        np.testing.assert_allclose(f, value, rtol=1e-15)
        np.testing.assert_allclose(g, grad, rtol=1e-12)
        np.testing.assert_allclose(h, hessian, rtol=1e-12, atol=1e-12)


def test_many_parameters_fall_back_to_plain_autodiff(x64):
    x = np.linspace(-1.0, 1.0, 40)
    cost = gl.fit_cost(gl.models.polynomial, (x, np.cos(3 * x)))
    p = jnp.linspace(-1.0, 1.0, derivatives.FUSED_MAX_DIM + 3)
    ((_, _, h), (_, g)), (_, grad, hessian) = _both_ways(cost.objective, p)
    np.testing.assert_allclose(h, hessian, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(g, grad, rtol=1e-12, atol=1e-14)


def test_pointwise_is_declared_never_guessed():
    x = np.linspace(0.0, 1.0, 30)
    assert derivatives.pointwise_fit(gl.get_cost("sine"))  # the built-in models declare it
    assert not derivatives.pointwise_fit(gl.fit_cost(lambda p, x: p[0] * x, (x, x)))
    assert derivatives.pointwise_fit(gl.fit_cost(lambda p, x: p[0] * x, (x, x), pointwise=True))
    assert not derivatives.pointwise_fit(gl.fit_cost(gl.models.linear, (x, x), pointwise=False))


# -- a plain function's value and gradient: its sums over the data in one pass (_onepass) --------
def _plain_costs():
    """Functions of (params, x, y) written as users write them: sums of several shapes and
    axes, a sum that needs another sum first, a nested jit, JAX's own custom derivatives,
    a loop inside the cost."""
    inner = jax.jit(lambda r: jnp.sum(r**2))

    def scanned(p, x, y):
        total, _ = jax.lax.scan(lambda t, xy: (t + (p[0] * xy[0] - xy[1]) ** 2, None), 0.0 * p[0],
                                (x, y))
        return total + jnp.sum(p**2)

    return {
        "line MSE": lambda p, x, y: jnp.mean((p[0] * x + p[1] - y) ** 2),
        "centred (a sum of a sum)": lambda p, x, y: jnp.mean(
            (p[0] * (x - jnp.mean(p[1] * x)) - y) ** 2),
        "table, summed by rows and in all": lambda p, x, y: jnp.sum(
            jnp.sum(jnp.outer(p[0] * x - y, jnp.sin(p[1] * x)), axis=0) ** 2) + jnp.mean(
            jnp.outer(x, y) * p[0] * p[1]),
        "nested jit": lambda p, x, y: inner(p[0] * x + p[1] - y) + jnp.sum(p[1] * y),
        "custom derivatives": lambda p, x, y: jax.nn.logsumexp(p[0] * x - y) + jnp.sum(
            jax.nn.softplus(p[1] * x)),
        "loop inside": scanned,
    }


@pytest.mark.parametrize("name", list(_plain_costs()))
def test_merged_sums_agree_with_autodiff(x64, name):
    fn = _plain_costs()[name]
    x = jnp.linspace(-1.0, 2.0, 100)
    y = jnp.sin(1.3 * x) + 0.2
    cost = lambda p: fn(p, x, y)  # closes over its data, as users write it
    ours = jax.jit(lambda p: _onepass.value_and_grad(cost, p))
    for p in np.random.default_rng(5).uniform(-2.0, 2.0, (3, 2)):
        (f, g), (value, grad) = ours(jnp.asarray(p)), jax.value_and_grad(cost)(jnp.asarray(p))
        np.testing.assert_allclose(f, value, rtol=1e-13)
        np.testing.assert_allclose(g, grad, rtol=1e-12, atol=1e-13 * (1 + np.max(np.abs(grad))))


def test_a_plain_function_sums_its_value_and_gradient_in_one_reduction(width):
    x = jnp.linspace(-1.0, 2.0, 100, dtype=width.dtype)
    y = 2.0 * x - 3.0
    plain = lambda p: jnp.mean((p[0] * x + p[1] - y) ** 2)
    p = jnp.asarray([0.5, -1.0], width.dtype)
    program = jax.make_jaxpr(lambda p: derivatives.value_and_grad(gl.costs.as_cost(plain)
                                                                  .objective, p))(p)
    names = [eqn.primitive.name for eqn in program.jaxpr.eqns]
    assert "reduce_sum" not in names  # value and both components: three sums merged
    assert all(len(eqn.outvars) == 3 for eqn in program.jaxpr.eqns
               if eqn.primitive.name == "reduce")
    f, g = derivatives.value_and_grad(gl.costs.as_cost(plain).objective, p)
    value, grad = jax.value_and_grad(plain)(p)
    np.testing.assert_allclose(f, value, rtol=8 * width.eps)
    np.testing.assert_allclose(g, grad, rtol=8 * width.eps)


def test_merged_long_sums_are_as_accurate_as_xla_own():
    # one variadic reduction adds element after element: 1% off for 10⁶ float32 terms
    n = 10**6
    x = jnp.full(n, 0.1, jnp.float32)
    cost = lambda p: jnp.sum(p[0] * x) + jnp.sum((p[1] * x) ** 2)
    f, g = jax.jit(lambda p: _onepass.value_and_grad(cost, p))(jnp.ones(2, jnp.float32))
    exact = n * float(np.float32(0.1))
    assert abs(float(f) - exact - exact * float(np.float32(0.1))) <= 1e-6 * exact
    np.testing.assert_allclose(g, [exact, 2 * exact * float(np.float32(0.1))], rtol=1e-6)


def test_merged_sums_work_under_vmap(x64):
    x = jnp.linspace(0.0, 1.0, 70)
    cost = lambda p: jnp.mean((p[0] * jnp.exp(-p[1] * x) - x) ** 2)
    points = jnp.asarray(np.random.default_rng(1).uniform(0.1, 2.0, (6, 2)))
    f, g = jax.jit(jax.vmap(lambda p: _onepass.value_and_grad(cost, p)))(points)
    value, grad = jax.vmap(jax.value_and_grad(cost))(points)
    np.testing.assert_allclose(f, value, rtol=1e-13)
    np.testing.assert_allclose(g, grad, rtol=1e-12)


def test_a_long_float32_fit_sums_as_accurately_as_autodiff():
    # the fit's one-pass sums took 10⁶ terms in one run: its cost was 1.4e-4 off in float32
    n = 10**6
    x = np.linspace(0.0, 1.0, n)
    y = 2.0 * x - 3.0 + 0.5 * np.sin(37.0 * x)
    p = np.array([1.5, -2.0])
    with jax.enable_x64(True):
        exact_f, exact_g = jax.value_and_grad(
            lambda q: jnp.mean((q[0] * x + q[1] - y) ** 2))(jnp.asarray(p))
    cost = gl.fit_cost(gl.models.linear, (x.astype(np.float32), y.astype(np.float32)))
    f, g = jax.jit(lambda q: derivatives.value_and_grad(cost, q))(jnp.asarray(p, jnp.float32))
    assert f.dtype == jnp.float32
    rtol = 100 * float(np.finfo(np.float32).eps)  # blocks of 32, four levels: ~128 eps at worst
    np.testing.assert_allclose(f, exact_f, rtol=rtol)
    np.testing.assert_allclose(g, exact_g, rtol=rtol)
