"""The curse of dimensionality (study 2): what reaching 1e-3 in x costs as d grows.

A grid needs spacing 2e-3 to guarantee error 1e-3, so num = width/2e-3 + 1
per axis and numᵈ evaluations; it is run while it fits in ``max_points`` and,
beyond, its time is extrapolated from the warm rate of the largest grid that
fits. Descent (L-BFGS from a fixed start; multistart for Styblinski-Tang,
whose 2ᵈ minima need many starts) is run at every dimension.
"""

from __future__ import annotations

import math
import time

import jax
import numpy as np
import optax

import gradlab as gl
from benchmarks.harness import Study
from gradlab import _files, suite

TOL = 1e-3
LBFGS = optax.lbfgs()


def _warm_grid_seconds(cost, num):
    gl.grid_search(cost, num=num, keep_values=False)  # compile
    t0 = time.perf_counter()
    jax.block_until_ready(gl.grid_search(cost, num=num, keep_values=False).x)
    return time.perf_counter() - t0


def _grid_cost(cost, max_points):
    """(points needed, seconds, measured or extrapolated) for a 1e-3 grid of ``cost``."""
    num = [math.ceil((hi - lo) / (2 * TOL)) + 1 for lo, hi in cost.bounds]
    points = math.prod(num)
    if points <= max_points:
        return points, _warm_grid_seconds(cost, num), True
    # too large to run: time the largest grid that fits, at the same dimension
    probe = max(2, int(max_points ** (1 / len(num))))
    rate = probe ** len(num) / _warm_grid_seconds(cost, probe)
    return points, points / rate, False


def run(quick: bool = False, out_dir=None) -> Study:
    study = Study("dimension", "The curse of dimensionality")
    dims = [1, 2, 3] if quick else [1, 2, 3, 4, 5, 6, 8]
    max_points = 10**5 if quick else 3 * 10**7
    rows = [["cost", "d", "grid points for 1e-3", "grid time", "descent evaluations",
             "descent time", "descent error"]]
    series = {}
    for name, factory in (("sphere", suite.sphere), ("rosenbrock", suite.rosenbrock),
                          ("styblinski-tang", suite.styblinski_tang)):
        for d in dims:
            if name == "rosenbrock" and d == 1:
                continue
            cost = factory(d)
            points, grid_t, measured = _grid_cost(cost, max_points)
            grid_text = f"{grid_t:.3g} s" if measured else f"~{grid_t:.2g} s (extrapolated)"
            t0 = time.perf_counter()
            if name == "styblinski-tang":
                ms = gl.multistart(cost, n_starts=64 * d, seed=0)
                x, evals = ms.best, int(np.sum(np.asarray(ms.trajectories.nfev)))
            else:
                start = [lo + 0.3 * (hi - lo) for lo, hi in cost.bounds]
                traj = gl.descend(cost, start, optimizer=LBFGS, steps=500)
                x, evals = traj.x, int(traj.nfev)
            jax.block_until_ready(x)
            desc_t = time.perf_counter() - t0
            err = float(np.max(np.abs(np.asarray(cost.minima[0].x) - np.asarray(x))))
            rows.append([name, d, f"{points:.1e}", grid_text, evals, f"{desc_t:.2f} s",
                         f"{err:.1e}"])
            series.setdefault(name, []).append((d, points, evals))
    study.tables.append(("time and evaluations to reach 1e-3 in x (grid: warm, extrapolated "
                         "from the largest grid that fits where too large to run; descent: "
                         "including compilation)", rows))
    study.data["dimension"] = series
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for k, (name, values) in enumerate(series.items()):
        d, points, evals = zip(*values)
        ax.semilogy(d, points, "o--", color=f"C{k}", label=f"grid, {name}")
        ax.semilogy(d, evals, "s-", color=f"C{k}", label=f"descent, {name}")
    ax.set_xlabel("dimension d")
    ax.set_ylabel("cost evaluations for 1e-3 in x")
    ax.set_title("the grid grows as num^d; descent does not")
    ax.legend(fontsize="small")
    path = out_dir / "dimension.png"
    _files.write_atomically(path, lambda tmp: fig.savefig(tmp, dpi=90, bbox_inches="tight",
                                                          format="png"), overwrite=True)
    plt.close(fig)
    study.plots.append(path.name)
    return study
