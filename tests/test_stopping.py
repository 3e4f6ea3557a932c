"""The one judge (gradlab.stopping): a status is a promise, in float32 as in float64.

Each class of wrong status found by trying gradlab on problems nobody here wrote
has a table of cases here, run in both widths: a stall is not convergence, a
far minimum is not divergence, a tiny or huge or offset cost converges where the
unscaled one does, and CONVERGED is only ever said at a stationary point.
"""

import functools

import jax
import jax.numpy as jnp
import mgh
import numpy as np
import optax
import pytest

import gradlab as gl
from gradlab import stopping
from gradlab.multistart import sample_starts

LBFGS = optax.lbfgs()
TRUST_NEWTON = gl.optimizers.trust_newton()
S = gl.Status


def _status(traj):
    return S(int(traj.status))


def _grad_and_hessian_by_hand(cost, x):
    """``∇f`` and ``∇²f`` at ``x`` from jax.grad and jax.hessian, in float64 (numpy)."""
    with jax.enable_x64(True):
        g, h = _derivatives_in_float64(cost)(jnp.asarray(np.asarray(x, np.float64)))
        return np.asarray(g), np.asarray(h)


@functools.cache
def _derivatives_in_float64(cost):
    """One jitted program per cost (op by op, each of jax.hessian's operations was compiled
    on its own for every shape: a fifth of this file's time)."""
    if isinstance(cost, gl.Cost):
        cost = cost.replace(data=jax.tree.map(lambda a: np.asarray(a, np.float64), cost.data))
    return jax.jit(lambda x: (jax.grad(cost)(x), jax.hessian(cost)(x)))


def _stationary_by_hand(cost, x, rtol):
    """An independent check of stationarity: the exact Newton step from jax.hessian, in
    float64, is below ``rtol`` of the parameters' size."""
    g, h = _grad_and_hessian_by_hand(cost, x)
    step = np.linalg.lstsq(h, g, rcond=None)[0]
    return np.max(np.abs(step)) <= rtol * max(1.0, np.max(np.abs(np.asarray(x))))


def _lowest_curvature_by_hand(cost, x):
    """The float64 Hessian's smallest eigenvalue at ``x``, relative to its largest |λ|."""
    _, h = _grad_and_hessian_by_hand(cost, x)
    eigenvalues = np.linalg.eigvalsh(h)
    return eigenvalues[0] / np.max(np.abs(eigenvalues))


# -- a stall is not convergence ---------------------------------------------------------------
@pytest.mark.parametrize("make", [
    pytest.param(lambda eps: dict(learning_rate=eps / 10), id="rate below the width's resolution"),
    pytest.param(lambda eps: dict(optimizer=optax.adam(0.0)), id="an optimiser that never moves"),
    pytest.param(lambda eps: dict(optimizer=optax.sgd(eps / 10)), id="optax.sgd too small"),
])
def test_a_run_that_stops_moving_short_of_a_minimum_is_stalled(width, make):
    traj = gl.descend("bowl", [-1.0, -1.0], steps=100, **make(width.eps))
    assert _status(traj) == S.STALLED and not bool(traj.success)
    assert float(traj.grad_norms[-1]) > 1.0  # far from stationary: 7.2 at the start
    assert int(traj.nit) < 100 and "stalled" in traj.message


def test_the_stalled_history_is_frozen_where_it_stopped(width):
    judged = gl.descend("bowl", [-1.0, -1.0], learning_rate=width.eps / 10, steps=40)
    stepped = gl.descend("bowl", [-1.0, -1.0], learning_rate=width.eps / 10, steps=40,
                         record_every=40)
    assert _status(judged) == _status(stepped) == S.STALLED
    assert int(judged.nit) == int(stepped.nit) == stopping.STALL_PATIENCE


# -- convergence is judged at the problem's own scale ---------------------------------------------
def _rosenbrock(p):
    return (1.0 - p[0]) ** 2 + 100.0 * (p[1] - p[0] ** 2) ** 2


def _shifted_bowl(p):
    return (p[0] - 1.0) ** 2 + (p[1] + 2.0) ** 2


def _times_plus(fn):
    """``p, (scale, offset) -> scale·fn(p) + offset``, made once per ``fn``."""
    return _SCALED.setdefault(fn, lambda p, d: d[0] * fn(p) + d[1])


_SCALED = {}


def _scaled(fn, scale, offset=0.0, **kwargs):
    """``fn`` times a scale plus an offset, both data: one compiled program serves them all."""
    return gl.Cost("scaled", _times_plus(fn), data=(jnp.asarray(scale, float),
                                                    jnp.asarray(offset, float)), **kwargs)


@pytest.mark.parametrize("scale", [1e-8, 1.0, 1e8])
@pytest.mark.parametrize("offset", [0.0, 1e3])
def test_scaling_or_shifting_the_cost_does_not_change_the_verdict(width, scale, offset):
    traj = gl.descend(_scaled(_rosenbrock, scale, offset), [-1.2, 1.0], optimizer=LBFGS,
                      steps=300)
    assert _status(traj) == S.CONVERGED, traj.message
    np.testing.assert_allclose(traj.x, [1.0, 1.0], atol=100 * width.sqrt_eps)


# Costs in small units (1e-20 in float32, 1e-160 in float64): their gradients squared
# underflow, and an exact-zero test on ‖g‖² read every start as stationary.
@pytest.mark.parametrize("exponent", [0.25, 0.5, 0.55, 0.6])
@pytest.mark.parametrize("method", ["sgd", "lbfgs", "trust_newton"])
def test_a_cost_in_small_units_is_never_converged_away_from_its_minimum(width, exponent, method):
    scale = float(np.finfo(width.dtype).tiny) ** exponent  # down past sqrt(tiny)
    bowl = _scaled(_shifted_bowl, scale, bounds=[(-3.0, 3.0)] * 2)
    kw = {"sgd": dict(learning_rate=0.1 / scale), "lbfgs": dict(optimizer=LBFGS),
          "trust_newton": dict(optimizer=TRUST_NEWTON)}[method]
    traj = gl.descend(bowl, [0.0, 0.0], steps=300, **kw)
    if bool(traj.success):
        np.testing.assert_allclose(traj.x, [1.0, -2.0], atol=100 * width.sqrt_eps)
    else:
        assert _status(traj) in (S.STALLED, S.MAX_STEPS), traj.message
    batch = gl.multistart(bowl, n_starts=16, steps=100)
    found = np.asarray(batch.minima.points)[np.asarray(batch.minima.is_global)]
    assert np.all(np.abs(found - [1.0, -2.0]) <= 100 * width.sqrt_eps), found  # none, or right


@pytest.mark.parametrize("optimizer", [LBFGS, gl.optimizers.trust_newton(radius=1e3)],
                         ids=["lbfgs", "trust_newton"])
def test_a_far_minimum_is_found_not_diverged(width, optimizer):
    far = lambda p: (p[0] - 1e8) ** 2
    traj = gl.descend(far, [0.0], optimizer=optimizer, steps=200)
    assert _status(traj) == S.CONVERGED, traj.message
    assert float(traj.x[0]) == pytest.approx(1e8, rel=10 * width.eps)


def test_a_steep_line_is_fitted_from_zero(width):
    x = np.linspace(-1, 1, 50)
    cost = gl.fit_cost(gl.models.linear, (x, 2e6 * x + 3.0))
    traj = gl.descend(cost, [0.0, 0.0], optimizer=LBFGS, steps=300)
    assert _status(traj) == S.CONVERGED, traj.message
    np.testing.assert_allclose(traj.x, [2e6, 3.0], rtol=100 * width.sqrt_eps, atol=1e-3)


def test_a_small_cost_fit_does_not_stop_early(x64):
    # noise of 1e-3 makes the cost ~1e-6: an absolute gradient tolerance of 1e-6 stops
    # L-BFGS at once, far from the least-squares answer
    scipy_optimize = pytest.importorskip("scipy.optimize")
    x = np.linspace(0.0, 4.0, 40)
    rng = np.random.default_rng(1)
    y = 0.05 * np.exp(-0.8 * x) + 1e-3 * rng.standard_normal(40)
    model = lambda p, x: p[0] * jnp.exp(-p[1] * x)
    traj = gl.descend(gl.fit_cost(model, (x, y)), [0.2, 0.2], optimizer=LBFGS, steps=500)
    ref = scipy_optimize.least_squares(lambda p: p[0] * np.exp(-p[1] * x) - y, [0.2, 0.2],
                                       xtol=1e-15, ftol=1e-15, gtol=1e-15).x
    assert _status(traj) == S.CONVERGED
    np.testing.assert_allclose(traj.x, ref, rtol=1e-6)


def _offset_sine(width, resolution):
    """A small signal (amplitude 1e-2, noise 1e-3) on an offset whose rounding in the width
    is ``resolution``: ``‖D·x‖`` is all offset, so any step looks small next to it."""
    offset = resolution / width.eps
    rng = np.random.default_rng(2)
    x = np.linspace(1.0, 2.0, 30)
    y = (offset + 0.01 * np.sin(3 * x) + 1e-3 * rng.standard_normal(30)).astype(width.dtype)
    model = lambda p, x: p[0] + p[1] * jnp.sin(p[2] * x)
    return offset, x.astype(width.dtype), y, model


@pytest.mark.parametrize(("solver", "resolution"), [
    ("fit", 1e-4), ("descend", 1e-4),
    ("fit", 1e-3),  # the data rounded as coarsely as their noise: least squares still fits
])
def test_a_large_parameter_does_not_make_a_poor_fit_converged(width, solver, resolution):
    # an offset of 1e4 in float32: a start whose RSS was 50 times the best one was
    # CONVERGED at once
    offset, x, y, model = _offset_sine(width, resolution)
    scipy_optimize = pytest.importorskip("scipy.optimize")
    residuals = lambda p: p[0] + p[1] * np.sin(p[2] * x.astype(float)) - y.astype(float)
    ref = scipy_optimize.least_squares(residuals, [offset, 0.01, 3.0], x_scale="jac").x
    cost = gl.fit_cost(model, (x, y))
    best = float(np.sum(np.square(np.asarray(model(jnp.asarray(ref, width.dtype), x)) - y)))
    for start in ([offset, 0.02, 3.1], [offset, 0.05, 2.5], [offset, 0.0, 3.0],
                  [offset * (1 + 100 * width.eps), 0.02, 3.1]):
        if solver == "fit":
            result = gl.fit(cost, start)
            rss = float(result.rss)
        else:
            result = gl.descend(cost, start, optimizer=LBFGS, steps=500)
            rss = float(result.fun) * x.size
        status = _status(result)
        assert status in (S.CONVERGED, S.STALLED, S.MAX_STEPS), (start, status)
        if status == S.CONVERGED:
            # the best RSS the width can hold is the reference's, rounded: twice it is not
            # a minimum (the starts are at 1.5 to 20 times it)
            assert rss <= 2 * best, (start, rss, best)
        if solver == "fit":  # least squares gets there from every one of these starts
            assert status == S.CONVERGED, (start, result.message)


# -- CONVERGED only at stationary points: the whole table, both widths -------------------------
CASES = [
    # cost, x0, options, expected status
    ("bowl", [-1.0, -1.0], dict(learning_rate=0.1, steps=300), S.CONVERGED),
    ("bowl", [-1.0, -1.0], dict(learning_rate=0.1, steps=20), S.MAX_STEPS),
    ("bowl", [-1.0, -1.0], dict(learning_rate=1.5, steps=200), S.DIVERGED),
    ("bowl", [-1.0, -1.0], dict(learning_rate=0.1, steps=300, gtol=1e-2), S.CONVERGED),
    ("rosenbrock", [-1.2, 1.0], dict(optimizer=LBFGS, steps=200), S.CONVERGED),
    ("rosenbrock", [-1.2, 1.0], dict(learning_rate=1e-4, steps=50), S.MAX_STEPS),
    ("himmelblau", [1.0, 1.0], dict(optimizer=LBFGS, steps=200), S.CONVERGED),
    ("beale", [1.0, 1.0], dict(optimizer=gl.optimizers.trust_newton(), steps=200), S.CONVERGED),
    ("sine", [9.0], dict(optimizer=LBFGS, steps=200), S.CONVERGED),
    ("line", [0.0, 0.0], dict(learning_rate=0.5, steps=2000), S.CONVERGED),
    (lambda p: jnp.sum(jnp.log(p) ** 2), [0.5, 2.0], dict(learning_rate=3.0, steps=40),
     S.NONFINITE),
    # stationary, not a minimum: a start on a saddle's axis ends on the saddle; a start at
    # a maximum has a zero gradient (CONVERGED, success=True, on 2026-11-30)
    (lambda p: p[0] ** 2 - p[1] ** 2, [1.0, 0.0], dict(optimizer=LBFGS, steps=100), S.SADDLE),
    (lambda p: p[0] ** 2 - p[1] ** 2, [1.0, 0.0], dict(optimizer=TRUST_NEWTON, steps=100),
     S.SADDLE),
    (lambda p: jnp.sum(p**4 - p**2), [0.0], dict(learning_rate=0.1, steps=100), S.SADDLE),
    (lambda p: p[0] * p[1], [0.0, 0.0], dict(optimizer=LBFGS, steps=100), S.SADDLE),
]
CASE_IDS = ["bowl-converged", "bowl-max_steps", "bowl-diverged", "bowl-gtol", "rosenbrock",
            "rosenbrock-max_steps", "himmelblau", "beale", "sine", "line", "log-nonfinite",
            "x²−y²-lbfgs", "x²−y²-trust_newton", "x⁴−x²-maximum", "xy-at-its-saddle"]


@pytest.mark.parametrize(("cost", "x0", "options", "expected"), CASES, ids=CASE_IDS)
def test_each_status_is_true(width, cost, x0, options, expected):
    traj = gl.descend(cost, x0, **options)
    assert _status(traj) == expected, traj.message
    assert bool(traj.success) == (expected == S.CONVERGED)
    tested = cost if not isinstance(cost, str) else gl.get_cost(cost)
    if expected in (S.CONVERGED, S.SADDLE) and "gtol" not in options:  # checked by hand
        assert _stationary_by_hand(tested, traj.x, 1e3 * width.sqrt_eps)
    if expected == S.CONVERGED and "gtol" in options:
        assert float(traj.grad_norms[-1]) <= options["gtol"]
    # a minimum has no curvature below zero beyond roundoff; a saddle has one well below
    if expected == S.CONVERGED:
        assert _lowest_curvature_by_hand(tested, traj.x) >= -width.sqrt_eps
    if expected == S.SADDLE:
        assert _lowest_curvature_by_hand(tested, traj.x) < -0.1


def test_a_box_minimum_on_its_corner_is_converged(width):
    # the bowl's minimum (2, -3) lies outside [-1, 1]²: projected descent ends on the
    # corner (1, -1), where the gradient points out of the box (the KKT conditions)
    traj = gl.descend("bowl", [0.0, 0.0], learning_rate=0.3, steps=100,
                      bounds=[(-1.0, 1.0), (-1.0, 1.0)])
    assert _status(traj) == S.CONVERGED
    np.testing.assert_allclose(traj.x, [1.0, -1.0])
    assert float(traj.grad_norms[-1]) > 1.0


@pytest.mark.parametrize("optimizer", [optax.sgd(0.1), optax.lbfgs(), gl.optimizers.trust_newton()],
                         ids=["sgd", "lbfgs", "trust_newton"])
def test_a_saddle_inside_a_box_is_a_saddle(width, optimizer):
    # f = 1 + pᵀAp, A's eigenvalues 3 and −1 on a positive diagonal: a saddle at 0, reached
    # from (1, 1) along the stable axis, half the box from every bound. A parameter with a
    # gradient near 0 gains nothing on its way to a bound, but it is not near one: held,
    # it took its share of the negative curvature with it (CONVERGED, 2026-12-01)
    a = jnp.asarray([[1.0, 2.0], [2.0, 1.0]], width.dtype)
    saddle = lambda p: 1.0 + p @ a @ p
    for bounds in ([(-5.0, 5.0)] * 2, None):
        traj = gl.descend(saddle, jnp.ones(2, width.dtype), optimizer=optimizer, steps=200,
                          bounds=bounds)
        assert _status(traj) == S.SADDLE and not bool(traj.success), bounds
        assert _lowest_curvature_by_hand(saddle, traj.x) < -0.3  # −1 beside 3


# -- the judge itself, as pure functions -----------------------------------------------------
# f = (x₀ + 1)² + (x₁ − 2)² on the box [0, 5]²: the minimum over the box is (0, 2), where the
# gradient (2, 0) pushes x₀ out through its bound. gap: x₀'s distance inside the bound; the
# move onto it gains 2·gap, negligible (below ftol·|f| = eps) only for the smallest gaps.
_BOX_CASES = [  # (gap as a multiple of eps, the gradient's sign along x₀, stationary)
    (0.0, +1, True),  # on the bound, pushed out: held (the KKT conditions)
    (1e-3, +1, True),  # inside by far less than f's rounding: at the bound on f's scale
    (0.1, +1, True),
    (10.0, +1, False),  # inside by 10 eps: the move gains 20 eps of f = 1, which f resolves
    (1e4, +1, False),
    (1e-3, -1, False),  # pulled into the box: the minimum lies inside, a step of 1 away
]


_STATIONARY, _REST = jax.jit(stopping.stationary), jax.jit(stopping.rest)  # compiled once a width


@pytest.mark.parametrize(("gap", "sign", "expected"), _BOX_CASES)
def test_a_parameter_a_negligible_gain_from_its_bound_is_held_there(width, gap, sign, expected):
    # a bounded fit in float32 ended 2.6e-10 inside the bound its gradient of 115 pushed
    # on: STALLED alone, CONVERGED or MAX_STEPS in other batches, as roundoff fell
    tols = stopping.tolerances(width.dtype)
    centre = jnp.asarray([-1.0 if sign > 0 else 1.0, 2.0], width.dtype)
    x = jnp.asarray([gap * width.eps, 2.0], width.dtype)
    g = 2 * (x - centre)
    f = jnp.sum((x - centre) ** 2)
    hessian = 2 * jnp.eye(2, dtype=width.dtype)
    box = (jnp.zeros(2, width.dtype), jnp.full(2, 5.0, width.dtype))
    assert bool(_STATIONARY(x, x, f, g, hessian, tols, box)) == expected
    # a Hessian too large to form: the gradient on the free parameters and gtol only
    judged = _REST(x, x, f, g, None, tols._replace(gtol=jnp.asarray(1e-3, width.dtype)), box)
    assert bool(judged.stationary) == expected


def test_measured_rounding_is_the_cost_s_own_error(width):
    # f = Σ (c − cos xᵢ): a constant c = 1e4 the point and the Hessian do not show, so
    # only a measurement sees f's rounding. Its errors e at x and at the four moves,
    # against numpy's long double (80-bit on x86: 11 more bits than float64): the measure
    # is |e(x + δ) − e(x)| up to eps² terms, so at most twice the largest, and not 0
    cost = lambda p: jnp.sum(1e4 - jnp.cos(p))
    x = jnp.asarray(np.random.default_rng(0).uniform(0.5, 1.5, 5), width.dtype)
    f, g = cost(x), jax.grad(cost)(x)
    measured = float(stopping.measured_rounding(cost, x, f, g))
    points = [np.asarray(x), *np.asarray(stopping.rounding_moves(x))]
    errors = [float(np.longdouble(float(cost(jnp.asarray(q, width.dtype))))
                    - np.sum(1e4 - np.cos(q.astype(np.longdouble)))) for q in points]
    assert 0 < measured <= 2 * max(map(abs, errors)) + 1e3 * width.eps**2 * 1e4


def test_stationary_is_invariant_to_scaling_and_shifting_the_cost():
    tols = stopping.tolerances(jnp.float64)
    with jax.enable_x64(True):
        h = jnp.array([[4.0, 1.0], [1.0, 3.0]])
        x0 = jnp.array([3.0, -2.0])
        for delta, expected in ((1e-10, True), (1e-5, False)):
            x = jnp.array([1.0, 2.0]) + delta
            g = h @ (x - jnp.array([1.0, 2.0]))
            for scale in (1e-12, 1.0, 1e12):
                for f in (0.5 * delta**2, 1e6):  # with an offset too
                    got = bool(_STATIONARY(x, x0, scale * f, scale * g, scale * h, tols))
                    assert got == expected, (delta, scale, f)


def test_the_verdict_table():
    f, f0 = jnp.asarray(1.0), jnp.asarray(2.0)
    # stop, stationary, a curvature negative beyond roundoff, the status
    table = [
        (stopping.Stop.NONFINITE, True, False, S.NONFINITE),
        (stopping.Stop.RUNAWAY, True, False, S.DIVERGED),
        (stopping.Stop.SMALL_GRADIENT, False, False, S.CONVERGED),
        (stopping.Stop.STALL, True, False, S.CONVERGED),
        (stopping.Stop.STALL, False, False, S.STALLED),
        (stopping.Stop.STATIONARY, True, False, S.CONVERGED),
        (stopping.Stop.STATIONARY, False, False, S.STALLED),  # the loop's judgement confirmed
        (stopping.Stop.RUNNING, True, False, S.CONVERGED),
        (stopping.Stop.RUNNING, False, False, S.MAX_STEPS),
        # where a curvature is negative beyond roundoff, a stationary point is a saddle
        (stopping.Stop.NONFINITE, True, True, S.NONFINITE),
        (stopping.Stop.RUNAWAY, True, True, S.DIVERGED),
        (stopping.Stop.SMALL_GRADIENT, False, True, S.SADDLE),
        (stopping.Stop.STALL, True, True, S.SADDLE),
        (stopping.Stop.STALL, False, True, S.STALLED),
        (stopping.Stop.RUNNING, True, True, S.SADDLE),
        (stopping.Stop.RUNNING, False, True, S.MAX_STEPS),
    ]
    for stop, at_rest, descends, expected in table:
        got = stopping.verdict(stop, jnp.asarray(at_rest), f, f0, jnp.asarray(descends))
        assert S(int(got)) == expected, (stop, at_rest, descends)
    up = stopping.verdict(stopping.Stop.RUNNING, jnp.asarray(False), f0 + 1, f0, jnp.asarray(False))
    assert S(int(up)) == S.DIVERGED  # out of steps above its start


@pytest.mark.parametrize(("name", "value"), [("xtol", -1.0), ("ftol", float("nan")),
                                             ("gtol", "1e-3"), ("divergence", 0.5)])
def test_tolerances_are_checked_by_name(name, value):
    with pytest.raises((ValueError, TypeError), match=name):
        gl.descend("bowl", [0.0, 0.0], learning_rate=0.1, **{name: value})


def test_tolerances_are_a_named_record_and_new_values_do_not_recompile(count_compiles):
    tols = stopping.tolerances(jnp.float32, xtol=1e-3)
    assert tols._fields == ("xtol", "ftol", "gtol", "stall", "divergence")
    assert float(tols.xtol) == pytest.approx(1e-3) and float(tols.gtol) == 0.0
    gl.descend("bowl", [0.0, 0.0], learning_rate=0.1, steps=30, xtol=1e-3)
    with count_compiles() as c:
        gl.descend("bowl", [0.0, 0.0], learning_rate=0.1, steps=30, xtol=1e-4, ftol=1e-9,
                   gtol=1e-2, divergence=1e3)
    assert c["n"] == 0


# -- known false successes, found on the Moré–Garbow–Hillstrom test set (2026-11-30) ------------
def _sum_of_squares(name):
    r = mgh.P[name]["r"]
    return lambda x: jnp.sum(r(x) ** 2)


def _restarted_minimum(r, x):
    """F reached by scipy's MINPACK (lm, float64, tight tolerances) restarted from ``x``:
    the independent reference a CONVERGED claim at ``x`` must stand against."""
    from scipy.optimize import least_squares

    with jax.enable_x64(True):
        res = jax.jit(r)
        jac = jax.jit(jax.jacfwd(r))
        fun = lambda q: np.asarray(res(jnp.asarray(q)))
        sol = least_squares(fun, np.asarray(x, np.float64), jac=lambda q: np.asarray(jac(q)),
                            method="lm", xtol=1e-15, ftol=1e-15, gtol=1e-15, max_nfev=20000)
        return float(fun(np.asarray(x, np.float64)) @ fun(np.asarray(x, np.float64))), 2 * sol.cost


SOLVERS = {"lbfgs": {"optimizer": LBFGS}, "trust_newton": {"optimizer": TRUST_NEWTON}}


# each was CONVERGED on 2026-11-30, far from a minimum: a curvature lost in rounding
# (Brown badly scaled, float32: 2 beside 8.7e11; Meyer: 1e-105 of the largest in
# float64); a flat parameter's step of 4% hidden by the start's scale (Osborne 1,
# float64). Not here, and CONVERGED at float32's xtol: x within xtol of the minimiser
# where the minimum is below ½(xtol·‖D·x‖)², so that f can still be 2.4 times it
# (Gaussian, Trigonometric from 100·x0, lr = 1e-3); and Beale from 100·x0 in float32,
# ending on its valley to infinity (F = 0.45042, the asymptote 0.450407) whose curvature,
# −4e-9 beside 2.6e7, is below either width's resolution: no local test sees the far
# minimum.
@pytest.mark.parametrize(("name", "times", "solver"), [
    ("brown_badly_scaled", 1, "trust_newton"),
    ("meyer", 100, "lbfgs"),
    ("meyer", 10, "lbfgs"),
    ("osborne1", 100, "trust_newton"),
    ("biggs_exp6", 10, "lbfgs"),  # a saddle at F = 5.66e-3 (now SADDLE)
])
def test_converged_only_where_no_solver_can_still_lower_the_cost(width, name, times, solver):
    p = mgh.P[name]
    r = p["r"]
    traj = gl.descend(_sum_of_squares(name), times * jnp.asarray(p["x0"], width.dtype),
                      steps=2000, **SOLVERS[solver])
    if bool(traj.success) and not (name == "osborne1" and not width.x64):
        f, restarted = _restarted_minimum(r, traj.x)
        # relative: sqrt(eps) of f (the verdict's xtol); absolute: a zero minimum reached
        # to the width's rounding, as in the zero-residual test below
        assert f - restarted <= max(width.sqrt_eps * f, (1e3 * width.eps) ** 2), (
            traj.x, f, restarted)
    # (Osborne 1 in float32 stops at F = 0.0245 where x₅'s slope, 4e-11, moves f by less
    # than its rounding over x₅'s own size, and its curvature is below resolution)


def _two_exponentials(width):
    """A fit of a·e^(b·x) + c·e^(d·x) to data made of two: from a start with a = c and
    b = d, every step keeps them equal, and the best such pair (one exponential, split
    in two) is a saddle of the four-parameter fit."""
    x = np.linspace(0.0, 4.0, 30)
    y = 3 * np.exp(-x) + np.exp(-3 * x)
    model = lambda p, x: p[0] * jnp.exp(p[1] * x) + p[2] * jnp.exp(p[3] * x)
    return x, y, gl.fit_cost(model, (x.astype(width.dtype), y.astype(width.dtype)))


@pytest.mark.parametrize("solver", ["fit", "trust_newton"])
def test_a_run_that_ends_on_a_saddle_says_so(width, solver):
    from scipy.optimize import least_squares

    x, y, cost = _two_exponentials(width)
    start = jnp.asarray([1.0, -1.0, 1.0, -1.0], width.dtype)
    if solver == "fit":
        result = gl.fit(cost, start)
    else:
        result = gl.descend(cost, start, optimizer=TRUST_NEWTON, steps=500)
    assert _status(result) == S.SADDLE and not bool(result.success), result.message
    assert "not a minimum" in str(result.message)
    # the reference: the float64 Hessian there has a negative curvature, and scipy's
    # MINPACK, started a little off the symmetric line, goes far below
    assert _lowest_curvature_by_hand(cost, result.x) < -width.sqrt_eps
    residuals = lambda p: p[0] * np.exp(p[1] * x) + p[2] * np.exp(p[3] * x) - y  # numpy
    end = np.asarray(result.x, np.float64)
    lower = least_squares(residuals, end + np.array([0.0, 0.01, 0.0, -0.01]), method="lm")
    assert 2 * lower.cost < 1e-3 * float(np.sum(residuals(end) ** 2))


@pytest.mark.parametrize(("name", "times", "solver"), [("trigonometric", 1, "trust_newton")])
def test_a_descent_at_a_minimum_is_converged_whatever_its_cost_s_rounding(width, name, times,
                                                                         solver):
    # Trigonometric's residuals hold a constant n = 10 beside values of 1e-3: f's rounding,
    # measured at the end, is far above what the point and the Hessian show, and this run
    # was STALLED at the minimum in float32 (2026-11-30)
    p = mgh.P[name]
    traj = gl.descend(_sum_of_squares(name), times * jnp.asarray(p["x0"], width.dtype),
                      steps=2000, **SOLVERS[solver])
    assert _status(traj) == S.CONVERGED, traj.message
    f, restarted = _restarted_minimum(p["r"], traj.x)
    assert f - restarted <= width.sqrt_eps * f, (traj.x, f, restarted)


def test_the_mgh_problems_reach_their_published_minima():
    # the definitions in tests/mgh.py against the paper: F at each published minimiser
    with jax.enable_x64(True):
        for name, p in mgh.P.items():
            if p["xmin"] is not None:
                r = np.asarray(jax.jit(p["r"])(jnp.asarray(p["xmin"], jnp.float64)))  # one program
                assert float(r @ r) == pytest.approx(p["fmins"][0], rel=1e-5, abs=1e-10), name


def _fit_from_the_standard_start(p, width):
    """gl.fit of an MGH problem written as a fit: the model returns the residuals, y = 0."""
    r = p["r"]
    (m,) = jax.eval_shape(r, jnp.asarray(p["x0"], width.dtype)).shape
    cost = gl.fit_cost(lambda q, x: r(q), (np.arange(m, dtype=width.dtype),
                                           np.zeros(m, width.dtype)))
    return gl.fit(cost, jnp.asarray(p["x0"], width.dtype))


@pytest.mark.parametrize("name", ["helical_valley", "powell_singular"])
def test_a_zero_residual_fit_is_converged_at_its_rounding_floor(width, name):
    # MGH problems whose minimum is F = 0 (Powell singular: with a singular Jacobian there);
    # gl.fit reached them to the last bits and called them STALLED (2026-11-30)
    p = mgh.P[name]
    f = _fit_from_the_standard_start(p, width)
    assert _status(f) == S.CONVERGED, f.message
    assert float(f.rss) <= (1e3 * width.eps) ** 2  # the known minimum, 0, to the width's rounding


# Data that are all zero, fitted by models that vanish where a parameter does: each
# Gauss–Newton step squares that parameter (1 → 1e-16 → 1e-31 → 1e-47), and MINPACK's
# radius, twice the last step, fell below eps·‖D·x‖ while the steps still removed nearly
# all of ‖r‖²: the fits ended STALLED at ‖r‖² = 5e-94 (2026-12-01).
ZERO_DATA_MODELS = {
    "exponential": (lambda p, x: p[0] * jnp.exp(-p[1] * x), [1.0, 1.0]),
    "sine": (lambda p, x: p[0] * jnp.sin(p[1] * x), [1.0, 1.0]),
    "gaussian": (lambda p, x: p[0] * jnp.exp(-jnp.square(x - p[1]) / p[2]), [1.0, 2.0, 1.0]),
}


@pytest.mark.parametrize("name", list(ZERO_DATA_MODELS))
def test_a_fit_to_data_that_are_all_zero_is_converged(width, name):
    model, start = ZERO_DATA_MODELS[name]
    x = np.linspace(0.0, 4.0, 30, dtype=width.dtype)
    cost = gl.fit_cost(model, (x, np.zeros_like(x)))
    for x0 in (start, np.multiply(2, start)):
        fit = gl.fit(cost, np.asarray(x0, width.dtype), sigma=np.full_like(x, 0.5))
        assert _status(fit) == S.CONVERGED, (x0, fit.message)
        # the known minimum, 0, to the width's rounding
        assert float(fit.rss) <= (1e3 * width.eps) ** 2, (x0, fit.rss)


# Data of 2e10 or more fitted from an amplitude of 1: the loop stops after two trials (each
# step of about 1 changes ‖r‖² by 1e-10 of itself, below its rounding in float32), and the
# verdict, asking ½‖r‖²'s Hessian unscaled, said SADDLE (its −|H|⁻¹g short beside the
# second-order term of residuals of 2e10) or, from data of 2e19, CONVERGED at a rate of
# −2.4 (an amplitude of 4e14 beside a rate had a curvature 1e-34 of the rate's: "lost in
# rounding") (2026-12-01). The reference: the minimum, (2·scale, 1.5), with ‖r‖² = 0.
@pytest.mark.parametrize("scale", [1e10, 1e19])
def test_a_fit_far_from_the_data_s_scale_is_converged_only_at_the_minimum(width, scale):
    model = lambda p, x: p[0] * jnp.exp(-p[1] * x)
    x = np.linspace(0.0, 3.0, 20)
    y = scale * 2 * np.exp(-1.5 * x)
    fit = gl.fit(gl.fit_cost(model, (x.astype(width.dtype), y.astype(width.dtype))),
                 np.array([1.0, 1.0], width.dtype))
    status = _status(fit)
    assert status in (S.CONVERGED, S.STALLED, S.MAX_STEPS), fit.message
    if status == S.CONVERGED:
        np.testing.assert_allclose(np.asarray(fit.x, float), [2 * scale, 1.5],
                                   rtol=1e3 * width.eps)


# Jennrich and Sampson from 10·x0: the fit runs x₁ off to −139, where e^(k·x₁) underflows
# and x₁ no longer moves the cost (a plateau at infinity), and was CONVERGED at F = 259.58;
# the minimum is 124.36. Judged unscaled, x₁'s curvature, 1e-60 of x₂'s, was "lost in
# rounding" and its slope times xtol of 139 passed for nothing (2026-12-01,
# `benchmarks/mgh_truth.py`). float64 only: in float32 e^(−139) is 0, and at that point the
# cost does not depend on x₁ at all (its column, slope and curvature exactly 0).
def test_a_fit_run_off_onto_a_plateau_is_not_converged(x64):
    width = x64
    p = mgh.P["jennrich_sampson"]
    r = p["r"]
    (m,) = jax.eval_shape(r, jnp.asarray(p["x0"], width.dtype)).shape
    cost = gl.fit_cost(lambda q, x: r(q), (np.arange(m, dtype=width.dtype),
                                           np.zeros(m, width.dtype)))
    fit = gl.fit(cost, 10 * jnp.asarray(p["x0"], width.dtype))
    if _status(fit) == S.CONVERGED:
        assert float(fit.rss) == pytest.approx(min(p["fmins"]), rel=width.sqrt_eps), fit.x
    else:
        assert _status(fit) in (S.STALLED, S.MAX_STEPS), fit.message


# A trust-region Newton run stops early where a Newton step could not move x by more than a
# few eps of the parameters' size; near a minimum at 0 from a start of size 1 such steps
# still removed most of f, and float32 runs on Helical valley and Wood (and Biggs EXP6)
# were CONVERGED at F = 1e-11 where the next steps reach 0 (2026-12-01,
# `benchmarks/mgh_truth.py`). The reference: the float64 Newton step from the end point
# predicts no decrease beyond sqrt(eps) of F (or F's rounding at the start's scale).
@pytest.mark.parametrize("name", ["helical_valley", "wood"])
def test_a_newton_run_stops_early_only_where_its_steps_no_longer_lower_f(width, name):
    p = mgh.P[name]
    cost = _sum_of_squares(name)
    x0 = jnp.asarray(p["x0"], width.dtype)
    traj = gl.descend(cost, x0, steps=2000, optimizer=TRUST_NEWTON)
    assert _status(traj) == S.CONVERGED, traj.message
    g, h = _grad_and_hessian_by_hand(cost, traj.x)
    decrease = 0.5 * abs(g @ np.linalg.lstsq(h, g, rcond=None)[0])
    f, f0 = float(traj.fun), float(cost(x0))
    assert decrease <= max(width.sqrt_eps * f, width.eps ** 2 * f0), (f, decrease)


@pytest.mark.parametrize("name", ["freudenstein_roth", "jennrich_sampson", "brown_dennis",
                                  "trigonometric"])
def test_a_fit_is_converged_at_a_minimum_where_the_residuals_do_not_vanish(width, name):
    # there J can be singular (Freudenstein and Roth, Jennrich and Sampson: two equal
    # columns), and JᵀJ alone has no curvature along its null space; Trigonometric's
    # residuals hold a constant n = 10 that neither y nor |J|·|x| shows, so its rounding
    # must be measured: these fits reached the published minima and were called STALLED
    # (2026-11-30)
    p = mgh.P[name]
    f = _fit_from_the_standard_start(p, width)
    assert _status(f) == S.CONVERGED, f.message
    # the point's ‖r‖² in float64: float32's own is rounded by more than sqrt(eps) where the
    # residuals are differences of larger terms (Trigonometric's n = 10 beside r ≈ 2e-3)
    with jax.enable_x64(True):
        r = np.asarray(jax.jit(p["r"])(jnp.asarray(np.asarray(f.x, np.float64))))
    published = min(p["fmins"], key=lambda v: abs(v - float(r @ r)))
    assert float(r @ r) == pytest.approx(published, rel=width.sqrt_eps)
    assert published > 0


# -- a degenerate minimum is not a saddle ----------------------------------------------------
# 0.01·‖p pᵀ B‖² + 0.05·Σp⁴: a quartic, minimum 0 at 0 only, whose Hessian at a point t·u is
# t² H(u), negative along some direction for many u: close to 0 on the start's scale every
# such point showed a "saddle" of its own scale (2026-12-01: 8 of 300 float32 L-BFGS runs
# ended SADDLE within 5e-7 of 0, 13 of 300 in float64 within 1e-11; these are their starts)
_QUARTIC_B = np.matmul(*np.random.default_rng(0).normal(size=(2, 5, 5)))
_DEGENERATE_STARTS = {"float32": [25, 82, 185, 205, 221, 240, 247, 289],
                      "float64": [2, 50, 78, 100, 138, 139, 146, 174, 195, 217, 253, 281, 296]}


def _degenerate_quartic(p):
    return (0.01 * jnp.sum((jnp.outer(p, p) @ jnp.asarray(_QUARTIC_B, p.dtype)) ** 2)
            + 0.05 * jnp.sum(p ** 4))


def test_a_degenerate_minimum_is_converged_not_a_saddle(width):
    bounds = [(-2.0, 2.0)] * 5
    all_starts = sample_starts(bounds, 300, seed=0)
    starts = jnp.asarray(all_starts[_DEGENERATE_STARTS[width.dtype.__name__]], width.dtype)
    ms = gl.multistart(_degenerate_quartic, starts=starts, steps=100, bounds=bounds,
                       optimizer=LBFGS)
    statuses = [S(int(s)) for s in ms.trajectories.status]
    assert statuses == [S.CONVERGED] * len(starts)
    # one minimum: each endpoint's step to the stationary point reaches the others' (the
    # saddle-free step, which the clustering used, did not: five or six "minima" 1e-12 apart)
    assert list(ms.minima.kind) == ["minimum"] and bool(ms.minima.is_global[0])
    # the reference: the minimum is 0 at 0, and every end is within xtol of the starts' size
    assert np.max(np.abs(np.asarray(ms.trajectories.x))) < np.sqrt(width.eps)
    np.testing.assert_array_less(np.asarray(ms.trajectories.fun), width.eps)


def _judged_saddle(cost, x, x0, width):
    """`stopping.rest`'s verdict on a curvature at ``x`` (a run from ``x0``), with the cost
    to confirm it, as the final judge asks it."""
    x, x0 = jnp.asarray(x, width.dtype), jnp.asarray(x0, width.dtype)
    tols = stopping.tolerances(width.dtype)

    @jax.jit  # one program: op by op, each of the judge's operations compiled on its own
    def judge(x, x0):
        f, g, h = cost(x), jax.grad(cost)(x), jax.hessian(cost)(x)
        judged, question = stopping.rest_asking(x, x0, f, g, h, tols)
        return judged.stationary, judged.descends | stopping.answer(jax.vmap(cost), question)

    stationary, descends = judge(x, x0)
    return bool(stationary), bool(descends)


@pytest.mark.parametrize(("name", "cost", "x", "x0", "saddle"), [
    # a saddle reached along its stable axis: the cost falls along y, on any scale
    ("x²−y² near 0", lambda p: p[0] ** 2 - p[1] ** 2, [1e-9, 0.0], [1.0, 0.0], True),
    ("x²−y² at 0", lambda p: p[0] ** 2 - p[1] ** 2, [0.0, 0.0], [1.0, 0.0], True),
    # a double well's saddle reached exactly from far away: stationary on its own scale,
    # whatever the start's (its resolution there reaches past both wells)
    ("(y²−1)² at 0 from 1e5", lambda p: p[0] ** 2 + (p[1] ** 2 - 1) ** 2, [0.0, 0.0],
     [1e5, 0.0], True),
    ("a maximum", lambda p: -jnp.sum(p ** 2) + 0.01 * jnp.sum(p ** 4), [0.0, 0.0], [1.0, 1.0],
     True),
    # a narrow dip from far away: minima at y = ±0.07, where the start's resolution along y
    # is 0.35 (a probe that long alone lands on the y⁴ wall both ways: CONVERGED, found by
    # a helper on 2026-12-01), and a stiff x
    ("x²−0.01y²+y⁴ from 100", lambda p: p[0] ** 2 - 0.01 * p[1] ** 2 + p[1] ** 4, [4e-9, 0.0],
     [100.0, 0.0], True),
    ("100x²+y²(y²−2) from 1000", lambda p: 100 * p[0] ** 2 + p[1] ** 2 * (p[1] ** 2 - 2),
     [4e-9, 0.0], [1000.0, 0.0], True),
    # the degenerate quartic near 0 from a start of 1: the Hessian there is negative along
    # a direction, but a step of the start's resolution along it goes up
    ("degenerate quartic", _degenerate_quartic, "near 0", "unit", False),
])
def test_a_negative_curvature_is_a_saddle_where_the_cost_falls_along_it(width, name, cost, x,
                                                                       x0, saddle):
    if x0 == "unit":  # a direction where the quartic's Hessian has a negative eigenvalue
        with jax.enable_x64(True):
            units = np.random.default_rng(1).normal(size=(200, 5))
            curvatures = np.linalg.eigvalsh(np.asarray(jax.jit(jax.vmap(jax.hessian(cost)))(
                jnp.asarray(units))))
            u = units[np.argmax(curvatures[:, 0] < -1e-3 * np.abs(curvatures).max(axis=1))]
        x0, x = u, 1e-3 * width.sqrt_eps * u
        assert _lowest_curvature_by_hand(cost, x) < -1e-3  # the local view: a "saddle"
    stationary, descends = _judged_saddle(cost, x, x0, width)
    assert stationary and descends == saddle


def test_a_batch_settles_its_saddle_questions_as_runs_alone_do(width):
    # A batch asks the cost its runs' saddle questions in one branch, taken only when one
    # run asks (`stopping.settle_batch`): each run's status must be its status alone. From
    # (100, 0) and (3, 0) gradient descent stops on the saddle's axis short of it, a saddle
    # only because the cost is lower along y (asked, and yes); the others end elsewhere.
    cost = lambda p: p[0] ** 2 - 0.01 * p[1] ** 2 + p[1] ** 4
    starts = np.array([[100.0, 0.0], [1e4, 0.0], [3.0, 0.0], [1.0, 1.0], [-2.0, -0.5]],
                      width.dtype)
    sgd = optax.sgd(0.1)
    batch = gl.multistart(cost, starts=starts, optimizer=sgd, steps=3000,
                          bounds=[(-1e4, 1e4)] * 2).trajectories
    alone = [_status(gl.descend(cost, s, optimizer=sgd, steps=3000)) for s in starts]
    assert [S(int(v)) for v in np.asarray(batch.status)] == alone
    assert alone[0] == alone[2] == S.SADDLE
    judge = jax.jit(lambda x, x0: stopping.rest_asking(
        x, x0, cost(x), jax.grad(cost)(x), jax.hessian(cost)(x), stopping.tolerances(width.dtype)))
    for i in (0, 2):  # confirmed by the cost, not by the curvature's sign alone
        judged, question = judge(batch.x[i], starts[i])
        assert bool(question.asked) and not bool(judged.descends)


@pytest.mark.parametrize(("name", "cost", "x"), [
    ("a bowl", lambda p: p[0] ** 2 + 3 * p[1] ** 2 + p[0] * p[1], [0.3, -0.2]),
    ("a saddle", lambda p: p[0] ** 2 - 3 * p[1] ** 2 + p[0] * p[1], [0.3, -0.2]),
    ("the degenerate quartic", _degenerate_quartic, [1.1, -1.4, -0.5, -0.9, 1.2]),
])
def test_the_step_to_the_stationary_point_is_newton_s(width, name, cost, x):
    # the reference: −H⁻¹g from numpy in float64; for the quartic (homogeneous of degree
    # 4) Euler's H·x = 3g gives −x/3, where the saddle-free step −|H|⁻¹g does not
    x = jnp.asarray(x, width.dtype)
    g, h = _grad_and_hessian_by_hand(cost, x)
    expected = -np.linalg.solve(h, g)
    _, step, _ = jax.jit(lambda x: stopping.step_to_stationary(jax.grad(cost)(x),
                                                              jax.hessian(cost)(x)))(x)
    np.testing.assert_allclose(step, expected, rtol=1e3 * width.eps, atol=1e3 * width.eps)
    if name == "the degenerate quartic":
        np.testing.assert_allclose(expected, -np.asarray(x, np.float64) / 3, rtol=1e-12)
        assert np.linalg.eigvalsh(h)[0] < 0  # where |H| and H differ
