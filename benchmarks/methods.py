"""Grid search versus descent (study 1), and resolution versus accuracy (study 3).

For each cost: the answer of each method, its error against the known minimum
(or the exact solution), cost evaluations, compile time and run time apart.
Multistart stands in for a single descent where one descent is not enough.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax

import gradlab as gl
from benchmarks.harness import Study, time_call
from gradlab import _files

LBFGS = optax.lbfgs()
COSTS = ["bowl", "line", "sine", "rosenbrock", "himmelblau", "rastrigin", "styblinski-tang"]


def _error(cost, x):
    """Distance from ``x`` to the nearest known global minimum (inf-norm)."""
    known = np.array([m.x for m in cost.minima])
    return float(np.min(np.max(np.abs(known - np.asarray(x)), axis=1)))


def _methods_table(study: Study, quick: bool):
    num = {1: 2001 if quick else 20001, 2: 201 if quick else 1001}
    rows = [["cost", "method", "x", "error", "evaluations", "compile", "run (median)"]]
    results = {}
    for name in (COSTS[::2] if quick else COSTS):
        cost = gl.get_cost(name)
        x0 = jnp.asarray([lo + 0.3 * (hi - lo) for lo, hi in cost.bounds])
        runs = {
            f"grid {num[cost.dim]}^{cost.dim}": (
                lambda c=cost: gl.grid_search(c, num=num[c.dim], keep_values=False),
                lambda r: r.nfev),
            "descent (L-BFGS, 1 start)": (
                lambda c=cost, x=x0: gl.descend(c, x, optimizer=LBFGS, steps=200),
                lambda r: int(r.nfev)),
            f"multistart ({100 if quick else 1000} starts)": (
                lambda c=cost: gl.multistart(c, n_starts=100 if quick else 1000, seed=0),
                lambda r: int(np.sum(np.asarray(r.trajectories.nfev)))),
        }
        for method, (fn, evals) in runs.items():
            timing = time_call(lambda f=fn: _leaves(f()), repeats=1 if quick else 5)
            result = fn()
            x = result.best if hasattr(result, "best") else result.x
            err = _error(cost, x)
            rows.append([name, method, np.array2string(np.asarray(x), precision=4),
                         f"{err:.1e}", str(evals(result)), f"{timing.compile:.2f} s",
                         str(timing)])
            results[f"{name}/{method}"] = {"error": err, "evaluations": evals(result),
                                           "timing": vars(timing)}
    study.tables.append(("each method on each cost (error: distance to the nearest known "
                         "global minimum)", rows))
    study.data["methods"] = results
    study.notes.append("A single descent from a fixed start lands in whichever basin holds it "
                       "(see sine, rastrigin, styblinski-tang); multistart finds the global "
                       "minimum at the price of many descents, all in one compiled call.")


def _leaves(result):
    return jax.tree.leaves(result)


def _resolution(study: Study, quick: bool, out_dir):
    line = gl.get_cost("line")
    exact = np.asarray(gl.solve_exact(line).x)
    nums = [5, 10, 30, 100, 300] + ([] if quick else [1000, 3000])
    grid_err = [float(np.max(np.abs(np.asarray(gl.grid_search(line, num=n,
                keep_values=False).x) - exact))) for n in nums]
    steps = [5, 10, 30, 100, 300] + ([] if quick else [1000])
    traj = gl.descend(line, [0.0, 0.0], learning_rate=0.5, steps=max(steps), gtol=0.0)
    xs = np.asarray(traj.xs)
    descent_err = [float(np.max(np.abs(xs[s] - exact))) for s in steps]
    rows = [["grid num per axis", "evaluations", "error"]]
    rows += [[n, n * n, f"{e:.1e}"] for n, e in zip(nums, grid_err)]
    study.tables.append(("grid resolution versus accuracy on the line (error falls as 1/num)",
                         rows))
    rows = [["descent steps (α = 0.5)", "evaluations", "error"]]
    rows += [[s, s + 1, f"{e:.1e}"] for s, e in zip(steps, descent_err)]
    study.tables.append(("descent steps versus accuracy on the line (error falls geometrically)",
                         rows))
    study.data["resolution"] = {"grid": dict(zip(map(str, nums), grid_err)),
                                "descent": dict(zip(map(str, steps), descent_err))}
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    ax.loglog([n * n for n in nums], grid_err, "o-", label="grid search (num² evaluations)")
    ax.loglog([s + 1 for s in steps], np.maximum(descent_err, 1e-17), "s-",
              label="gradient descent (steps + 1)")
    ax.set_xlabel("cost evaluations")
    ax.set_ylabel("error in (m, b)")
    ax.set_title("accuracy for the evaluations spent (line MSE)")
    ax.legend()
    path = out_dir / "resolution.png"
    _files.write_atomically(path, lambda tmp: fig.savefig(tmp, dpi=90, bbox_inches="tight",
                                                          format="png"), overwrite=True)
    plt.close(fig)
    study.plots.append(path.name)


def run(quick: bool = False, out_dir=None) -> Study:
    study = Study("methods", "Grid search versus descent")
    _methods_table(study, quick)
    _resolution(study, quick, out_dir)
    return study
