"""The lax.scan descent loop: the course's rule, optax optimisers, stopping as data, compiles."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import optax.tree_utils as otu
import pytest
from problems import PROBLEMS

import gradlab as gl

LBFGS = optax.lbfgs()


def test_bowl_reproduces_the_course_update_rule_step_by_step():
    traj = gl.descend("bowl", [-1.0, -1.0], learning_rate=0.1, steps=50)
    # the course's loop, by hand: both parameters updated simultaneously
    m, b, path = -1.0, -1.0, [(-1.0, -1.0)]
    for _ in range(50):
        dm, db = 2 * (m - 2), 2 * (b + 3)
        m, b = m - 0.1 * dm, b - 0.1 * db
        path.append((m, b))
    np.testing.assert_allclose(traj.xs, np.array(path), rtol=1e-14, atol=1e-14)
    np.testing.assert_allclose(traj.fs, [(m - 2) ** 2 + (b + 3) ** 2 for m, b in path], atol=1e-14)
    np.testing.assert_allclose(traj.x, [2.0, -3.0], atol=1e-4)
    assert traj.xs.shape == (51, 2) and traj.fs.shape == (51,) and traj.grad_norms.shape == (51,)
    assert int(traj.nit) == 50 and int(traj.status) == gl.Status.MAX_STEPS
    assert int(traj.nfev) == 51


def test_descent_on_the_line_reaches_the_exact_answer():
    traj = gl.descend("line", [0.0, 0.0], learning_rate=0.5, steps=2000)
    assert bool(traj.success)
    np.testing.assert_allclose(traj.x, gl.solve_exact("line").x, atol=1e-5)


def test_lbfgs_minimises_rosenbrock_to_1e_10_like_optax_documented_loop():
    traj = gl.descend("rosenbrock", [-1.2, 1.0], optimizer=LBFGS, steps=200, gtol=1e-12)
    assert float(traj.fun) < 1e-10 and bool(traj.success)
    np.testing.assert_allclose(traj.x, [1.0, 1.0], atol=1e-6)
    # optax's own loop (its docs): value_and_grad_from_state + update(value, grad, value_fn)
    fn = gl.get_cost("rosenbrock")
    opt, params = optax.lbfgs(), jnp.array([-1.2, 1.0])
    state = opt.init(params)
    value_and_grad = optax.value_and_grad_from_state(fn)

    @jax.jit
    def step(params, state):
        value, grad = value_and_grad(params, state=state)
        updates, state = opt.update(grad, state, params, value=value, grad=grad, value_fn=fn)
        return optax.apply_updates(params, updates), state

    for _ in range(int(traj.nit)):
        params, state = step(params, state)
    np.testing.assert_allclose(traj.x, params, rtol=1e-12)
    assert int(traj.nfev) > int(traj.nit)  # line-search evaluations are counted
    assert otu.tree_get(state, "num_linesearch_steps") is not None


@pytest.mark.parametrize(("name", "x0", "expected", "value"), PROBLEMS)
def test_lbfgs_reaches_every_known_minimum_of_the_problem_table(name, x0, expected, value):
    traj = gl.descend(name, x0, optimizer=LBFGS, steps=300)
    assert bool(traj.success), traj.message
    np.testing.assert_allclose(traj.x, expected, atol=1e-5)
    assert float(traj.fun) == pytest.approx(value, abs=1e-9)


@pytest.mark.parametrize("opt", [optax.sgd(0.05, momentum=0.9), optax.adam(0.05),
                                 optax.chain(optax.clip_by_global_norm(1.0), optax.sgd(0.2))])
def test_any_optax_transformation(opt):
    traj = gl.descend("bowl", [-1.0, -1.0], optimizer=opt, steps=1000)
    np.testing.assert_allclose(traj.x, [2.0, -3.0], atol=1e-3)


def test_too_large_a_learning_rate_diverges_as_data_and_spares_the_rest_under_vmap():
    bowl = gl.get_cost("bowl")
    rates = jnp.array([0.1, 1.5, 0.3])
    run = jax.vmap(lambda lr: gl.descend(bowl, jnp.array([-1.0, -1.0]), learning_rate=lr,
                                         steps=200))
    batch = run(rates)
    assert [gl.Status(int(s)) for s in batch.status] == [
        gl.Status.CONVERGED, gl.Status.DIVERGED, gl.Status.CONVERGED]
    for i in (0, 2):  # bitwise the same as running alone
        alone = gl.descend(bowl, [-1.0, -1.0], learning_rate=float(rates[i]), steps=200)
        np.testing.assert_array_equal(batch.xs[i], alone.xs)
    assert np.all(np.isfinite(batch.x))


def test_nonfinite_keeps_the_last_finite_point():
    cost = gl.Cost("cliff", lambda p: jnp.where(p[0] > 1.0, jnp.nan, (p[0] - 3.0) ** 2),
                   bounds=[(-2, 4)])
    traj = gl.descend(cost, [0.0], learning_rate=0.1, steps=20)
    assert int(traj.status) == gl.Status.NONFINITE and not bool(traj.success)
    assert float(traj.x[0]) <= 1.0 and np.isfinite(float(traj.fun))
    assert int(traj.nit) < 20 and "NaN" in traj.message


def test_converged_runs_freeze_their_state():
    traj = gl.descend("sphere", [1.0, 1.0], learning_rate=0.5, steps=10)
    assert int(traj.status) == gl.Status.CONVERGED and int(traj.nit) == 1
    np.testing.assert_array_equal(traj.xs[1:], np.zeros((10, 2)))


def test_record_every_thins_the_history():
    full = gl.descend("rosenbrock", [-1.2, 1.0], optimizer=optax.adam(0.01), steps=600)
    thin = gl.descend("rosenbrock", [-1.2, 1.0], optimizer=optax.adam(0.01), steps=600,
                      record_every=100)
    assert thin.xs.shape == (7, 2)
    np.testing.assert_allclose(thin.xs, full.xs[::100], rtol=1e-12)
    np.testing.assert_allclose(thin.x, full.x, rtol=1e-12)


def _log_bowl(x):  # NaN once a step leaves x > 0
    return jnp.sum(jnp.log(x) ** 2)


@pytest.mark.parametrize("cost, x0, rate, steps, gtol, expected", [
    ("bowl", [-1.0, -1.0], 0.1, 120, None, gl.Status.CONVERGED),  # small gradient
    ("bowl", [-1.0, -1.0], 0.5, 40, 0.0, gl.Status.CONVERGED),  # stalls at the minimum
    ("bowl", [-1.0, -1.0], 1.2, 120, None, gl.Status.DIVERGED),  # runs away
    (_log_bowl, [0.5, 2.0], 3.0, 40, None, gl.Status.NONFINITE),
    ("rosenbrock", [-1.2, 1.0], 1e-4, 40, None, gl.Status.MAX_STEPS),
])
def test_judging_the_whole_history_agrees_with_the_step_by_step_loop(cost, x0, rate, steps, gtol,
                                                                     expected):
    # record_every=1 judges the stopping rules after the loop; record_every > 1 runs
    # them step by step: the outcomes must be the same
    judged = gl.descend(cost, x0, learning_rate=rate, steps=steps, gtol=gtol)
    stepped = gl.descend(cost, x0, learning_rate=rate, steps=steps, gtol=gtol, record_every=steps)
    assert int(judged.status) == int(stepped.status) == expected
    assert int(judged.nit) == int(stepped.nit) and int(judged.nfev) == int(stepped.nfev)
    np.testing.assert_allclose(judged.x, stepped.x, rtol=1e-14)
    np.testing.assert_allclose(judged.fun, stepped.fun, rtol=1e-14)
    np.testing.assert_allclose(judged.grad, stepped.grad, rtol=1e-12, atol=1e-300)
    np.testing.assert_allclose(np.asarray(judged.xs)[[0, -1]], stepped.xs, rtol=1e-14)
    frozen = int(judged.nit) if expected != gl.Status.NONFINITE else int(judged.nit) - 1
    held = np.asarray(judged.xs)[frozen:]
    np.testing.assert_array_equal(held, np.broadcast_to(judged.x, held.shape))


def test_projected_steps_stay_inside_the_bounds():
    traj = gl.descend("bowl", [0.0, -1.0], learning_rate=0.3, steps=100,
                      bounds=[(-1.0, 1.0), (-1.0, 1.0)])
    assert np.all(np.asarray(traj.xs) <= 1.0) and np.all(np.asarray(traj.xs) >= -1.0)
    np.testing.assert_allclose(traj.x, [1.0, -1.0])


def test_no_recompile_for_new_x0_new_rate_or_new_data(count_compiles):
    line = gl.get_cost("line")
    gl.descend(line, [0.0, 0.0], learning_rate=0.1, steps=30)
    new_data = gl.fit_cost(gl.models.linear, gl.datasets.line(seed=7), bounds=line.bounds,
                           name="line", grad=line.grad, minima=line.minima, names=line.names,
                           tags=line.tags, description=line.description)
    with count_compiles() as c:
        gl.descend(line, [1.0, -1.0], learning_rate=0.1, steps=30)
        gl.descend(line, [1.0, -1.0], learning_rate=0.37, steps=30)
        gl.descend(new_data, [0.5, 0.5], learning_rate=0.2, steps=30, gtol=1e-9)
    assert c["n"] == 0
    gl.descend("bowl", [0.0, 0.0], optimizer=LBFGS, steps=30)
    with count_compiles() as c:
        gl.descend("bowl", [1.0, -2.0], optimizer=LBFGS, steps=30)
    assert c["n"] == 0


def test_descend_under_jit_and_vmap_over_starts():
    bowl = gl.get_cost("bowl")
    starts = jnp.array([[-1.0, -1.0], [4.0, -4.0], [0.0, 0.0]])
    batch = jax.jit(jax.vmap(lambda x0: gl.descend(bowl, x0, learning_rate=0.2, steps=100)))(starts)
    assert batch.xs.shape == (3, 101, 2)
    np.testing.assert_allclose(batch.x, np.tile([2.0, -3.0], (3, 1)), atol=1e-6)


def test_descend_inside_a_users_jit_leaks_no_tracer():
    # rates and tolerances given as Python numbers are cached as device arrays:
    # made inside a trace, they must still be concrete
    from gradlab.descent import device_scalar

    rate = 0.1234567
    inside = jax.jit(lambda x0: gl.descend("bowl", x0, learning_rate=rate, steps=20).x)
    x_in = inside(jnp.zeros(2))
    assert not isinstance(device_scalar(rate, jnp.float64), jax.core.Tracer)
    x_out = gl.descend("bowl", jnp.zeros(2), learning_rate=rate, steps=20).x
    np.testing.assert_array_equal(x_in, x_out)
