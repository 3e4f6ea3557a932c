"""Many starts: distinct minima, global versus local, basins, learning-rate sweeps.

Minima are clustered and judged at the cost's and the minima's own scale, never
the box's; only minima can be global; unconverged starts are counted apart.
"""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import gradlab as gl
from gradlab import _loop
from gradlab.multistart import sample_starts


def test_himmelblau_gives_exactly_its_four_minima_all_global(width):
    ms = gl.multistart("himmelblau", n_starts=500, seed=0)
    assert len(ms.minima.points) == 4 and bool(ms.minima.is_global.all())
    known = np.array([m.x for m in gl.get_cost("himmelblau").minima])
    for point in ms.minima.points:  # each found minimum is one of the literature's four
        assert np.min(np.max(np.abs(known - point), axis=1)) < 30 * width.sqrt_eps
    assert ms.known_found.all() and list(ms.minima.kind) == ["minimum"] * 4
    assert ms.minima.counts.sum() + np.sum(ms.labels < 0) == 500


def test_rastrigin_finds_the_origin_and_marks_the_rest_local(width):
    ms = gl.multistart("rastrigin", n_starts=1000, seed=0)
    assert np.allclose(ms.best, [0.0, 0.0], atol=30 * width.sqrt_eps)
    assert float(ms.minima.values[0]) < 1e3 * width.eps
    assert ms.minima.is_global.sum() == 1 and len(ms.minima.points) > 10
    # its local minima sit near integer points with values near sum of x_i^2 (about 0.995 each)
    assert np.all(ms.minima.values[1:] > 0.9)


def test_sine_fit_finds_w_10_and_local_minima_with_shares_that_add_up(x64):
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


def test_same_minima_as_scipy_from_the_same_starts(x64):
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


def test_failed_starts_are_labelled_minus_one_not_merged(width):
    cost = gl.Cost("dome", lambda p: -jnp.sum(p**2), bounds=[(-1, 1), (-1, 1)])
    ms = gl.multistart(cost, n_starts=10, seed=0, optimizer=optax.sgd(0.5), steps=50)
    assert not np.any(np.asarray(ms.trajectories.success))  # the cost has no minimum
    assert np.all(ms.labels == -1) and ms.unlabelled_share == 1.0
    assert len(ms.minima.points) == 0 and ms.starts_for_99 == np.inf
    with pytest.raises(ValueError, match="no minimum was found.*reached no stationary point"):
        _ = ms.best


def test_saddles_are_named_from_the_hessian(width):
    cost = gl.Cost("monkey", lambda p: p[0] ** 2 - p[1] ** 2 + 0.25 * p[1] ** 4,
                   bounds=[(-2, 2), (-2, 2)])
    starts = jnp.array([[0.5, 0.0], [0.5, 1.0], [-0.3, -1.0]])  # the first lands on the saddle
    ms = gl.multistart(cost, starts=starts)
    # the saddle at 0 and the minima at (0, ±√2), to the width's sqrt(eps): f cannot
    # tell points nearer than that apart, and the trust region accepts by f
    expected = {"saddle": [0.0, 0.0], "minimum": [0.0, np.sqrt(2)]}
    for kind, where in expected.items():
        found = ms.minima.points[ms.minima.kind == kind]
        assert np.min(np.max(np.abs(np.abs(found) - where), axis=1)) < 10 * width.sqrt_eps


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
    sweep = gl.sweep_learning_rates("rosenbrock", [-1.2, 1.0], [1e-3, 1e-2], steps=500,
                                    optimizer_factory=optax.adam)
    assert float(sweep.trajectories.fun[1]) < float(sweep.trajectories.fun[0])


_T = np.linspace(0.0, 3.0, 30)
# what users write: a plain function summing over its own data (bounds given in the call)
_PLAIN_DECAY = (lambda p: jnp.sum((p[0] * jnp.exp(-p[1] * _T) + p[2]
                                   - (2.0 * np.exp(-0.7 * _T) + 0.5)) ** 2))


@pytest.mark.parametrize("cost, optimizer", [("rosenbrock", None), ("sine", None),
                                             ("himmelblau", optax.lbfgs()),
                                             (_PLAIN_DECAY, None)])
def test_a_run_does_not_depend_on_its_batch(cost, optimizer):
    # a large batch steps its running runs in groups; a small one is one group; one
    # run is a batch XLA would treat as a broadcast: each run must come out bitwise
    # the same in all three (XLA:CPU fuses a·b + c into an FMA inside a kernel, so
    # the bits follow where the program is cut into kernels: `_loop.GROUPED_MIN_BATCH`)
    bounds = [(0.0, 5.0), (0.0, 3.0), (-1.0, 2.0)] if callable(cost) else None
    cost = gl.get_cost(cost) if isinstance(cost, str) else cost
    starts = jnp.asarray(sample_starts(bounds or cost.bounds, 300, 5), dtype=jnp.float32)
    assert len(starts) >= _loop.GROUPED_MIN_BATCH > 40
    big = gl.multistart(cost, starts=starts, optimizer=optimizer, steps=60,
                        bounds=bounds).trajectories
    assert len(set(np.asarray(big.nit).tolist())) > 3  # runs did stop at different steps
    for n in (40, 1):  # the last runs: they fill the last, partial group
        small = gl.multistart(cost, starts=starts[-n:], optimizer=optimizer, steps=60,
                              bounds=bounds)
        last = jax.tree.map(lambda a, n=n: a[-n:], big)
        chex.assert_trees_all_equal(last, small.trajectories)  # every field


_RNG = np.random.default_rng(7)
_A, _B, _T3 = _RNG.normal(size=(4, 4)), _RNG.normal(size=(6, 4)), _RNG.normal(size=(4, 4, 3))
_A_TIMES = jax.jit(lambda q: jnp.dot(q, _A))  # a product inside the user's own jit


def _with_products(p):
    """Every way a cost writes a matrix product: XLA:CPU picks the kernel of each, under
    ``vmap``, by the batch's number of rows (`gradlab._rowwise`)."""
    a, b, t = (jnp.asarray(m, p.dtype) for m in (_A, _B, _T3))
    return (0.1 * p @ a @ p + 0.1 * jnp.sum((b @ p - 1.0) ** 2)
            + 0.05 * jnp.einsum("i,ij,j->", p, a, p) + 0.01 * jnp.sum(_A_TIMES(p) ** 2)
            + 0.01 * jnp.sum(jnp.tensordot(jnp.outer(p, p), t, axes=2) ** 2)
            + 0.01 * jax.checkpoint(lambda q: jnp.sum((a @ q) ** 2))(p)
            + 0.05 * jnp.sum(p**4))


def test_a_cost_s_matrix_products_do_not_tie_a_run_to_its_batch(width):
    # before 2026-12-01 runs in batches of 3 or more ended elsewhere than alone, in
    # their last bits, and in float32 by their place in the batch too
    bounds = [(-2.0, 2.0)] * 4
    starts = jnp.asarray(sample_starts(bounds, 300, 3), dtype=width.dtype)
    runs = lambda s: gl.multistart(_with_products, starts=s, steps=40, bounds=bounds).trajectories
    big = runs(starts)
    for n in (3, 1):
        chex.assert_trees_all_equal(jax.tree.map(lambda a, n=n: a[-n:], big), runs(starts[-n:]))


@pytest.mark.parametrize("n, length", [(64, 64), (300, 304), (1001, 1008)])
def test_the_running_runs_are_stepped_first_in_their_order(n, length):
    # the grouped step's order, against numpy's stable sort (what it replaced, unkeepable)
    rng = np.random.default_rng(n)
    for share in (0.0, 0.03, 0.5, 1.0):
        running = rng.random(n) < share
        expected = np.full(length, n)
        expected[:running.sum()] = np.argsort(~running, kind="stable")[:running.sum()]
        got = jax.jit(_loop._running_first, static_argnums=1)(jnp.asarray(running), length)
        np.testing.assert_array_equal(got, expected)
        # with ranks (a batch of fits: runs that need an SVD first), a stable sort by rank
        rank = rng.integers(0, 3, n)
        key = np.where(running, rank, 3)
        expected[:running.sum()] = np.argsort(key, kind="stable")[:running.sum()]
        ranked = jax.jit(_loop._running_first, static_argnums=(1, 3))
        got = ranked(jnp.asarray(running), length, jnp.asarray(rank, jnp.int32), 3)
        np.testing.assert_array_equal(got, expected)


def test_a_sweep_does_not_depend_on_its_batch():
    rates = jnp.geomspace(0.01, 1.5, 100)  # many converge, the largest diverge
    big = gl.sweep_learning_rates("bowl", [-1.0, -1.0], rates, steps=100, record_every=10)
    small = gl.sweep_learning_rates("bowl", [-1.0, -1.0], rates[::10], steps=100, record_every=10)
    np.testing.assert_array_equal(big.status[::10], small.status)
    np.testing.assert_array_equal(big.trajectories.xs[::10], small.trajectories.xs)
    assert {gl.Status.CONVERGED, gl.Status.DIVERGED} <= set(np.asarray(big.status).tolist())


# -- judged at the problem's scale, never the box's ---------------------------------------------
def _scaled_sine(scale):
    sine = gl.get_cost("sine")
    return gl.fit_cost(gl.models.sine, sine.data, bounds=sine.bounds,
                       loss=lambda prediction, y: scale * gl.models.mse(prediction, y))


@pytest.mark.parametrize("scale", [1e-8, 1e8])
def test_scaling_the_cost_finds_the_same_minima(width, scale):
    plain = gl.multistart("sine", n_starts=300, seed=2)
    scaled = gl.multistart(_scaled_sine(scale), n_starts=300, seed=2)
    assert len(scaled.minima.points) == len(plain.minima.points)
    np.testing.assert_allclose(np.sort(scaled.minima.points[:, 0]),
                               np.sort(plain.minima.points[:, 0]), atol=1e3 * width.sqrt_eps)
    assert scaled.minima.is_global.sum() == 1
    assert float(scaled.best[0]) == pytest.approx(10.0, abs=1e3 * width.sqrt_eps)


def test_one_degenerate_minimum_is_one_minimum(width):
    quartic = gl.Cost("quartic", lambda p: p[0] ** 4 + p[1] ** 4, bounds=[(-2, 2)] * 2)
    ms = gl.multistart(quartic, n_starts=200, seed=0)
    assert len(ms.minima.points) == 1 and list(ms.minima.kind) == ["minimum"]
    assert ms.unlabelled_share == 0.0 and bool(ms.minima.is_global[0])


def test_a_plateau_is_one_flat_entry_and_no_minimum(width):
    plateau = gl.Cost("plateau", lambda p: 0.0 * jnp.sum(p), bounds=[(-1, 1)] * 2)
    ms = gl.multistart(plateau, n_starts=50, seed=0)
    assert list(ms.minima.kind) == ["flat"] and list(ms.minima.counts) == [50]
    assert not ms.minima.is_global.any()
    with pytest.raises(ValueError, match="no minimum was found.*flat"):
        _ = ms.best


def test_wide_bounds_do_not_merge_neighbouring_minima(width):
    # Rastrigin's minima sit a unit apart: on a box of ±600 they must stay apart
    starts = jnp.array([[0.2, 0.1], [-0.1, 0.2], [0.9, 0.05], [1.1, -0.1]])
    ms = gl.multistart("rastrigin", starts=starts, bounds=[(-600.0, 600.0)] * 2)
    assert len(ms.minima.points) == 2 and list(ms.labels) == [0, 0, 1, 1]
    assert list(ms.minima.is_global) == [True, False]
    np.testing.assert_allclose(ms.best, [0.0, 0.0], atol=30 * width.sqrt_eps)
    assert ms.starts_for_99 == starts_needed_for(0.5)


def starts_needed_for(share):
    return float(np.ceil(np.log(0.01) / np.log(1 - share)))


def test_a_saddle_is_never_global_nor_best(width):
    monkey = gl.Cost("monkey", lambda p: p[0] ** 2 - p[1] ** 2 + 0.25 * p[1] ** 4,
                     bounds=[(-2, 2), (-2, 2)])
    ms = gl.multistart(monkey, starts=jnp.array([[0.5, 0.0], [1.0, 0.0]]))  # on its axis
    assert list(ms.minima.kind) == ["saddle"] and not ms.minima.is_global.any()
    with pytest.raises(ValueError, match="no minimum was found.*saddle"):
        _ = ms.best
    assert ms.starts_for_99 == np.inf


def test_a_minimum_on_the_boundary_of_a_projected_run_is_a_minimum(width):
    # the bowl's minimum (2, -3) lies outside [-1, 1]²: projected runs end on the corner
    ms = gl.multistart("bowl", n_starts=40, seed=0, bounds=[(-1.0, 1.0), (-1.0, 1.0)],
                       project=True)
    assert list(ms.minima.kind) == ["minimum"] and bool(ms.minima.is_global[0])
    np.testing.assert_allclose(ms.best, [1.0, -1.0])


def test_an_optimiser_that_does_not_move_finds_nothing(width):
    ms = gl.multistart("himmelblau", n_starts=20, seed=0, optimizer=optax.adam(0.0))
    assert np.all(np.asarray(ms.trajectories.status) == gl.Status.STALLED)
    assert len(ms.minima.points) == 0 and ms.unlabelled_share == 1.0


def test_new_bounds_neither_recompile_nor_grow_memory(count_compiles):
    gl.multistart("himmelblau", n_starts=32, seed=0, bounds=[(-5.0, 5.0)] * 2)
    with count_compiles() as c:
        for width in (4.0, 3.0, 6.0):
            gl.multistart("himmelblau", n_starts=32, seed=1, bounds=[(-width, width)] * 2)
    assert c["n"] == 0


def test_a_start_given_on_a_bound_is_inside_it_in_either_width(width):
    # a bound of 1e-3 and a start on it: rounded to float32 the start is 1e-3·(1 + 5e-8),
    # above the float64 bound, and was refused as outside
    bounds = [(-1.0, 1.0), (-1e-3, 1e-3)]
    starts = np.array([[1.0, 1e-3], [-0.5, -1e-3]], width.dtype)
    ms = gl.multistart(lambda p: jnp.sum(p**2), starts=starts, bounds=bounds, steps=50)
    assert np.asarray(ms.trajectories.success).all()
