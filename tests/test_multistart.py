"""Many starts: distinct minima, global versus local, basins, learning-rate sweeps."""

import jax.numpy as jnp
import numpy as np
import optax
import pytest

import gradlab as gl
from gradlab import _loop
from gradlab.multistart import sample_starts


def test_himmelblau_gives_exactly_its_four_minima_all_global():
    ms = gl.multistart("himmelblau", n_starts=500, seed=0)
    assert len(ms.minima.points) == 4 and bool(ms.minima.is_global.all())
    known = np.array([m.x for m in gl.get_cost("himmelblau").minima])
    for point in ms.minima.points:  # each found minimum is one of the literature's four
        assert np.min(np.max(np.abs(known - point), axis=1)) < 1e-6
    assert ms.known_found.all() and list(ms.minima.kind) == ["minimum"] * 4
    assert ms.minima.counts.sum() + np.sum(ms.labels < 0) == 500


def test_rastrigin_finds_the_origin_and_marks_the_rest_local():
    ms = gl.multistart("rastrigin", n_starts=1000, seed=0)
    assert np.allclose(ms.best, [0.0, 0.0], atol=1e-6) and float(ms.minima.values[0]) < 1e-10
    assert ms.minima.is_global.sum() == 1 and len(ms.minima.points) > 10
    # its local minima sit near integer points with values near sum of x_i^2 (about 0.995 each)
    assert np.all(ms.minima.values[1:] > 0.9)


def test_sine_fit_finds_w_10_and_local_minima_with_shares_that_add_up():
    ms = gl.multistart("sine", n_starts=500, seed=0)
    assert float(ms.best[0]) == pytest.approx(10.0, abs=1e-6)
    assert ms.minima.is_global.sum() == 1 and len(ms.minima.points) >= 5
    assert ms.minima.shares.sum() + ms.unlabelled_share == pytest.approx(1.0)
    share = float(ms.minima.shares[0])
    assert ms.starts_for_99 == np.ceil(np.log(0.01) / np.log(1 - share))
    # every local minimum is a true stationary point of the sine fit (checked by hand)
    x, y = np.asarray(gl.get_cost("sine").data.x), np.asarray(gl.get_cost("sine").data.y)
    for w in ms.minima.points[:, 0]:
        grad = 2 * np.mean((np.sin(w * x) - y) * np.cos(w * x) * x)
        assert abs(grad) < 1e-5


def test_same_minima_as_scipy_from_the_same_starts():
    scipy_optimize = pytest.importorskip("scipy.optimize")
    cost = gl.get_cost("sine")
    x, y = np.asarray(cost.data.x), np.asarray(cost.data.y)
    starts = sample_starts(cost.bounds, 200, 3)
    ms = gl.multistart(cost, starts=starts)
    f = lambda w: np.mean((np.sin(w[0] * x) - y) ** 2)
    ends = [scipy_optimize.minimize(f, s, method="BFGS").x[0] for s in starts]
    ends = np.asarray(ends)
    scipy_minima = set(np.round(ends[(ends >= 0) & (ends <= 50)], 2))  # BFGS may leave [0, 50]
    ours = set(np.round(ms.minima.points[:, 0], 2))
    assert scipy_minima <= ours


def test_failed_starts_are_labelled_minus_one_not_merged():
    import optax
    cost = gl.Cost("dome", lambda p: -jnp.sum(p**2), bounds=[(-1, 1), (-1, 1)])
    ms = gl.multistart(cost, n_starts=10, seed=0, optimizer=optax.sgd(0.5), steps=50)
    assert np.all(np.asarray(ms.trajectories.status) == gl.Status.DIVERGED)
    assert np.all(ms.labels == -1) and ms.unlabelled_share == 1.0
    assert len(ms.minima.points) == 0 and ms.starts_for_99 == np.inf


def test_saddles_are_named_from_the_hessian():
    cost = gl.Cost("monkey", lambda p: p[0] ** 2 - p[1] ** 2 + 0.25 * p[1] ** 4,
                   bounds=[(-2, 2), (-2, 2)])
    starts = jnp.array([[0.5, 0.0], [0.5, 1.0], [-0.3, -1.0]])  # the first lands on the saddle
    ms = gl.multistart(cost, starts=starts)
    kinds = dict(zip(map(tuple, np.round(ms.minima.points, 6)), ms.minima.kind))
    assert kinds[(0.0, 0.0)] == "saddle"
    assert kinds[(0.0, round(np.sqrt(2), 6))] == "minimum"


def test_latin_hypercube_fills_every_stratum():
    pts = sample_starts([(0, 1), (0, 10)], 50, seed=1, sampling="lhs")
    for axis, width in ((0, 1.0), (1, 10.0)):
        assert sorted((pts[:, axis] // (width / 50)).astype(int)) == list(range(50))


def test_same_seed_is_bitwise_reproducible():
    a = gl.multistart("himmelblau", n_starts=64, seed=5)
    b = gl.multistart("himmelblau", n_starts=64, seed=5)
    np.testing.assert_array_equal(a.trajectories.x, b.trajectories.x)
    np.testing.assert_array_equal(a.labels, b.labels)


def test_basin_map_labels_a_grid_of_starts():
    bm = gl.basin_map("himmelblau", num=24)
    assert bm.labels.shape == (24, 24) and set(np.unique(bm.labels)) == {0, 1, 2, 3}
    # the start nearest each minimum lands in that minimum
    for k, point in enumerate(bm.run.minima.points):
        i = np.argmin(np.abs(np.asarray(bm.axes[0]) - point[0]))
        j = np.argmin(np.abs(np.asarray(bm.axes[1]) - point[1]))
        assert bm.labels[i, j] == k
    one_d = gl.basin_map("sine", num=50)
    assert one_d.labels.shape == (50,)
    with pytest.raises(ValueError, match="1 or 2 parameters"):
        gl.basin_map(gl.suite.sphere(3))


def test_learning_rate_sweep_stability_limit_on_the_bowl():
    sweep = gl.sweep_learning_rates("bowl", [-1.0, -1.0], jnp.array([0.05, 0.5, 0.9, 1.1, 1.5]),
                                    steps=200)
    assert sweep.curvature == pytest.approx(2.0) and sweep.stability_limit == pytest.approx(1.0)
    status = [gl.Status(int(s)) for s in sweep.status]
    assert status[:3] == [gl.Status.CONVERGED] * 3
    assert status[3:] == [gl.Status.DIVERGED] * 2
    assert sweep.trajectories.xs.shape == (5, 201, 2)


def test_learning_rate_sweep_compiles_once_for_new_rates(count_compiles):
    rates = jnp.logspace(-3, 0, 16)
    gl.sweep_learning_rates("bowl", [-1.0, -1.0], rates, steps=50)
    with count_compiles() as c:
        gl.sweep_learning_rates("bowl", [0.0, -1.0], rates * 0.9, steps=50)
    assert c["n"] <= 1  # the Hessian at x0, not the sweep


def test_sweep_with_another_optax_factory():
    import optax
    sweep = gl.sweep_learning_rates("rosenbrock", [-1.2, 1.0], [1e-3, 1e-2], steps=500,
                                    optimizer=optax.adam)
    assert float(sweep.trajectories.fun[1]) < float(sweep.trajectories.fun[0])


@pytest.mark.parametrize("cost, optimizer", [("rosenbrock", None), ("sine", None),
                                             ("himmelblau", optax.lbfgs())])
def test_a_run_does_not_depend_on_its_batch(cost, optimizer):
    # large batches step only their running runs, a group at a time; each run must
    # come out bitwise as it does in a small batch stepped whole
    cost = gl.get_cost(cost)
    starts = jnp.asarray(sample_starts(cost.bounds, 300, 5))
    assert len(starts) >= _loop.GROUPED_MIN_BATCH > 40
    big = gl.multistart(cost, starts=starts, optimizer=optimizer, steps=60).trajectories
    # the last runs: they fill the last, partial group
    small = gl.multistart(cost, starts=starts[-40:], optimizer=optimizer, steps=60).trajectories
    for field in ("x", "fun", "grad", "status", "nit", "nfev", "xs", "fs", "grad_norms"):
        np.testing.assert_array_equal(getattr(big, field)[-40:], getattr(small, field))
    assert len(set(np.asarray(big.nit).tolist())) > 3  # runs did stop at different steps


def test_a_sweep_does_not_depend_on_its_batch():
    rates = jnp.geomspace(0.01, 1.5, 100)  # many converge, the largest diverge
    big = gl.sweep_learning_rates("bowl", [-1.0, -1.0], rates, steps=100, record_every=10)
    small = gl.sweep_learning_rates("bowl", [-1.0, -1.0], rates[::10], steps=100, record_every=10)
    np.testing.assert_array_equal(big.status[::10], small.status)
    np.testing.assert_array_equal(big.trajectories.xs[::10], small.trajectories.xs)
    assert {gl.Status.CONVERGED, gl.Status.DIVERGED} <= set(np.asarray(big.status).tolist())
