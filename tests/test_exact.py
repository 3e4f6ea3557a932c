"""Closed-form solutions, against numpy/scipy in float64."""

import jax.numpy as jnp
import numpy as np
import pytest

import gradlab as gl


def test_line_least_squares_matches_numpy():
    line = gl.get_cost("line")
    x, y = np.asarray(line.data.x), np.asarray(line.data.y)
    reference, *_ = np.linalg.lstsq(np.stack([x, np.ones_like(x)], 1), y, rcond=None)
    result = gl.solve_exact(line)
    np.testing.assert_allclose(result.x, reference, rtol=1e-12)
    assert bool(result.success) and result.message.startswith("converged")


def test_ill_conditioned_polynomial_design_matches_scipy_lstsq():
    scipy_linalg = pytest.importorskip("scipy.linalg")
    x = np.linspace(0.0, 1.0, 60)
    true = np.array([1.0, -2.0, 3.0, -1.0, 0.5, 2.0, -0.25, 1.5, -3.0, 0.75, 1.0, -0.5])
    design = np.vander(x, len(true), increasing=True)
    assert np.linalg.cond(design) > 1e8
    y = design @ true + 1e-6 * np.random.default_rng(0).standard_normal(len(x))
    cost = gl.fit_cost(gl.models.polynomial, (x, y))
    cost = cost.replace(bounds=[(-5, 5)] * len(true))
    reference = scipy_linalg.lstsq(design, y)[0]
    result = gl.solve_exact(cost)
    np.testing.assert_allclose(result.x, reference, rtol=1e-5, atol=1e-6)
    # inverting XᵀX would square the condition number and lose these digits
    normal = np.linalg.solve(design.T @ design, design.T @ y)
    assert np.max(np.abs(result.x - reference)) < np.max(np.abs(normal - reference))


def test_a_model_linear_in_its_parameters_is_detected_without_being_listed():
    x = np.linspace(-1, 1, 30)
    y = 2.0 * np.cos(x) - 0.5 * x**3
    cost = gl.fit_cost(lambda p, x: p[0] * jnp.cos(x) + p[1] * x**3, (x, y), bounds=[(-5, 5)] * 2)
    np.testing.assert_allclose(gl.solve_exact(cost).x, [2.0, -0.5], rtol=1e-12)


@pytest.mark.parametrize("name", ["bowl", "booth", "matyas", "sphere"])
def test_quadratics_by_one_newton_step(name):
    cost = gl.get_cost(name)
    result = gl.solve_exact(cost)
    np.testing.assert_allclose(result.x, cost.minima[0].x, atol=1e-12)
    assert float(result.fun) == pytest.approx(cost.minima[0].f, abs=1e-20)


def test_a_quadratic_without_a_minimum_is_reported_not_raised():
    saddle = gl.Cost("saddle", lambda p: p[0] ** 2 - p[1] ** 2, bounds=[(-1, 1)] * 2)
    result = gl.solve_exact(saddle)
    assert not bool(result.success) and int(result.status) == gl.Status.DIVERGED


@pytest.mark.parametrize("name", ["sine", "rosenbrock", "himmelblau"])
def test_no_closed_form_points_to_the_other_methods(name):
    with pytest.raises(ValueError, match="no closed-form minimum.*grid_search.*descend"):
        gl.solve_exact(name)
