"""Closed-form solutions, against numpy/scipy; linearity decided soundly in both widths."""

import jax.numpy as jnp
import numpy as np
import pytest

import gradlab as gl

S = gl.Status


def test_line_least_squares_matches_numpy(width):
    line = gl.get_cost("line")
    x, y = np.asarray(line.data.x, np.float64), np.asarray(line.data.y, np.float64)
    reference, *_ = np.linalg.lstsq(np.stack([x, np.ones_like(x)], 1), y, rcond=None)
    result = gl.solve_exact(line)
    assert result.x.dtype == width.dtype
    np.testing.assert_allclose(result.x, reference, rtol=4 * width.eps)
    assert bool(result.success) and result.message.startswith("converged")


def test_ill_conditioned_polynomial_design_matches_scipy_lstsq(x64):
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


def test_a_model_linear_in_its_parameters_is_detected_without_being_listed(width):
    x = np.linspace(-1, 1, 30)
    y = 2.0 * np.cos(x) - 0.5 * x**3
    cost = gl.fit_cost(lambda p, x: p[0] * jnp.cos(x) + p[1] * x**3, (x, y), bounds=[(-5, 5)] * 2)
    np.testing.assert_allclose(gl.solve_exact(cost).x, [2.0, -0.5], rtol=30 * width.eps)


def test_two_outputs_per_point(width):
    x = np.linspace(-1, 1, 20)
    y = np.stack([2 * x + 1, -x + 3], axis=1)  # (n, 2)
    model = lambda p, x: jnp.stack([p[0] * x + p[1], p[2] * x + p[3]], axis=1)
    result = gl.solve_exact(gl.fit_cost(model, (x, y), bounds=[(-5, 5)] * 4))
    np.testing.assert_allclose(result.x, [2.0, 1.0, -1.0, 3.0], rtol=30 * width.eps, atol=1e-6)


@pytest.mark.parametrize("name", ["bowl", "booth", "matyas", "sphere"])
def test_quadratics_by_one_newton_step(width, name):
    cost = gl.get_cost(name)
    result = gl.solve_exact(cost)
    # the step from a probe ~5 away, through a Hessian of condition up to 25 (matyas)
    np.testing.assert_allclose(result.x, cost.minima[0].x, atol=5 * 25 * 4 * width.eps)
    assert float(result.fun) == pytest.approx(cost.minima[0].f, abs=100 * width.eps)


# -- what is not linear or not quadratic is refused, in float32 as in float64 -------------------
NOT_CLOSED_FORM = {
    "a quartic on [-1, 1]²": lambda: gl.Cost(
        "quartic", lambda p: jnp.sum(p**2) + 0.5 * jnp.sum(p**4), bounds=[(-1, 1)] * 2),
    "a sine fit on a short range of w": lambda: gl.fit_cost(
        gl.models.sine, gl.datasets.sine(n=200, w=0.45), bounds=[(0.0, 0.6)]),
    "a barely cubic cost": lambda: gl.Cost(
        "cubic", lambda p: jnp.sum(p**2) + 1e-4 * p[0] ** 3, bounds=[(-1, 1)] * 2),
    "rosenbrock": lambda: gl.get_cost("rosenbrock"),
    "the sine fit": lambda: gl.get_cost("sine"),
}


@pytest.mark.parametrize("name", NOT_CLOSED_FORM)
def test_no_closed_form_is_refused_in_both_widths(width, name):
    with pytest.raises(ValueError, match="no closed-form minimum.*grid_search.*descend"):
        gl.solve_exact(NOT_CLOSED_FORM[name]())


# -- quadratics without a unique minimum: say what is true --------------------------------------
def test_a_valley_of_minima_is_a_minimum_found(width):
    valley = gl.Cost("valley", lambda p: (p[0] - 1.0) ** 2, bounds=[(-2, 2)] * 2)
    result = gl.solve_exact(valley)
    assert S(int(result.status)) == S.CONVERGED and bool(result.success)
    assert float(result.x[0]) == pytest.approx(1.0) and float(result.fun) == pytest.approx(0.0)


@pytest.mark.parametrize("fn", [lambda p: p[0] ** 2 - p[1] ** 2,  # a saddle
                                lambda p: p[0] + p[1] ** 2,  # a slope with no curvature
                                lambda p: -jnp.sum(p**2)],  # a dome
                         ids=["saddle", "slope", "dome"])
def test_a_quadratic_unbounded_below_has_no_minimum(width, fn):
    result = gl.solve_exact(gl.Cost("open", fn, bounds=[(-1, 1)] * 2))
    assert not bool(result.success) and S(int(result.status)) == S.NO_MINIMUM
    assert "no minimum" in result.message and "learning rate" not in result.message
