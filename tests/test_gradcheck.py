"""The three-way gradient check, against hand-written derivatives."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import gradlab as gl


def test_the_bowl_passes_and_reports_the_analytic_gradient():
    check = gl.check_gradient("bowl", n=8, seed=1)
    assert bool(check.passed)
    p = np.asarray(check.points)
    expected = np.stack([2 * (p[:, 0] - 2), 2 * (p[:, 1] + 3)], axis=1)  # by hand
    np.testing.assert_allclose(check.analytic, expected, rtol=1e-15)
    np.testing.assert_allclose(check.autodiff, expected, rtol=1e-14)
    np.testing.assert_allclose(check.finite_diff, expected, rtol=1e-8)
    assert check.points.shape == (8, 2) and check.points.dtype == jnp.float64
    assert np.all((p >= [-5, -5]) & (p <= [5, 0]))


@pytest.mark.parametrize("factor", [1.01, 0.999, -1.0])
def test_a_wrong_analytic_gradient_is_caught(factor):
    def wrong(p):
        return jnp.array([2 * (p[0] - 2), factor * 2 * (p[1] + 3)])

    cost = gl.get_cost("bowl").replace(grad=wrong)
    check = gl.check_gradient(cost, n=8)
    assert not bool(check.passed)
    assert float(np.max(check.analytic_rel_error)) >= abs(1 - factor) * 0.9
    assert float(check.fd_rel_error.max()) < 1e-7  # autodiff itself is right


def test_a_wrong_autodiff_rule_is_caught_by_finite_differences():
    @jax.custom_jvp
    def square(x):
        return x**2

    square.defjvp(lambda primals, tangents: (primals[0] ** 2, 2.2 * primals[0] * tangents[0]))
    check = gl.check_gradient(lambda p: jnp.sum(square(p)), n=4, bounds=[(0.5, 2.0)] * 2)
    assert not bool(check.passed) and float(check.fd_rel_error.max()) > 0.05


def test_explicit_points_and_float64_even_when_x64_is_off():
    with jax.enable_x64(False):
        cost = gl.get_cost("rosenbrock")
        check = gl.check_gradient(cost, points=[[-1.2, 1.0], [0.5, 0.5]])
    assert check.autodiff.dtype == jnp.float64
    # rosen_der at (-1.2, 1): -400·x·(y − x²) − 2(1 − x) and 200(y − x²)
    np.testing.assert_allclose(check.autodiff[0], [-215.6, -88.0], rtol=1e-13)
    assert bool(check.passed)


def test_a_cost_without_analytic_gradient_is_checked_against_finite_differences():
    check = gl.check_gradient(lambda p: jnp.sin(p[0]) * jnp.exp(p[1]), n=5,
                              bounds=[(-2, 2), (-1, 1)])
    assert check.analytic is None and bool(check.passed)
    p = np.asarray(check.points)
    np.testing.assert_allclose(check.autodiff[:, 0], np.cos(p[:, 0]) * np.exp(p[:, 1]))


@pytest.mark.parametrize("grad", [lambda p: jnp.full(2, jnp.nan),
                                  lambda p: jnp.array([jnp.nan, 1.0])], ids=["all NaN", "one NaN"])
def test_a_nan_analytic_gradient_fails_and_shows_nan(grad):
    cost = gl.get_cost("bowl").replace(grad=grad)
    check = gl.check_gradient(cost, n=4)
    assert not bool(check.passed)
    assert np.isnan(float(check.max_rel_error)) and np.isnan(float(check.max_abs_error))


@pytest.mark.parametrize(("grad", "got"), [(lambda p: 2.0 * p[0], "shape ()"),
                                           (lambda p: 2.0 * p[:1], "shape (1,)"),
                                           (lambda p: (2 * p).astype(jnp.int32), "int32")])
def test_an_analytic_gradient_of_the_wrong_shape_or_type_is_refused(grad, got):
    with pytest.raises(ValueError, match="grad must return") as info:
        gl.Cost("scalar-grad", lambda p: jnp.sum(p**2), bounds=[(-1, 1)] * 2, grad=grad)
    assert "shape (2,)" in str(info.value) and got in str(info.value)


def test_scipy_check_grad_agrees_on_rosenbrock():
    scipy_optimize = pytest.importorskip("scipy.optimize")
    check = gl.check_gradient("rosenbrock", n=6, seed=2)
    for p, g in zip(np.asarray(check.points), np.asarray(check.autodiff)):
        np.testing.assert_allclose(g, scipy_optimize.rosen_der(p), rtol=1e-12)
