"""Grid search, against numpy on the same grid (in both widths)."""

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import gradlab as gl


def _numpy_grid(fn, axes):
    mesh = np.meshgrid(*[np.asarray(a) for a in axes], indexing="ij")
    return fn(*mesh)


@pytest.mark.parametrize("pointwise", [True, False], ids=["declared pointwise", "general"])
def test_line_grid_matches_a_numpy_reference(width, pointwise):
    data = gl.datasets.line()
    line = gl.fit_cost(gl.models.linear, data, bounds=[(-5, 5), (-5, 0)], pointwise=pointwise)
    x, y = np.asarray(line.data.x, np.float64), np.asarray(line.data.y, np.float64)
    result = gl.grid_search(line, num=[120, 90])
    ref = _numpy_grid(lambda m, b: np.mean((m[..., None] * x + b[..., None] - y) ** 2, -1),
                      result.axes)
    np.testing.assert_allclose(result.values, ref, rtol=200 * width.eps)
    i = np.unravel_index(np.argmin(ref), ref.shape)
    np.testing.assert_array_equal(result.x, [result.axes[0][i[0]], result.axes[1][i[1]]])
    assert float(result.fun) == pytest.approx(ref.min(), rel=200 * width.eps)
    assert result.nfev == 120 * 90 and bool(result.success)


@pytest.mark.parametrize("batch_size", [1, 7, 1000, 10_800])
@pytest.mark.parametrize("keep_values", [True, False])
def test_chunking_never_changes_the_answer(batch_size, keep_values):
    whole = gl.grid_search("himmelblau", num=[120, 90])
    chunked = gl.grid_search("himmelblau", num=[120, 90], batch_size=batch_size,
                             keep_values=keep_values)
    np.testing.assert_array_equal(chunked.x, whole.x)
    assert float(chunked.fun) == float(whole.fun)
    if keep_values:
        np.testing.assert_array_equal(chunked.values, whole.values)


def test_ties_go_to_the_first_point_like_numpy():
    flat = gl.grid_search(lambda p: jnp.sum(p * 0.0), num=5, bounds=[(0, 1)] * 2, batch_size=3,
                          keep_values=False)
    np.testing.assert_array_equal(flat.x, [0.0, 0.0])


def test_one_parameter_sweep_and_three_parameters(width):
    sweep = gl.grid_search("sine", num=5001)
    assert sweep.values.shape == (5001,) and float(sweep.x[0]) == pytest.approx(10.0, abs=0.01)
    cube = gl.grid_search(gl.suite.sphere(3), num=[11, 13, 15])
    assert cube.values.shape == (11, 13, 15)
    ref = _numpy_grid(lambda a, b, c: a**2 + b**2 + c**2, cube.axes)
    np.testing.assert_allclose(cube.values, ref, rtol=4 * width.eps)


@pytest.mark.parametrize("keep_values", [True, False])
def test_nan_values_never_win_and_stay_nan(keep_values):
    result = gl.grid_search(lambda p: jnp.where(p[0] < 0, jnp.nan, (p[0] - 0.5) ** 2),
                            num=11, bounds=[(-1, 1)], keep_values=keep_values, batch_size=3)
    assert float(result.x[0]) == pytest.approx(0.4) or float(result.x[0]) == pytest.approx(0.6)
    assert bool(result.success)
    if keep_values:  # the table shows what the cost returned: NaN, not inf
        assert np.isnan(np.asarray(result.values)[:5]).all()


@pytest.mark.parametrize("value", [jnp.nan, jnp.inf])
@pytest.mark.parametrize("keep_values", [True, False])
def test_a_cost_nan_or_inf_everywhere_is_flagged(value, keep_values):
    result = gl.grid_search(lambda p: value + 0.0 * jnp.sum(p), num=7, bounds=[(0, 1)] * 2,
                            keep_values=keep_values, batch_size=5)
    assert not bool(result.success) and "no grid point has a finite cost" in result.message
    assert np.isnan(np.asarray(result.x)).all() and np.isnan(float(result.fun))
    assert gl.grid_search(lambda p: value + 0.0 * jnp.sum(p), num=7, bounds=[(0, 1)] * 2,
                          polish=True).polish is None


def test_a_false_pointwise_declaration_is_caught():
    x = np.linspace(0, 1, 20)
    centred = lambda p, x: p[0] * (x - jnp.mean(x)) + p[1]  # mixes the data points
    cost = gl.fit_cost(centred, (x, x), bounds=[(-1, 1)] * 2, pointwise=True)
    with pytest.raises(ValueError, match="declared pointwise"):
        gl.grid_search(cost, num=5)


def test_polish_stays_inside_the_bounds_unlike_scipy_brute(x64):
    # the minimum (2, -3) lies outside this box: a polish that leaves it would find it
    cost = gl.get_cost("bowl")
    box = [(-1.0, 1.0), (-1.0, 1.0)]
    result = gl.grid_search(cost, num=7, bounds=box, polish=True)
    np.testing.assert_allclose(result.x, [1.0, -1.0], atol=1e-12)
    inside = gl.grid_search("line", num=30, polish=True)
    np.testing.assert_allclose(inside.x, gl.solve_exact("line").x, rtol=1e-8)
    assert float(inside.fun) < float(inside.grid_fun) and inside.polish is not None


def test_huge_grids_refuse_or_stream():
    with pytest.raises(ValueError, match="max_points"):
        gl.grid_search(gl.suite.sphere(50), num=2)
    with pytest.raises(ValueError, match="keep_values=False"):
        gl.grid_search("bowl", num=20_000)
    with pytest.raises(ValueError, match="chunked=True"):
        gl.grid_search("line", num=2000, chunked=False)


def test_grid_points_are_exactly_linspace(width):
    result = gl.grid_search("bowl", num=[4, 6])
    for axis, (lo, hi), n in zip(result.axes, [(-5, 5), (-5, 0)], [4, 6]):
        np.testing.assert_array_equal(axis, np.linspace(lo, hi, n).astype(width.dtype))
    for i, j in itertools.product(range(4), range(6)):
        x = jnp.array([result.axes[0][i], result.axes[1][j]])
        assert float(result.values[i, j]) == float(gl.get_cost("bowl")(x))
    assert result.axes[0].dtype == width.dtype


def _scan_cost(p, data):  # a cost with a loop inside: its body's values count once
    x, y = data
    def step(acc, xy):
        return acc + (p[0] * jnp.sin(p[1] * xy[0]) - xy[1]) ** 2, None
    return jax.lax.scan(step, jnp.zeros((), p.dtype), (x, y))[0] / x.size


_MEMORY_CASES = {
    "bowl": lambda: gl.get_cost("bowl"),
    "sine": lambda: gl.get_cost("sine"),
    "rastrigin": lambda: gl.get_cost("rastrigin"),
    "fit_cost of a lambda": lambda: gl.fit_cost(
        lambda p, x: p[0] * x + p[1], gl.datasets.line(), bounds=[(-5, 5), (-5, 5)]),
    "two outputs per point": lambda: gl.fit_cost(
        lambda p, x: jnp.stack([p[0] * x, p[1] * x * x], -1),
        (jnp.linspace(0, 1, 300), jnp.ones((300, 2))), bounds=[(-1, 1), (-1, 1)]),
    "a scan over the data": lambda: gl.Cost(
        "scan", _scan_cost, bounds=[(-2, 2), (-2, 2)],
        data=(jnp.linspace(0, 1, 500), jnp.linspace(1, 2, 500))),
}


@pytest.mark.parametrize("grad", [False, True], ids=["values", "gradients"])
@pytest.mark.parametrize("case", list(_MEMORY_CASES))
def test_a_chunks_memory_estimate_bounds_what_xla_allocates(case, grad, width):
    """The chunk size comes from an estimate per point: XLA's own memory analysis of a
    chunk (its temporaries and outputs) must never exceed it."""
    from gradlab import _grid_chunks

    cost = _MEMORY_CASES[case]()
    batch = 2048
    per_point = _grid_chunks.bytes_per_point(cost, cost.dim, width.dtype, pointwise=False,
                                             grad=grad)
    one = jax.grad(cost.objective) if grad else cost.objective
    points = jnp.zeros((batch, cost.dim), width.dtype)
    used = jax.jit(jax.vmap(one)).lower(points).compile().memory_analysis()
    assert used.temp_size_in_bytes + used.output_size_in_bytes <= batch * per_point


def _line_as_plain_function():
    data = gl.datasets.line()
    return lambda p: jnp.mean((p[0] * data.x + p[1] - data.y) ** 2)


def _chunks_run(cost, num, **options):
    """How many chunks a grid search walked (its progress reports say)."""
    totals = []
    gl.grid_search(cost, num=num, progress=lambda done, total: totals.append(total), **options)
    return totals[-1]


def test_a_grid_runs_in_one_chunk_where_xla_says_it_fits(width):
    """The bound counts each of the line's 100-point intermediates as kept; XLA fuses
    them away, and its analysis of the one-chunk program lets the grid run whole."""
    from gradlab import _grid_chunks, grid

    plain, box, budget = _line_as_plain_function(), [(-5.0, 5.0), (-5.0, 0.0)], 2**22
    cost = gl.costs.as_cost(plain, box, need_bounds=True, what="a test")
    bound = _grid_chunks.bytes_per_point(cost, 2, width.dtype, pointwise=False)
    assert 100 * 100 * bound > budget * _grid_chunks.CHUNK_SHARE  # the bound alone would chunk
    axes = grid.grid_axes(box, (100, 100), width.dtype)
    whole = _grid_chunks.chunk_size(cost, axes, (100, 100), budget, program=grid._grid,
                                    keep_values=True, pointwise=False, progress=False)
    assert whole == 100 * 100
    result = gl.grid_search(plain, num=100, bounds=box, memory_budget=budget)
    chunked = gl.grid_search(plain, num=100, bounds=box, batch_size=1000)
    np.testing.assert_array_equal(result.values, chunked.values)
    np.testing.assert_array_equal(result.x, chunked.x)
    # reported progress comes chunk by chunk: there the bound's chunks stay
    assert _chunks_run(plain, 100, bounds=box, memory_budget=budget) > 1


def _sorting(p):  # a sort's intermediates are not fused away: (points, data) kept whole
    return jnp.sort(p[0] * jnp.linspace(0.0, 1.0, 2000) + p[1])[1000]


@pytest.mark.parametrize("keep_values", [True, False])
@pytest.mark.parametrize("case", ["plain function", "a sort inside", "built-in line", "himmelblau"])
def test_the_chunk_chosen_fits_its_share_by_xlas_own_analysis(case, keep_values, width):
    """Whatever decides the chunk (the bound, or XLA's analysis of one chunk), the
    program that runs keeps within its share of the budget, beside its table."""
    from gradlab import _grid_chunks, grid

    budget, shape = 2**22, (200, 200)
    cost = {"plain function": _line_as_plain_function(), "a sort inside": _sorting,
            "built-in line": "line", "himmelblau": "himmelblau"}[case]
    cost = gl.costs.as_cost(cost, [(-5.0, 5.0), (-5.0, 0.0)], need_bounds=True, what="a test")
    pointwise = grid.pointwise_fit(cost)
    axes = grid.grid_axes(cost.bounds, shape, width.dtype)
    batch = _grid_chunks.chunk_size(cost, axes, shape, budget, program=grid._grid,
                                    keep_values=keep_values, pointwise=pointwise, progress=False)
    used = grid._grid.lower(cost.objective, axes, None, shape=shape, batch=batch,
                            keep_values=keep_values, pointwise=pointwise).compile()
    used = used.memory_analysis()
    table = 200 * 200 * np.dtype(width.dtype).itemsize if keep_values else 0
    assert used.temp_size_in_bytes + used.output_size_in_bytes - table <= budget / 8
    if case == "a sort inside":  # 200² points of 2000 sorted values: 320 MB in one chunk
        assert batch < 200 * 200


def test_a_grid_chunked_by_xlas_analysis_compiles_once(count_compiles):
    """Asking XLA compiles the grid's program, the one the call then runs: once."""
    plain, box = _line_as_plain_function(), [(-5.0, 5.0), (-5.0, 0.0)]
    call = lambda: gl.grid_search(plain, num=[151, 149], bounds=box, memory_budget=2**22).x
    with count_compiles() as first:  # a shape no other test uses: all its programs are new
        jax.block_until_ready(call())
    with count_compiles() as second:
        jax.block_until_ready(call())
    assert first["n"] == 2 and second["n"] == 0  # the grid's program and `_combine`'s
