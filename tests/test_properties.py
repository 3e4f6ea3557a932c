"""Properties that must hold for every convex quadratic ½(x − c)ᵀA(x − c), checked by
hypothesis in both widths, with tolerances from the width's epsilon."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import gradlab as gl

SETTINGS = settings(max_examples=12, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])
WIDTHS = pytest.mark.parametrize("x64", [False, True], ids=["float32", "float64"])


def _quadratic(p, data):
    a, c = data
    r = p - c
    return 0.5 * r @ a @ r


def _quadratic_grad(p, data):
    a, c = data
    return a @ (p - c)


@st.composite
def quadratics(draw, max_dim=4):
    """A random SPD matrix (eigenvalues in [0.5, 5]), a centre in [-2, 2]^d, a start."""
    d = draw(st.integers(1, max_dim))
    rng = np.random.default_rng(draw(st.integers(0, 2**31 - 1)))
    q, _ = np.linalg.qr(rng.standard_normal((d, d)))
    eig = rng.uniform(0.5, 5.0, d)
    a = (q * eig) @ q.T
    return (a + a.T) / 2, rng.uniform(-2, 2, d), rng.uniform(-4, 4, d), float(eig.max())


def _cost(a, c):
    # built inside the width in force, so that its data take that width
    return gl.Cost("quadratic", _quadratic, bounds=[(-4.0, 4.0)] * len(c), grad=_quadratic_grad,
                   data=(jnp.asarray(a), jnp.asarray(c)))


def _eps(x64):
    return float(np.finfo(np.float64 if x64 else np.float32).eps)


@WIDTHS
@SETTINGS
@given(problem=quadratics())
def test_solve_exact_finds_the_centre(x64, problem):
    a, c, _, _ = problem
    with jax.enable_x64(x64):
        np.testing.assert_allclose(gl.solve_exact(_cost(a, c)).x, c, atol=1e3 * _eps(x64))


@WIDTHS
@SETTINGS
@given(problem=quadratics(), fraction=st.floats(0.5, 1.9))
def test_descent_below_two_over_l_converges(x64, problem, fraction):
    a, c, x0, big = problem
    with jax.enable_x64(x64):
        traj = gl.descend(_cost(a, c), x0, learning_rate=fraction / big, steps=3000)
    assert int(traj.status) == gl.Status.CONVERGED
    # converged: the Newton step is below sqrt(eps) of the parameters' size, in a
    # metric whose condition is at most 10 (eigenvalues in [0.5, 5])
    np.testing.assert_allclose(traj.x, c, atol=10 * np.sqrt(_eps(x64)) * 4)


@WIDTHS
@SETTINGS
@given(problem=quadratics(), fraction=st.floats(2.3, 4.0))
def test_descent_above_two_over_l_diverges(x64, problem, fraction):
    a, c, x0, big = problem
    with jax.enable_x64(x64):
        traj = gl.descend(_cost(a, c), x0, learning_rate=fraction / big, steps=400)
    assert int(traj.status) in (gl.Status.DIVERGED, gl.Status.NONFINITE)
    assert np.all(np.isfinite(np.asarray(traj.x)))


@WIDTHS
@SETTINGS
@given(problem=quadratics(max_dim=2), num=st.integers(2, 40))
def test_grid_search_returns_the_smallest_value_it_evaluated(x64, problem, num):
    a, c, _, _ = problem
    with jax.enable_x64(x64):
        grid = gl.grid_search(_cost(a, c), num=num)
    values = np.asarray(grid.values)
    assert float(grid.fun) == float(values.min())
    index = np.unravel_index(int(values.argmin()), values.shape)
    np.testing.assert_array_equal(grid.x, [grid.axes[k][i] for k, i in enumerate(index)])


@SETTINGS
@given(problem=quadratics(), component=st.integers(0, 3), delta=st.floats(0.01, 0.5))
def test_check_gradient_passes_right_and_fails_perturbed(problem, component, delta):
    a, c, _, _ = problem  # check_gradient always computes in float64
    cost = _cost(a, c)
    assert gl.check_gradient(cost, n=8).passed
    k = component % cost.dim

    def perturbed(p, data):
        g = _quadratic_grad(p, data)
        return g.at[k].add(delta * jnp.max(jnp.abs(g)))

    assert not gl.check_gradient(cost.replace(grad=perturbed), n=8).passed
