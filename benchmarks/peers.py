"""gradlab against what a user would otherwise write, in the same run (study 4).

Grid: the course's double Python loop, numpy broadcasting, scipy.optimize.brute and
a bare jax.jit(jax.vmap(...)). Descent: the course's Python loop, a jitted optax
step called from Python, and a bare lax.scan. Multi-start: a loop of
scipy.optimize.minimize (BFGS, analytic gradient) over the same starts. Memory: a
10⁸-point grid in a fresh process. Recompiles: a second call with new data.
"""

from __future__ import annotations

import jax
import jax.monitoring
import jax.numpy as jnp
import numpy as np
import optax

import gradlab as gl
from benchmarks.harness import Study, Target, run_json_subprocess, time_call, time_interleaved

_compiles: list = []
jax.monitoring.register_event_duration_secs_listener(
    lambda name, *_, **__: _compiles.append(1)
    if name == "/jax/core/compile/backend_compile_duration" else None)


def _grid_peers(study: Study, quick: bool):
    num = 100 if quick else 500
    line = gl.get_cost("line")
    x, y = np.asarray(line.data.x), np.asarray(line.data.y)
    lo, hi = np.asarray(line.bounds).T
    ms, bs = np.linspace(lo[0], hi[0], num), np.linspace(lo[1], hi[1], num)

    def course_loop():  # the course's double loop
        costs = np.empty((num, num))
        for i, m in enumerate(ms):
            for j, b in enumerate(bs):
                costs[i, j] = np.mean((m * x + b - y) ** 2)
        return np.unravel_index(np.argmin(costs), costs.shape)

    def broadcasting():
        costs = np.mean((ms[:, None, None] * x + bs[None, :, None] - y) ** 2, axis=-1)
        return np.unravel_index(np.argmin(costs), costs.shape)

    points = jnp.stack([g.ravel() for g in jnp.meshgrid(jnp.asarray(ms), jnp.asarray(bs),
                                                        indexing="ij")], axis=1)
    xj, yj = jnp.asarray(x), jnp.asarray(y)

    @jax.jit
    def bare(points, x, y):
        values = jax.vmap(lambda p: jnp.mean((p[0] * x + p[1] - y) ** 2))(points)
        return jnp.argmin(values), values

    from scipy import optimize

    def brute():
        return optimize.brute(lambda p: np.mean((p[0] * x + p[1] - y) ** 2),
                              ranges=[(lo[0], hi[0]), (lo[1], hi[1])], Ns=num, finish=None)

    ours, bare_t = time_interleaved([lambda: gl.grid_search(line, num=num).values,
                                     lambda: bare(points, xj, yj)], repeats=15)
    numpy_t = time_call(broadcasting, repeats=3)
    loop_t = time_call(course_loop, repeats=1, warmup=0)
    brute_t = time_call(brute, repeats=1, warmup=0)
    rows = [["method", "median [min–max]", "first call", "ratio to gradlab"]]
    for name, t in (("gradlab grid_search", ours), ("bare jax.jit(jax.vmap)", bare_t),
                    ("numpy broadcasting", numpy_t), ("course double loop", loop_t),
                    ("scipy.optimize.brute", brute_t)):
        rows.append([name, str(t), f"{t.first:.3f} s", f"{t.median / ours.median:.2f}×"])
    study.tables.append((f"grid search, line MSE, {num}×{num} grid of 100-point costs", rows))
    study.targets += [
        Target(f"grid {num}² vs course double loop", loop_t.median / ours.median, 100, True),
        Target(f"grid {num}² vs numpy broadcasting", numpy_t.median / ours.median, 10, True),
        Target(f"grid {num}² overhead vs bare jit(vmap)", ours.median / bare_t.median, 1.3, False),
    ]
    study.data["grid"] = {k: vars(v) for k, v in (("gradlab", ours), ("bare", bare_t),
                                                   ("numpy", numpy_t), ("loop", loop_t),
                                                   ("brute", brute_t))}
    # no silent recompiles: new data of the same shape
    other = line.replace(data=gl.datasets.line(seed=11))
    start = len(_compiles)
    jax.block_until_ready(gl.grid_search(other, num=num).values)
    study.targets.append(Target("XLA compiles on a 2nd grid call with new data",
                                float(len(_compiles) - start), 0, False))


def _descent_peers(study: Study, quick: bool):
    steps, lr = 1000, 0.1
    line = gl.get_cost("line")
    x, y = np.asarray(line.data.x), np.asarray(line.data.y)
    x0 = jnp.array([0.0, 0.0])

    def ours():
        return gl.descend(line, x0, learning_rate=lr, steps=steps).xs

    value_and_grad = jax.value_and_grad(lambda p, d: jnp.mean((p[0] * d[0] + p[1] - d[1]) ** 2))
    data = (jnp.asarray(x), jnp.asarray(y))

    @jax.jit
    def bare_scan(x0, data):
        def body(p, _):
            f, g = value_and_grad(p, data)
            return p - lr * g, (p, f, jnp.linalg.norm(g))
        return jax.lax.scan(body, x0, None, length=steps)

    opt = optax.sgd(lr)

    @jax.jit
    def optax_step(p, state, data):
        f, g = value_and_grad(p, data)
        updates, state = opt.update(g, state, p)
        return optax.apply_updates(p, updates), state, f

    def optax_loop():  # the history kept as a list: stacking it is not descent's work
        p, state, path = x0, opt.init(x0), []
        for _ in range(steps):
            p, state, _ = optax_step(p, state, data)
            path.append(p)
        return path[-1]

    def course_loop():
        m, b, path = 0.0, 0.0, []
        for _ in range(steps):
            r = m * x + b - y
            m, b = m - lr * 2 * np.mean(r * x), b - lr * 2 * np.mean(r)
            path.append((m, b))
        return path

    ours_t, scan_t = time_interleaved([ours, lambda: bare_scan(x0, data)], repeats=101)
    optax_t = time_call(optax_loop, repeats=3)
    course_t = time_call(course_loop, repeats=3)
    rows = [["method", "median [min–max]", "first call", "ratio to gradlab"]]
    for name, t in (("gradlab descend (lax.scan)", ours_t), ("bare lax.scan", scan_t),
                    ("jitted optax step, Python loop", optax_t), ("course numpy loop", course_t)):
        rows.append([name, str(t), f"{t.first:.3f} s", f"{t.median / ours_t.median:.2f}×"])
    study.tables.append((f"descent, {steps} steps of plain gradient descent on the line MSE", rows))
    study.targets += [
        Target("descent vs jitted optax step in a Python loop", optax_t.median / ours_t.median,
               10, True),
        Target("descent overhead vs bare lax.scan", ours_t.median / scan_t.median, 1.2, False),
    ]
    study.data["descent"] = {k: vars(v) for k, v in (("gradlab", ours_t), ("scan", scan_t),
                                                      ("optax_loop", optax_t),
                                                      ("course", course_t))}


def _distinct(values, tol=1e-2):
    """Sorted distinct values, merging those closer than ``tol`` (scipy stops at gtol 1e-5)."""
    out = []
    for v in np.sort(values):
        if not out or v - out[-1] > tol:
            out.append(v)
    return np.asarray(out)


def _multistart_peers(study: Study, quick: bool):
    from scipy import optimize

    n = 200 if quick else 1000
    rows = [["dtype", "gradlab warm [min–max]", "gradlab incl. compile", "scipy BFGS loop",
             "ratio (warm)", "minima in [0, 50]: gradlab / scipy"]]
    for dtype_name, x64 in (("float64", True), ("float32", False)):
        with jax.enable_x64(x64):
            sine = gl.get_cost("sine")
            from gradlab.multistart import sample_starts
            starts = jnp.asarray(sample_starts(sine.bounds, n, 0), jnp.result_type(float))
            ours = time_call(lambda: gl.multistart(sine, starts=starts).trajectories.x,  # noqa: B023
                             repeats=3)
            found = gl.multistart(sine, starts=starts).minima
        x, y = np.asarray(sine.data.x, float), np.asarray(sine.data.y, float)
        f = lambda w: np.mean((np.sin(w[0] * x) - y) ** 2)  # noqa: B023
        g = lambda w: np.array([2 * np.mean((np.sin(w[0] * x) - y) * np.cos(w[0] * x) * x)])  # noqa: B023
        s_starts = np.asarray(starts, float)
        scipy_t = time_call(lambda: [optimize.minimize(f, s, jac=g, method="BFGS")  # noqa: B023
                                     for s in s_starts],  # noqa: B023
                            repeats=1, warmup=0)
        ends = np.array([optimize.minimize(f, s, jac=g, method="BFGS").x[0] for s in s_starts])
        ours_w = np.sort(np.asarray(found.points[found.in_bounds & (found.kind == "minimum"), 0]))
        # scipy reports any point of zero gradient; keep its minima (f'' > 0), as gradlab does
        curvature = np.array([2 * np.mean(x**2 * (np.cos(w * x) ** 2
                                                  - (np.sin(w * x) - y) * np.sin(w * x)))
                              for w in ends])
        scipy_w = _distinct(ends[(ends >= 0) & (ends <= 50) & (curvature > 0)])
        same = (len(ours_w) == len(scipy_w)
                and bool(np.all(np.abs(ours_w - scipy_w) < 1e-2)))
        rows.append([dtype_name, str(ours), f"{ours.first:.3f} s", f"{scipy_t.median:.3f} s",
                     f"{scipy_t.median / ours.median:.2f}×",
                     f"{len(ours_w)} / {len(scipy_w)}" + (" (the same)" if same else " (differ)")])
        ours_set, scipy_set = ours_w.round(4).tolist(), scipy_w.round(4).tolist()
        study.targets.append(Target(f"multistart {n} starts ({dtype_name}) vs scipy loop",
                                    scipy_t.median / ours.median, 10, True))
        study.data[f"multistart_{dtype_name}"] = {"gradlab": vars(ours), "scipy": vars(scipy_t),
                                                  "gradlab_minima": ours_set,
                                                  "scipy_minima": scipy_set}
    study.tables.append((f"multistart, {n} starts on the sine fit (default optimiser: "
                         "trust-region Newton)", rows))


MEMORY_CODE = """
import json, time, jax
from benchmarks.harness import peak_rss_mb
jax.config.update("jax_enable_x64", True)
import gradlab as gl
t = time.perf_counter()
r = gl.grid_search("line", num={num}, keep_values=False)
jax.block_until_ready(r.fun)
print(json.dumps({{"points": r.nfev, "seconds": time.perf_counter() - t,
                  "peak_rss_mb": peak_rss_mb(),
                  "x": r.x.tolist()}}))
"""


def _memory(study: Study, quick: bool):
    num = 1000 if quick else 10_000
    out = run_json_subprocess(MEMORY_CODE.format(num=num))
    study.tables.append((f"a {num}×{num} grid ({out['points']:.0e} points) of the line MSE, "
                         "keep_values=False, fresh process",
                         [["points", "time", "peak RSS", "best point"],
                          [f"{out['points']:.0e}", f"{out['seconds']:.1f} s",
                           f"{out['peak_rss_mb']:.0f} MiB",
                           f"({out['x'][0]:.4f}, {out['x'][1]:.4f})"]]))
    study.targets.append(Target(f"peak RSS (GiB) of a {out['points']:.0e}-point grid",
                                out["peak_rss_mb"] / 1024, 2.0, False))
    study.data["memory"] = out


def run(quick: bool = False) -> Study:
    study = Study("peers", "gradlab versus its peers")
    _grid_peers(study, quick)
    _descent_peers(study, quick)
    _multistart_peers(study, quick)
    _memory(study, quick)
    return study
