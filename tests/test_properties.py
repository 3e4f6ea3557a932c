"""Properties that must hold for every convex quadratic ½(x − c)ᵀA(x − c), checked by hypothesis."""

import jax.numpy as jnp
import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import gradlab as gl

SETTINGS = settings(max_examples=25, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])


def _quadratic(p, data):
    a, c = data
    r = p - c
    return 0.5 * r @ a @ r


def _quadratic_grad(p, data):
    a, c = data
    return a @ (p - c)


@st.composite
def quadratics(draw, max_dim=4):
    """A random SPD matrix (eigenvalues in [0.5, 5]) and a centre inside [-2, 2]^d."""
    d = draw(st.integers(1, max_dim))
    seed = draw(st.integers(0, 2**31 - 1))
    rng = np.random.default_rng(seed)
    q, _ = np.linalg.qr(rng.standard_normal((d, d)))
    eig = rng.uniform(0.5, 5.0, d)
    a = (q * eig) @ q.T
    a = (a + a.T) / 2
    c = rng.uniform(-2, 2, d)
    x0 = rng.uniform(-4, 4, d)
    cost = gl.Cost("quadratic", _quadratic, bounds=[(-4.0, 4.0)] * d, grad=_quadratic_grad,
                   data=(jnp.asarray(a), jnp.asarray(c)))
    return cost, a, c, x0, float(eig.max())


@SETTINGS
@given(quadratics())
def test_solve_exact_finds_the_centre(problem):
    cost, _, c, _, _ = problem
    np.testing.assert_allclose(gl.solve_exact(cost).x, c, atol=1e-9)


@SETTINGS
@given(quadratics(), st.floats(0.5, 1.9))
def test_descent_below_two_over_l_converges(problem, fraction):
    cost, _, c, x0, big = problem
    traj = gl.descend(cost, x0, learning_rate=fraction / big, steps=3000)
    assert int(traj.status) == gl.Status.CONVERGED
    np.testing.assert_allclose(traj.x, c, atol=1e-5)


@SETTINGS
@given(quadratics(), st.floats(2.3, 4.0))
def test_descent_above_two_over_l_diverges(problem, fraction):
    cost, _, _, x0, big = problem
    traj = gl.descend(cost, x0, learning_rate=fraction / big, steps=400)
    assert int(traj.status) in (gl.Status.DIVERGED, gl.Status.NONFINITE)
    assert np.all(np.isfinite(np.asarray(traj.x)))


@SETTINGS
@given(quadratics(max_dim=2), st.integers(2, 40))
def test_grid_search_returns_the_smallest_value_it_evaluated(problem, num):
    cost, *_ = problem
    grid = gl.grid_search(cost, num=num)
    assert float(grid.fun) == float(jnp.min(grid.values))
    index = np.unravel_index(int(jnp.argmin(grid.values)), grid.values.shape)
    np.testing.assert_array_equal(grid.x, [grid.axes[k][i] for k, i in enumerate(index)])


@SETTINGS
@given(quadratics(), st.integers(0, 3), st.floats(0.01, 0.5))
def test_check_gradient_passes_right_and_fails_perturbed(problem, component, delta):
    cost, *_ = problem
    assert gl.check_gradient(cost, n=8).passed
    k = component % cost.dim

    def perturbed(p, data):
        g = _quadratic_grad(p, data)
        return g.at[k].add(delta * jnp.max(jnp.abs(g)))

    assert not gl.check_gradient(cost.replace(grad=perturbed), n=8).passed
