"""Cost, the registry, models, datasets, and the contract every registered cost passes."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import gradlab as gl
from gradlab import suite
from gradlab.testing import check_cost

ALL = [c.name for c in gl.list_costs()]


@pytest.mark.parametrize("name", ALL)
def test_every_registered_cost_honours_the_contract(x64, name):
    report = check_cost(gl.get_cost(name), n_probe=20_000)
    assert report.passed, report.problems


@pytest.mark.parametrize(("factory", "d"), [
    (factory, d) for factory in (suite.sphere, suite.rosenbrock, suite.rastrigin, suite.ackley,
                                 suite.styblinski_tang, suite.levy)
    for d in (1, 4) if not (factory is suite.rosenbrock and d == 1)  # rosenbrock needs d >= 2
])
def test_n_dimensional_costs_honour_the_contract_in_other_dimensions(x64, factory, d):
    report = check_cost(factory(d), n_probe=4_000)
    assert report.passed, report.problems


def test_published_values(x64):
    """Minima as published (Jamil & Yang 2013; Surjanovic & Bingham), spot-checked."""
    assert float(gl.get_cost("styblinski-tang")(jnp.full(2, -2.903534))) == pytest.approx(
        -78.33233, abs=1e-5)
    assert float(gl.get_cost("three-hump-camel")(jnp.array([1.7475523, -0.8737761]))) \
        == pytest.approx(0.2986384, abs=1e-6)  # its local minima, above the global 0
    assert float(gl.get_cost("beale")(jnp.array([0.0, 0.0]))) == pytest.approx(14.203125)
    assert float(gl.get_cost("rosenbrock")(jnp.array([-1.2, 1.0]))) == pytest.approx(24.2)


def test_course_costs_are_the_course_definitions(x64):
    bowl, line, sine = gl.get_cost("bowl"), gl.get_cost("line"), gl.get_cost("sine")
    assert bowl.bounds == ((-5.0, 5.0), (-5.0, 0.0)) and bowl.names == ("m", "b")
    x, y = np.asarray(line.data.x), np.asarray(line.data.y)
    assert x.shape == (100,) and x.min() == -1 and x.max() == 1
    noise = y - (2 * x - 3)
    assert abs(noise.std() - 0.25) < 0.05 and abs(noise.mean()) < 0.1
    p = jnp.array([1.5, -2.5])
    assert float(line(p)) == pytest.approx(np.mean((1.5 * x - 2.5 - y) ** 2), rel=1e-14)
    assert sine.data.x.shape == (500,) and sine.bounds == ((0.0, 50.0),)
    np.testing.assert_allclose(sine.data.y, np.sin(10 * np.asarray(sine.data.x)), rtol=1e-14)


def test_registry_register_get_list_and_replace():
    cost = gl.Cost("test-registry", lambda p: jnp.sum(p**2), bounds=[(-1, 1)] * 3, tags={"x"})
    gl.register(cost)
    try:
        assert gl.get_cost("test-registry") is cost
        assert cost in gl.list_costs(dim=3) and cost in gl.list_costs(tag="x")
        assert all(c.dim == 1 for c in gl.list_costs(dim=1))
        with pytest.raises(ValueError, match="already registered"):
            gl.register(cost)
        other = cost.replace(tags={"y"})
        gl.register(other, replace=True)
        assert gl.get_cost("test-registry") is other
    finally:
        gl.unregister("test-registry")
    with pytest.raises(ValueError, match="known costs: .*bowl"):
        gl.get_cost("test-registry")


def test_builtins_take_the_float_dtype_in_force_when_looked_up():
    assert gl.get_cost("line").data.x.dtype == jnp.float32
    with jax.enable_x64(True):
        assert gl.get_cost("line").data.x.dtype == jnp.float64
        assert gl.get_cost("line") is gl.get_cost("line")  # built once per width
    assert gl.get_cost("line").data.x.dtype == jnp.float32


def test_a_plain_callable_is_accepted_wherever_a_cost_is(width):
    traj = gl.descend(lambda p: jnp.sum((p - 1.0) ** 2), [0.0, 0.0], learning_rate=0.25, steps=60)
    np.testing.assert_allclose(traj.x, [1.0, 1.0], atol=1e-6)
    grid = gl.grid_search(lambda p: jnp.sum((p - 1.0) ** 2), num=21, bounds=[(0, 2)] * 2)
    np.testing.assert_allclose(grid.x, [1.0, 1.0])


def test_models_and_losses_against_numpy(x64):
    x = np.linspace(-2, 2, 7)
    p = jnp.array([0.5, -1.0, 2.0])
    np.testing.assert_allclose(gl.models.polynomial(p, x), 0.5 - x + 2 * x**2, rtol=1e-14)
    np.testing.assert_allclose(gl.models.linear(p[:2], x), 0.5 * x - 1.0)
    np.testing.assert_allclose(gl.models.sine(p[:1], x), np.sin(0.5 * x))
    pred, y = np.array([1.0, 2.0, 5.0]), np.array([1.0, 0.0, 1.0])
    assert float(gl.models.mse(pred, y)) == pytest.approx(20 / 3)
    assert float(gl.models.mae(pred, y)) == pytest.approx(2.0)
    assert float(gl.models.huber(pred, y)) == pytest.approx((1.5 + 3.5) / 3)


def test_fit_cost_with_any_model_and_a_tuple_of_data(width):
    x_obs = np.linspace(0, 5, 40)
    y_obs = 3.0 * (1 - np.exp(-0.7 * x_obs))
    expo = gl.fit_cost(lambda p, x: p[0] * (1 - jnp.exp(-p[1] * x)), (x_obs, y_obs))
    assert expo.dim is None
    assert float(expo(jnp.array([3.0, 0.7]))) == pytest.approx(0, abs=100 * width.eps**2)
    traj = gl.descend(expo, [1.0, 1.0], optimizer=optax.lbfgs(), steps=200)
    assert bool(traj.success)
    np.testing.assert_allclose(traj.x, [3.0, 0.7], rtol=100 * width.sqrt_eps)


# -- every fit fit_cost accepts works in every solver -------------------------------------------
def _two_outputs(p, x):
    return jnp.stack([p[0] * x + p[1], p[2] * jnp.sin(x)], axis=-1)  # a row, or all rows


@pytest.mark.parametrize("pointwise", [False, True])
def test_a_fit_with_two_outputs_per_point_works_in_every_solver(width, pointwise):
    x = np.linspace(-1, 1, 40)
    y = np.stack([2 * x - 1, 0.5 * np.sin(x)], axis=1)
    cost = gl.fit_cost(_two_outputs, (x, y), bounds=[(-3, 3)] * 3, pointwise=pointwise)
    truth = [2.0, -1.0, 0.5]
    assert float(cost(jnp.asarray(truth))) == pytest.approx(0.0, abs=100 * width.eps)
    traj = gl.descend(cost, [0.0, 0.0, 0.0], optimizer=optax.lbfgs(), steps=200)
    assert bool(traj.success)
    np.testing.assert_allclose(traj.x, truth, atol=100 * width.sqrt_eps)
    ms = gl.multistart(cost, n_starts=8, seed=0)
    np.testing.assert_allclose(ms.best, truth, atol=100 * width.sqrt_eps)
    grid = gl.grid_search(cost, num=[9, 9, 5])
    with jax.enable_x64(True):
        reference = float(np.mean((_two_outputs(np.asarray(grid.x, float), x) - y) ** 2))
    assert float(grid.fun) == pytest.approx(reference, rel=1e3 * width.eps)
    np.testing.assert_allclose(gl.solve_exact(cost).x, truth, atol=1e3 * width.eps)


@pytest.mark.parametrize(("model", "shape"), [(lambda p, x: (p[0] * x)[:, None], "(40, 1)"),
                                              (lambda p, x: p[0] * x[:20], "(20,)"),
                                              (lambda p, x: p[0] + 0.0 * x.sum(), "()")])
def test_a_prediction_that_would_broadcast_is_refused_naming_its_shape(model, shape,
                                                                       count_compiles):
    x = np.linspace(0, 1, 40)
    cost = gl.fit_cost(model, (x, 2 * x))
    with count_compiles() as c, pytest.raises(ValueError) as info:
        gl.descend(cost, [1.0], learning_rate=0.1)
    message = str(info.value)
    assert shape in message and "(40,)" in message and "y has shape" in message
    assert c["n"] == 0


def test_bounds_whose_width_overflows_are_refused():
    with pytest.raises(ValueError, match=r"bounds\[0\].*finite width"):
        gl.Cost("huge", lambda p: jnp.sum(p**2), bounds=[(-1e308, 1e308)])


def test_datasets_are_seeded():
    a, b = gl.datasets.line(seed=3), gl.datasets.line(seed=3)
    np.testing.assert_array_equal(a.y, b.y)
    assert not np.array_equal(a.y, gl.datasets.line(seed=4).y)
    assert gl.datasets.sine(n=50, w=3.0).y.shape == (50,)
