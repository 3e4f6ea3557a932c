"""Progress from inside compiled loops: about 100 reports, ending at the total, never
recompiling for a new callable, and checked before anything runs."""

import numpy as np
import optax
import pytest

import gradlab as gl

CALLS = {
    "descend, plain loop": lambda p: gl.descend("bowl", [0.0, 0.0], learning_rate=0.1,
                                                steps=1000, progress=p),
    "descend, line search": lambda p: gl.descend("rosenbrock", [-1.2, 1.0],
                                                 optimizer=optax.lbfgs(), steps=300, progress=p),
    "multistart": lambda p: gl.multistart("himmelblau", n_starts=64, seed=0, progress=p),
    "sweep_learning_rates": lambda p: gl.sweep_learning_rates("bowl", [0.0, 0.0], [0.1, 0.5],
                                                              steps=200, progress=p),
    "grid_search, kept values": lambda p: gl.grid_search("line", num=400, batch_size=4096,
                                                         progress=p),
    "grid_search, best only": lambda p: gl.grid_search("line", num=400, batch_size=4096,
                                                       keep_values=False, progress=p),
}


@pytest.mark.parametrize("name", CALLS)
def test_reports_rise_to_the_total_about_a_hundred_times(name):
    seen = []
    CALLS[name](lambda done, total: seen.append((done, total)))
    done = [d for d, _ in seen]
    totals = {t for _, t in seen}
    assert len(totals) == 1 and done[-1] == totals.pop()
    assert done == sorted(done) and 1 <= len(seen) <= 101


def test_a_new_callable_compiles_nothing_and_off_is_the_plain_program(count_compiles):
    run = CALLS["descend, plain loop"]
    run(lambda d, t: None)
    run(None)
    with count_compiles() as c:
        run(lambda d, t: print(end=""))
        run(None)
    assert c["n"] == 0


def test_results_do_not_depend_on_progress():
    on = gl.multistart("himmelblau", n_starts=64, seed=1, progress=lambda d, t: None)
    off = gl.multistart("himmelblau", n_starts=64, seed=1)
    np.testing.assert_array_equal(on.trajectories.xs, off.trajectories.xs)


@pytest.mark.parametrize("call", [lambda: gl.descend("bowl", [0.0, 0.0], learning_rate=0.1,
                                                     progress=True),
                                  lambda: gl.multistart("bowl", progress="bar"),
                                  lambda: gl.grid_search("bowl", progress=3)])
def test_progress_must_be_a_callable(call, count_compiles):
    with count_compiles() as c, pytest.raises(TypeError, match="progress must be a callable"):
        call()
    assert c["n"] == 0
