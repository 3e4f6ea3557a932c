"""Value, gradient and Hessian: the one-pass path for per-element fits against plain autodiff."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import gradlab as gl
from gradlab import derivatives


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
