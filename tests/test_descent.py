"""The lax.scan descent loop: the course's rule, optax optimisers, stopping as data, compiles.

Solver tests run in both widths (the ``width`` fixture); references that need
float64 digits use the ``x64`` fixture.
"""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import optax.tree_utils as otu
import pytest
from problems import PROBLEMS

import gradlab as gl

LBFGS = optax.lbfgs()


def test_bowl_reproduces_the_course_update_rule_step_by_step(width):
    traj = gl.descend("bowl", [-1.0, -1.0], learning_rate=0.1, steps=50)
    # the course's loop, by hand: both parameters updated simultaneously, in the width
    m, b, path = width.dtype(-1.0), width.dtype(-1.0), [(-1.0, -1.0)]
    rate, two = width.dtype(0.1), width.dtype(2)
    for _ in range(50):
        dm, db = two * (m - two), two * (b + width.dtype(3))
        m, b = m - rate * dm, b - rate * db
        path.append((m, b))
    assert traj.xs.dtype == width.dtype
    np.testing.assert_allclose(traj.xs, np.array(path), rtol=4 * width.eps, atol=4 * width.eps)
    np.testing.assert_allclose(traj.fs, [(m - 2) ** 2 + (b + 3) ** 2 for m, b in path],
                               rtol=8 * width.eps, atol=8 * width.eps)
    np.testing.assert_allclose(traj.x, [2.0, -3.0], atol=1e-4)
    assert traj.xs.shape == (51, 2) and traj.fs.shape == (51,) and traj.grad_norms.shape == (51,)
    # 50 steps leave x within 2e-5 of (2, -3): inside float32's sqrt(eps) of the
    # parameters' size (converged in that width), far outside float64's (still moving)
    expected = gl.Status.MAX_STEPS if width.x64 else gl.Status.CONVERGED
    assert int(traj.nit) == 50 and int(traj.status) == expected
    assert int(traj.nfev) == 51


def test_descent_on_the_line_reaches_the_exact_answer(width):
    traj = gl.descend("line", [0.0, 0.0], learning_rate=0.5, steps=2000)
    assert bool(traj.success)
    np.testing.assert_allclose(traj.x, gl.solve_exact("line").x, atol=30 * width.sqrt_eps ** 1.5)


def test_lbfgs_minimises_rosenbrock_to_1e_10_like_optax_documented_loop(x64):
    traj = gl.descend("rosenbrock", [-1.2, 1.0], optimizer=LBFGS, steps=200)
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
def test_lbfgs_reaches_every_known_minimum_of_the_problem_table(width, name, x0, expected,
                                                                 value):
    traj = gl.descend(name, x0, optimizer=LBFGS, steps=300)
    assert bool(traj.success), traj.message
    # x to the width's sqrt(eps) (the minimum is flat), f to its eps
    np.testing.assert_allclose(traj.x, expected, atol=30 * width.sqrt_eps)
    assert float(traj.fun) == pytest.approx(value, abs=30 * width.eps * max(1.0, abs(value)))


# -- the recorded history is always the cost's own ----------------------------------------------
def _trust_then_scale():
    return optax.chain(gl.optimizers.trust_newton(), optax.scale(0.5))


OPTIMIZERS = {
    "lbfgs": lambda: LBFGS,
    "lbfgs then clip": lambda: optax.chain(optax.lbfgs(), optax.clip_by_global_norm(0.05)),
    "clip then lbfgs": lambda: optax.chain(optax.clip_by_global_norm(1.0), optax.lbfgs()),
    "two line searches": lambda: optax.chain(optax.lbfgs(), optax.scale_by_zoom_linesearch(15)),
    "backtracking without grad": lambda: optax.chain(
        optax.sgd(1e-3), optax.scale_by_backtracking_linesearch(15)),
    "backtracking with grad": lambda: optax.chain(
        optax.sgd(1e-3), optax.scale_by_backtracking_linesearch(15, store_grad=True)),
    "injected line search": lambda: optax.chain(optax.sgd(1e-3), optax.inject_hyperparams(
        optax.scale_by_backtracking_linesearch,
        static_args=("max_backtracking_steps", "store_grad"))(
            max_backtracking_steps=15, store_grad=True)),
    "trust_newton": lambda: gl.optimizers.trust_newton(),
    "trust_newton then scale": _trust_then_scale,
    "adam": lambda: optax.adam(0.05),
}


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_recorded_values_are_the_cost_at_the_recorded_points(x64, name):
    # a line search's stored value is reused only when its update is the one applied
    # (to roundoff: a line search forms x + t·d its own way, an ulp from optax's)
    rosen = gl.get_cost("rosenbrock")
    traj = gl.descend(rosen, [-1.2, 1.0], optimizer=OPTIMIZERS[name](), steps=60)
    xs = np.asarray(traj.xs)
    np.testing.assert_allclose(traj.fs, jax.vmap(rosen)(xs), rtol=1e-10, atol=1e-14)
    norms = np.linalg.norm(jax.vmap(jax.grad(rosen))(xs), axis=1)
    np.testing.assert_allclose(traj.grad_norms, norms, rtol=1e-7, atol=1e-10)
    assert int(traj.nfev) >= int(traj.nit)


def test_a_chain_ending_in_clipping_runs_as_in_a_hand_written_loop(x64):
    # optax's documented loop, recomputing value and gradient each step (a line
    # search followed by clipping stores values at a point the chain never moves to)
    opt = optax.chain(optax.lbfgs(), optax.clip_by_global_norm(0.05))
    rosen = gl.get_cost("rosenbrock")
    traj = gl.descend(rosen, [-1.2, 1.0], optimizer=opt, steps=200)
    params, state = jnp.array([-1.2, 1.0]), opt.init(jnp.array([-1.2, 1.0]))

    @jax.jit
    def step(params, state):
        value, grad = jax.value_and_grad(rosen)(params)
        updates, state = opt.update(grad, state, params, value=value, grad=grad, value_fn=rosen)
        return optax.apply_updates(params, updates), state

    for _ in range(int(traj.nit)):
        params, state = step(params, state)
    np.testing.assert_allclose(traj.x, params, rtol=1e-10)
    assert float(traj.fun) < 0.1


@pytest.mark.parametrize("opt", [optax.sgd(0.05, momentum=0.9), optax.adam(0.05),
                                 optax.chain(optax.clip_by_global_norm(1.0), optax.sgd(0.2))])
def test_any_optax_transformation(opt):
    traj = gl.descend("bowl", [-1.0, -1.0], optimizer=opt, steps=1000)
    np.testing.assert_allclose(traj.x, [2.0, -3.0], atol=1e-3)


def test_too_large_a_learning_rate_diverges_as_data_and_spares_the_rest_under_vmap(width):
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


def test_nonfinite_keeps_the_last_finite_point(width):
    cost = gl.Cost("cliff", lambda p: jnp.where(p[0] > 1.0, jnp.nan, (p[0] - 3.0) ** 2),
                   bounds=[(-2, 4)])
    traj = gl.descend(cost, [0.0], learning_rate=0.1, steps=20)
    assert int(traj.status) == gl.Status.NONFINITE and not bool(traj.success)
    assert float(traj.x[0]) <= 1.0 and np.isfinite(float(traj.fun))
    assert int(traj.nit) < 20 and "NaN" in traj.message


def test_converged_runs_freeze_their_state(width):
    traj = gl.descend("sphere", [1.0, 1.0], learning_rate=0.5, steps=10)
    assert int(traj.status) == gl.Status.CONVERGED and int(traj.nit) == 1
    np.testing.assert_array_equal(traj.xs[1:], np.zeros((10, 2)))


def test_record_every_thins_the_history(width):
    full = gl.descend("rosenbrock", [-1.2, 1.0], optimizer=optax.adam(0.01), steps=600)
    thin = gl.descend("rosenbrock", [-1.2, 1.0], optimizer=optax.adam(0.01), steps=600,
                      record_every=100)
    assert thin.xs.shape == (7, 2)
    np.testing.assert_allclose(thin.xs, full.xs[::100], rtol=100 * width.eps)
    np.testing.assert_allclose(thin.x, full.x, rtol=100 * width.eps)


def _log_bowl(x):  # NaN once a step leaves x > 0
    return jnp.sum(jnp.log(x) ** 2)


@pytest.mark.parametrize("cost, x0, rate, steps, gtol, expected", [
    ("bowl", [-1.0, -1.0], 0.1, 300, None, gl.Status.CONVERGED),  # stalls at the minimum
    ("bowl", [-1.0, -1.0], 0.1, 120, 1e-3, gl.Status.CONVERGED),  # below the user's gtol
    ("bowl", [-1.0, -1.0], 1e-9, 40, None, gl.Status.STALLED),  # stalls far from it (f32)
    ("bowl", [-1.0, -1.0], 1.2, 120, None, gl.Status.DIVERGED),  # runs away
    (_log_bowl, [0.5, 2.0], 3.0, 40, None, gl.Status.NONFINITE),
    ("rosenbrock", [-1.2, 1.0], 1e-4, 40, None, gl.Status.MAX_STEPS),
])
def test_judging_the_whole_history_agrees_with_the_step_by_step_loop(cost, x0, rate, steps, gtol,
                                                                     expected):
    # record_every=1 judges the stopping rules after the loop; record_every > 1 runs
    # them step by step: the outcomes must be the same (float32, where 1e-9 stalls)
    judged = gl.descend(cost, x0, learning_rate=rate, steps=steps, gtol=gtol)
    stepped = gl.descend(cost, x0, learning_rate=rate, steps=steps, gtol=gtol, record_every=steps)
    assert int(judged.status) == int(stepped.status) == expected
    assert int(judged.nit) == int(stepped.nit) and int(judged.nfev) == int(stepped.nfev)
    np.testing.assert_array_equal(judged.x, stepped.x)
    np.testing.assert_array_equal(judged.fun, stepped.fun)
    np.testing.assert_allclose(judged.grad, stepped.grad, rtol=1e-6, atol=1e-30)
    np.testing.assert_array_equal(np.asarray(judged.xs)[[0, -1]], stepped.xs)
    frozen = int(judged.nit) if expected != gl.Status.NONFINITE else int(judged.nit) - 1
    held = np.asarray(judged.xs)[frozen:]
    np.testing.assert_array_equal(held, np.broadcast_to(judged.x, held.shape))


def test_projected_steps_stay_inside_the_bounds():
    traj = gl.descend("bowl", [0.0, -1.0], learning_rate=0.3, steps=100,
                      bounds=[(-1.0, 1.0), (-1.0, 1.0)])
    assert np.all(np.asarray(traj.xs) <= 1.0) and np.all(np.asarray(traj.xs) >= -1.0)
    np.testing.assert_allclose(traj.x, [1.0, -1.0])


def test_no_recompile_for_new_x0_new_rate_new_data_or_a_new_name(count_compiles):
    line = gl.get_cost("line")
    gl.descend(line, [0.0, 0.0], learning_rate=0.1, steps=30)
    new_data = gl.fit_cost(gl.models.linear, gl.datasets.line(seed=7), bounds=[(-9, 9)] * 2,
                           name="another line", grad=line.grad, names=("slope", "intercept"),
                           description="renamed, with other bounds and no minima")
    with count_compiles() as c:
        gl.descend(line, [1.0, -1.0], learning_rate=0.1, steps=30)
        gl.descend(line, [1.0, -1.0], learning_rate=0.37, steps=30)
        gl.descend(new_data, [0.5, 0.5], learning_rate=0.2, steps=30, gtol=1e-9)
        gl.descend(line.replace(name="renamed", description="x"), [0.5, 0.5],
                   learning_rate=0.2, steps=30)
    assert c["n"] == 0
    gl.descend("bowl", [0.0, 0.0], optimizer=LBFGS, steps=30)
    with count_compiles() as c:
        gl.descend("bowl", [1.0, -2.0], optimizer=LBFGS, steps=30)
    assert c["n"] == 0


def test_descend_under_jit_and_vmap_over_starts(width):
    bowl = gl.get_cost("bowl")
    starts = jnp.array([[-1.0, -1.0], [4.0, -4.0], [0.0, 0.0]])
    batch = jax.jit(jax.vmap(lambda x0: gl.descend(bowl, x0, learning_rate=0.2, steps=100)))(starts)
    assert batch.xs.shape == (3, 101, 2)
    np.testing.assert_allclose(batch.x, np.tile([2.0, -3.0], (3, 1)), atol=1e-6)


def test_descend_inside_a_users_jit_leaks_no_tracer():
    # rates and tolerances given as Python numbers are cached as device arrays:
    # made inside a trace, they must still be concrete
    from gradlab.stopping import scalar

    rate = 0.1234567
    inside = jax.jit(lambda x0: gl.descend("bowl", x0, learning_rate=rate, steps=20).x)
    x_in = inside(jnp.zeros(2))
    assert not isinstance(scalar(rate, jnp.float32), jax.core.Tracer)
    x_out = gl.descend("bowl", jnp.zeros(2), learning_rate=rate, steps=20).x
    np.testing.assert_array_equal(x_in, x_out)


# -- what users write compiles and traces once -------------------------------------------------
def _traced_calls():
    calls = []

    def cost(p):
        calls.append(1)  # runs only while JAX traces the function
        return jnp.sum((p - 1.0) ** 2)

    return cost, calls


def test_a_plain_function_is_traced_once_not_per_call(count_compiles):
    cost, calls = _traced_calls()
    gl.descend(cost, [0.0, 0.0], learning_rate=0.1, steps=50)
    traced = len(calls)
    with count_compiles() as c:
        for x0 in ([1.0, 2.0], [3.0, -1.0]):
            gl.descend(cost, x0, learning_rate=0.2, steps=50)
    assert c["n"] == 0 and len(calls) == traced


def test_a_fit_of_a_lambda_without_bounds_and_a_cost_by_name_compile_once(count_compiles):
    x = np.linspace(0, 1, 30)
    expo = gl.fit_cost(lambda p, x: p[0] * jnp.exp(-p[1] * x), (x, 2.0 * np.exp(-x)))
    for _ in range(2):
        gl.descend(expo, [1.0, 1.0], optimizer=LBFGS, steps=40)
        gl.descend("line", [0.0, 0.0], learning_rate=0.3, steps=40)
    with count_compiles() as c:
        gl.descend(expo, [1.5, 0.5], optimizer=LBFGS, steps=40)
        gl.descend("line", [1.0, 0.0], learning_rate=0.3, steps=40)
        assert gl.get_cost("line") is gl.get_cost("line")  # built once per width, not per call
    assert c["n"] == 0


def test_a_float32_start_on_a_float64_fit_computes_in_float64(x64):
    traj = gl.descend("line", np.array([0.0, 0.0], np.float32), learning_rate=0.5, steps=200)
    assert traj.x.dtype == np.float64 and bool(traj.success)
