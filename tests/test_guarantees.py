"""What gradlab guarantees: divergence as data, determinism, both float widths, no recompiles,
and the edge cases."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import gradlab as gl

LBFGS = optax.lbfgs()


# -- divergence and non-finite values are data --------------------------------------------------
def test_one_overflowing_start_leaves_the_others_bitwise_unchanged(width):
    # exp overflows for |x| beyond ~26: the start at 25 runs away, the rest converge
    cost = gl.Cost("cliffs", lambda p: jnp.sum(jnp.exp(p**2 / 25.0)) - p.size,
                   bounds=[(-30.0, 30.0)] * 2)
    starts = jnp.array([[0.5, -0.3], [25.0, 25.0], [1.0, 2.0]])
    batch = gl.multistart(cost, starts=starts, optimizer=optax.sgd(20.0), steps=50)
    status = [gl.Status(int(s)) for s in batch.trajectories.status]
    assert status[1] in (gl.Status.DIVERGED, gl.Status.NONFINITE)
    assert np.all(np.isfinite(np.asarray(batch.trajectories.x)))  # the last finite point is kept
    for i in (0, 2):  # every field of the record, bit for bit
        alone = gl.multistart(cost, starts=starts[i:i + 1], optimizer=optax.sgd(20.0), steps=50)
        chex.assert_trees_all_equal(jax.tree.map(lambda a, i=i: a[i], batch.trajectories),
                                    jax.tree.map(lambda a: a[0], alone.trajectories))
    assert batch.labels[1] == -1


# -- determinism -----------------------------------------------------------------------------
def test_same_seed_same_bits_everywhere():
    for run in (lambda: gl.multistart("rastrigin", n_starts=50, seed=3).trajectories.xs,
                lambda: gl.check_gradient("levy", n=5, seed=9).finite_diff,
                lambda: gl.grid_search("beale", num=64).values,
                lambda: gl.descend("beale", [1.0, 1.0], optimizer=LBFGS, steps=50).xs):
        np.testing.assert_array_equal(run(), run())
    a = gl.multistart("rastrigin", n_starts=50, seed=3).starts
    assert not np.array_equal(a, gl.multistart("rastrigin", n_starts=50, seed=4).starts)


# -- float32 and float64 ----------------------------------------------------------------------
@pytest.mark.parametrize("x64", [False, True])
def test_every_solver_in_both_widths(x64):
    eps = float(np.finfo(np.float64 if x64 else np.float32).eps)
    tol = 1e3 * eps ** 0.5  # a tolerance the width explains: ~1e-5 in f64, ~0.3 in f32 terms
    with jax.enable_x64(x64):
        dtype = jnp.float64 if x64 else jnp.float32
        line = gl.get_cost("line")
        exact = gl.solve_exact(line)
        assert exact.x.dtype == dtype
        grid = gl.grid_search(line, num=200, polish=True)
        desc = gl.descend(line, [0.0, 0.0], optimizer=LBFGS, steps=100)
        ms = gl.multistart("himmelblau", n_starts=64, seed=0)
        sweep = gl.sweep_learning_rates("bowl", [-1.0, -1.0], [0.1, 1.5], steps=100)
        for x in (grid.x, desc.x):
            assert x.dtype == dtype
            np.testing.assert_allclose(x, exact.x, atol=max(tol, 1e-4) if not x64 else 1e-6)
        assert len(ms.minima.points) == 4 and ms.trajectories.x.dtype == dtype
        assert list(sweep.status) == [gl.Status.CONVERGED, gl.Status.DIVERGED]
        check = gl.check_gradient("line", n=4)
        assert check.autodiff.dtype == jnp.float64 and check.passed  # always float64
    np.testing.assert_allclose(exact.x, [2.0181982513, -2.9797258266], atol=1e-5)


_X = np.linspace(0.0, 4.0, 40)  # NumPy float64, as users' data and starts usually are
_DECAY = gl.fit_cost(lambda p, x: p[0] * jnp.exp(-p[1] * x), (_X, 3.0 * np.exp(-1.3 * _X)),
                     bounds=[(0.0, 5.0), (0.0, 5.0)])
_START, _STARTS = np.array([1.0, 1.0]), np.array([[1.0, 1.0], [2.0, 0.5]])


@pytest.mark.parametrize("call", [
    lambda: gl.fit(_DECAY, _START),
    lambda: gl.fit(_DECAY, _STARTS),
    lambda: gl.descend(_DECAY, _START, learning_rate=0.05, steps=5),
    lambda: gl.multistart(_DECAY, starts=_STARTS, steps=5),
    lambda: gl.grid_search(_DECAY, num=5),
    lambda: gl.check_gradient(_DECAY, _STARTS),  # checks in float64 always, on the host
    lambda: gl.sweep_learning_rates(_DECAY, _START, np.array([0.01, 0.1]), steps=5),
], ids=["fit", "fit-batch", "descend", "multistart", "grid", "gradcheck", "sweep"])
def test_float64_numpy_inputs_in_float32_compute_quietly_in_float32(call):
    # JAX's default width: float64 NumPy arrays are cast, never "truncated" with a warning
    # (the suite turns every warning into an error)
    result = call()
    floats = [a for a in jax.tree.leaves(result)
              if hasattr(a, "dtype") and jnp.issubdtype(a.dtype, jnp.floating)
              and isinstance(a, jax.Array)]
    assert all(a.dtype == jnp.float32 for a in floats)
    assert floats or isinstance(result, gl.GradCheck)


# -- no recompiles --------------------------------------------------------------------------
def test_no_solver_recompiles_for_new_values_of_the_same_shapes(count_compiles):
    # new data, renamed, redescribed, other bounds and names: only shapes are compiled on
    line = gl.get_cost("line")
    other = line.replace(data=gl.datasets.line(seed=5), name="another", description="new",
                         bounds=[(-4.0, 4.0), (-6.0, 1.0)], names=("slope", "intercept"),
                         minima=())
    calls = {
        "grid_search": (lambda c: gl.grid_search(c, num=50), None),
        "descend": (lambda c: gl.descend(c, [0.1, -1.0], learning_rate=0.3, steps=20),
                    lambda c: gl.descend(c, [1.0, -2.0], learning_rate=0.2, steps=20)),
        "multistart": (lambda c: gl.multistart(c, n_starts=16, seed=0),
                       lambda c: gl.multistart(c, n_starts=16, seed=1)),
        "sweep_learning_rates": (
            lambda c: gl.sweep_learning_rates(c, [0.0, -1.0], [0.1, 0.2], steps=20),
            lambda c: gl.sweep_learning_rates(c, [1.0, -1.0], [0.3, 0.4], steps=20)),
        "check_gradient": (lambda c: gl.check_gradient(c, n=4, seed=0),
                           lambda c: gl.check_gradient(c, n=4, seed=1)),
        "solve_exact": (lambda c: gl.solve_exact(c), None),
    }
    for name, (first, second) in calls.items():
        jax.block_until_ready(jax.tree.leaves(first(line)))
        with count_compiles() as c:
            jax.block_until_ready(jax.tree.leaves((second or first)(other)))
        assert c["n"] == 0, f"{name} recompiled"


# -- edge cases ------------------------------------------------------------------------------
def test_a_minimum_on_the_boundary():
    cost = gl.Cost("edge", lambda p: (p[0] - 1.0) ** 2 + p[1] ** 2, bounds=[(1.0, 3.0), (-1, 1)],
                   minima=[gl.Minimum([1.0, 0.0], 0.0)])
    from gradlab.testing import check_cost
    assert check_cost(cost, n_probe=2000).passed  # the gradient is not zero there: allowed
    np.testing.assert_allclose(gl.grid_search(cost, num=21).x, [1.0, 0.0])
    traj = gl.descend(cost, [2.5, 0.5], learning_rate=0.3, steps=200, bounds=cost.bounds)
    np.testing.assert_allclose(traj.x, [1.0, 0.0], atol=1e-6)
    assert bool(traj.success)
    ms = gl.multistart(cost, n_starts=20, seed=0, project=True)
    np.testing.assert_allclose(ms.best, [1.0, 0.0], atol=1e-6)


def test_a_flat_function(width):
    flat = gl.Cost("flat", lambda p: 0.0 * jnp.sum(p), bounds=[(-1, 1)] * 2)
    traj = gl.descend(flat, [0.3, 0.2], learning_rate=0.1, steps=10)
    assert int(traj.status) == gl.Status.CONVERGED and int(traj.nit) == 0
    np.testing.assert_array_equal(traj.x, np.asarray([0.3, 0.2], width.dtype))
    grid = gl.grid_search(flat, num=5)
    np.testing.assert_array_equal(grid.x, [-1.0, -1.0])  # every point ties: the first wins
    ms = gl.multistart(flat, n_starts=5, seed=0)
    assert set(ms.minima.kind) == {"flat"}


def test_one_parameter_and_fifty_parameters():
    one = gl.suite.rastrigin(1)
    assert float(gl.grid_search(one, num=1025).x[0]) == pytest.approx(0.0, abs=0.01)
    big = gl.suite.sphere(50)
    with pytest.raises(ValueError, match="max_points"):
        gl.grid_search(big, num=3)
    traj = gl.descend(big, jnp.linspace(-4, 4, 50), optimizer=LBFGS, steps=100)
    assert bool(traj.success) and float(traj.fun) < 1e-12
    ms = gl.multistart(big, n_starts=8, seed=0)  # above NEWTON_MAX_DIM: L-BFGS
    np.testing.assert_allclose(ms.best, np.zeros(50), atol=1e-6)


def test_a_non_differentiable_point_is_reported_sensibly():
    absolute = gl.Cost("abs", lambda p: jnp.abs(p[0]), bounds=[(-1, 1)])
    # jax.grad of |x| at 0 is 1 (a subgradient), never small: plain descent zig-zags
    # across the kink within one step of it and honestly reports MAX_STEPS
    for x0 in (0.0, 0.35):
        run = gl.descend(absolute, [x0], learning_rate=0.1, steps=50)
        assert int(run.status) == gl.Status.MAX_STEPS and not bool(run.success)
        assert abs(float(run.x[0])) <= 0.1 + 1e-12 and np.all(np.isfinite(np.asarray(run.xs)))
        assert np.all(np.asarray(run.grad_norms) == 1.0)
    check = gl.check_gradient(absolute, points=[[0.5], [-0.25]])
    assert check.passed
