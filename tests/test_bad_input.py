"""The catalogue of bad input: each is a ValueError or TypeError raised before any compilation,
naming the argument, showing the value received and saying what was expected."""

import jax.numpy as jnp
import numpy as np
import optax
import pytest

import gradlab as gl

BOWL = gl.get_cost("bowl")
sq = lambda p: jnp.sum(p**2)


CASES = [
    # -- Cost --------------------------------------------------------------------------
    ("cost: bounds with low >= high", lambda: gl.Cost("c", sq, bounds=[(1, 0)]),
     ValueError, ["bounds[0]", "low < high", "(1.0, 0.0)"]),
    ("cost: bounds not finite", lambda: gl.Cost("c", sq, bounds=[(0, np.inf)]),
     ValueError, ["bounds[0]", "finite", "inf"]),
    ("cost: bounds not pairs", lambda: gl.Cost("c", sq, bounds=[1.0, 2.0]),
     TypeError, ["bounds[0]", "(low, high) pair", "1.0"]),
    ("cost: bounds a string", lambda: gl.Cost("c", sq, bounds="0,1"),
     TypeError, ["bounds", "sequence of (low, high) pairs", "'0,1'"]),
    ("cost: fn returns a vector", lambda: gl.Cost("c", lambda p: p * 2, bounds=[(0, 1)] * 3),
     ValueError, ["fn must return a scalar", "(3,)"]),
    ("cost: fn returns an integer",
     lambda: gl.Cost("c", lambda p: jnp.sum(p).astype(jnp.int32), bounds=[(0, 1)]),
     TypeError, ["real floating scalar", "int32"]),
    ("cost: fn returns complex",
     lambda: gl.Cost("c", lambda p: jnp.sum(p) * 1j, bounds=[(0, 1)]),
     TypeError, ["real floating scalar", "complex"]),
    ("cost: fn raises", lambda: gl.Cost("c", lambda p: p.sum() / 0 if p.ndim > 1 else {}[p],
                                         bounds=[(0, 1)] * 2),
     ValueError, ["fn raised", "TypeError", "shape (2,)"]),
    ("cost: minimum of the wrong dimension",
     lambda: gl.Cost("c", sq, bounds=[(0, 1)], minima=[gl.Minimum([0.0, 0.0], 0.0)]),
     ValueError, ["minima[0]", "1 coordinates", "(0.0, 0.0)"]),
    ("cost: names of the wrong length",
     lambda: gl.Cost("c", sq, bounds=[(0, 1)] * 2, names=("a", "b", "c")),
     ValueError, ["names", "2 entries", "('a', 'b', 'c')"]),
    ("cost: fn not callable", lambda: gl.Cost("c", 3.0), TypeError, ["fn must be callable", "3.0"]),
    ("register: a duplicate name", lambda: gl.register(gl.get_cost("bowl")),
     ValueError, ["'bowl'", "already registered", "replace=True"]),
    ("register: not a Cost", lambda: gl.register(sq), TypeError, ["gradlab.Cost"]),
    ("get_cost: unknown name", lambda: gl.get_cost("bowll"),
     ValueError, ["'bowll'", "known costs", "bowl"]),
    # -- data and models ----------------------------------------------------------------------
    ("fit_cost: x and y of different lengths",
     lambda: gl.fit_cost(gl.models.linear, ([1, 2, 3], [1, 2])),
     ValueError, ["data.x and data.y", "same length", "3 and 2"]),
    ("fit_cost: NaN in y", lambda: gl.fit_cost(gl.models.linear, ([1, 2, 3], [1, np.nan, 2])),
     ValueError, ["data.y", "finite", "1 NaN"]),
    ("fit_cost: empty data", lambda: gl.fit_cost(gl.models.linear, ([], [])),
     ValueError, ["data.x", "empty"]),
    ("fit_cost: complex data", lambda: gl.fit_cost(gl.models.linear, ([1j, 2], [1, 2])),
     TypeError, ["data.x", "real", "complex"]),
    ("fit_cost: data not a pair", lambda: gl.fit_cost(gl.models.linear, [1, 2, 3]),
     TypeError, ["data", "(x, y) pair", "[1, 2, 3]"]),
    ("fit_cost: model not callable", lambda: gl.fit_cost("linear", ([1, 2], [1, 2])),
     TypeError, ["model must be callable", "'linear'"]),
    ("datasets: n too small", lambda: gl.datasets.line(n=1), ValueError, ["n", "at least 2", "1"]),
    # -- gradient check and exact solution ----------------------------------------------------
    ("check_gradient: a callable without bounds or points", lambda: gl.check_gradient(sq),
     ValueError, ["no bounds", "random check points", "bounds="]),
    ("check_gradient: points of the wrong width",
     lambda: gl.check_gradient(BOWL, points=[[1.0, 2.0, 3.0]]),
     ValueError, ["points", "2 entries", "(1, 3)"]),
    ("check_gradient: n = 0", lambda: gl.check_gradient(BOWL, n=0),
     ValueError, ["n must be at least 1", "0"]),
    ("solve_exact: no closed form", lambda: gl.solve_exact("himmelblau"),
     ValueError, ["'himmelblau'", "no closed-form", "grid_search"]),
    # -- grid search -------------------------------------------------------------------------
    ("grid_search: num < 2", lambda: gl.grid_search(BOWL, num=1),
     ValueError, ["num", "at least 2", "1"]),
    ("grid_search: num of the wrong length", lambda: gl.grid_search(BOWL, num=[10, 10, 10]),
     ValueError, ["num", "one entry per parameter (2)", "[10, 10, 10]"]),
    ("grid_search: num not a number", lambda: gl.grid_search(BOWL, num=None),
     TypeError, ["num", "int", "None"]),
    ("grid_search: 50 parameters", lambda: gl.grid_search(gl.suite.sphere(50), num=2),
     ValueError, ["max_points", "50 parameters", "gl.descend"]),
    ("grid_search: unchunked grid over the budget",
     lambda: gl.grid_search("line", num=3000, chunked=False),
     ValueError, ["without chunking", "memory_budget", "chunked=True"]),
    ("grid_search: a callable without bounds", lambda: gl.grid_search(sq),
     ValueError, ["no bounds", "grid search", "bounds="]),
    # -- descent -------------------------------------------------------------------------------
    ("descend: x0 of the wrong length", lambda: gl.descend(BOWL, [1.0], learning_rate=0.1),
     ValueError, ["x0", "2 entries", "(1,)"]),
    ("descend: x0 with NaN", lambda: gl.descend(BOWL, [np.nan, 1.0], learning_rate=0.1),
     ValueError, ["x0", "finite", "nan"]),
    ("descend: integer x0 array",
     lambda: gl.descend(BOWL, np.array([1, 2]), learning_rate=0.1),
     TypeError, ["x0", "floating", "int64"]),
    ("descend: complex x0", lambda: gl.descend(BOWL, np.array([1j, 2]), learning_rate=0.1),
     TypeError, ["x0", "real", "complex"]),
    ("descend: x0 of two dimensions",
     lambda: gl.descend(BOWL, [[1.0, 2.0]], learning_rate=0.1),
     ValueError, ["x0", "shape (d,)", "(1, 2)"]),
    ("descend: steps = 0", lambda: gl.descend(BOWL, [0.0, 0.0], learning_rate=0.1, steps=0),
     ValueError, ["steps", "at least 1", "0"]),
    ("descend: steps not an integer",
     lambda: gl.descend(BOWL, [0.0, 0.0], learning_rate=0.1, steps=2.5),
     TypeError, ["steps", "integer", "2.5"]),
    ("descend: negative learning rate", lambda: gl.descend(BOWL, [0.0, 0.0], learning_rate=-0.1),
     ValueError, ["learning_rate", "positive", "-0.1"]),
    ("descend: NaN learning rate", lambda: gl.descend(BOWL, [0.0, 0.0], learning_rate=np.nan),
     ValueError, ["learning_rate", "positive and finite", "nan"]),
    ("descend: both optimizer and learning_rate",
     lambda: gl.descend(BOWL, [0.0, 0.0], optimizer=optax.sgd(0.1), learning_rate=0.1),
     ValueError, ["exactly one of optimizer=", "learning_rate=0.1"]),
    ("descend: neither optimizer nor learning_rate", lambda: gl.descend(BOWL, [0.0, 0.0]),
     ValueError, ["exactly one of optimizer=", "optimizer=None"]),
    ("descend: optimizer is not an optax transformation",
     lambda: gl.descend(BOWL, [0.0, 0.0], optimizer="adam"),
     TypeError, ["optax.GradientTransformation", "'adam'"]),
    ("descend: record_every does not divide steps",
     lambda: gl.descend(BOWL, [0.0, 0.0], learning_rate=0.1, steps=10, record_every=3),
     ValueError, ["steps (10)", "multiple of record_every (3)"]),
    ("descend: projection bounds of the wrong length",
     lambda: gl.descend(BOWL, [0.0, 0.0], learning_rate=0.1, bounds=[(0, 1)]),
     ValueError, ["bounds", "one (low, high) pair per parameter (2)", "got 1"]),
    ("descend: negative gtol",
     lambda: gl.descend(BOWL, [0.0, 0.0], learning_rate=0.1, gtol=-1.0),
     ValueError, ["gtol", "non-negative", "-1.0"]),
    # -- many starts ---------------------------------------------------------------------------
    ("multistart: n_starts = 0", lambda: gl.multistart(BOWL, n_starts=0),
     ValueError, ["n_starts", "at least 1", "0"]),
    ("multistart: starts outside the bounds",
     lambda: gl.multistart(BOWL, starts=[[0.0, -1.0], [9.0, -1.0]]),
     ValueError, ["starts must lie inside the bounds", "start 1", "[9.0, -1.0]"]),
    ("multistart: starts of the wrong shape", lambda: gl.multistart(BOWL, starts=[0.0, -1.0]),
     ValueError, ["starts", "shape (n, d)", "(2,)"]),
    ("multistart: a cost without bounds", lambda: gl.multistart(sq, n_starts=5),
     ValueError, ["no bounds", "drawing starts", "bounds="]),
    ("multistart: unknown sampling", lambda: gl.multistart(BOWL, sampling="sobol"),
     ValueError, ["sampling", "('uniform', 'lhs')", "'sobol'"]),
    ("sweep_learning_rates: a rate <= 0",
     lambda: gl.sweep_learning_rates(BOWL, [0.0, 0.0], [0.1, 0.0]),
     ValueError, ["learning_rates", "positive", "0."]),
    ("sweep_learning_rates: an optimiser instead of a factory",
     lambda: gl.sweep_learning_rates(BOWL, [0.0, 0.0], [0.1], optimizer=optax.adam(0.1)),
     TypeError, ["factory taking learning_rate", "optax.adam"]),
    ("sweep_learning_rates: no rates", lambda: gl.sweep_learning_rates(BOWL, [0.0, 0.0], []),
     ValueError, ["learning_rates", "empty"]),
    ("basin_map: three parameters", lambda: gl.basin_map(gl.suite.sphere(3)),
     ValueError, ["1 or 2 parameters", "'sphere-3d' has 3"]),
    # -- figures -------------------------------------------------------------------------------
    ("plot: a landscape of a 1-parameter grid",
     lambda: gl.plot.landscape(gl.GridResult(x=np.zeros(1), fun=0.0, axes=(np.zeros(5),),
                                             values=np.zeros(5), nfev=5, grid_x=np.zeros(1),
                                             grid_fun=0.0)),
     ValueError, ["landscape", "2-parameter grid"]),
]


# Only known after computing: whether a cost has a closed form needs its Hessian.
DECIDED_BY_COMPUTING = {"solve_exact: no closed form"}


@pytest.mark.parametrize(("name", "fn", "error", "fragments"),
                         [pytest.param(*case, id=case[0]) for case in CASES])
def test_bad_input_is_refused_clearly_before_compiling(name, fn, error, fragments,
                                                       count_compiles):
    with count_compiles() as compiles, pytest.raises(error) as info:
        fn()
    message = str(info.value)
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} not in {message!r}"
    if name not in DECIDED_BY_COMPUTING:
        assert compiles["n"] == 0, "the error came after compiling"


def test_the_catalogue_is_large():
    assert len(CASES) >= 25
