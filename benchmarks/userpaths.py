"""What users write, held to the built-ins' targets (study "userpaths").

Users rarely pass the built-in `Cost` objects the other studies time: they pass a
plain function, a `fit_cost` of their own model without bounds, or a cost by its
name. Each of those paths is timed here against a bare JAX program of the very
same function (the fair peer: it does only the work gradlab does), with the
calls compared taken in turns, and held to the built-ins' targets: descent
within 1.2× of a bare ``lax.scan``, a grid within 1.3× of a bare
``jit(vmap)``, and a multistart of a user's own sine model within 1.3× of the
built-in one. What users write inline is timed too: ``optimizer=optax.adam(...)``
built in the call (a new object on every call, which gradlab keys by what it
computes, `gradlab._static`), against a bare ``lax.scan`` of the same optax
update. The same grids in other chunks show what the loop of chunks costs.
Compile times come from fresh processes.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax

import gradlab as gl
from benchmarks.harness import Study, Target, run_json_subprocess, time_interleaved

STEPS, RATE = 1000, 0.1


def _line_data():
    data = gl.datasets.line()
    return data.x, data.y


def _descent(study: Study, quick: bool):
    x, y = _line_data()
    plain = lambda p: jnp.mean((p[0] * x + p[1] - y) ** 2)
    users_model = gl.fit_cost(lambda p, x: p[0] * x + p[1], (x, y))  # no bounds, not declared
    paths = {"built-in object": gl.get_cost("line"), "built-in by name": "line",
             "plain function": plain, "fit_cost of a lambda, no bounds": users_model}
    x0 = jnp.zeros(2)
    value_and_grad = jax.value_and_grad(lambda p, x, y: jnp.mean((p[0] * x + p[1] - y) ** 2))

    @jax.jit
    def bare_scan(x0, x, y):
        def body(p, _):
            f, g = value_and_grad(p, x, y)
            return p - RATE * g, (p, f, jnp.sqrt(jnp.sum(g * g)))
        return jax.lax.scan(body, x0, None, length=STEPS)

    rows = [["path", "gradlab median", "bare lax.scan median", "ratio"]]
    for name, cost in paths.items():
        ours, bare = time_interleaved(
            [lambda c=cost: gl.descend(c, x0, learning_rate=RATE, steps=STEPS).xs,
             lambda: bare_scan(x0, x, y)], repeats=15 if quick else 101)
        rows.append([name, str(ours), str(bare), f"{ours.median / bare.median:.2f}×"])
        study.targets.append(Target(f"descent {STEPS} steps, {name}, vs bare lax.scan",
                                    ours.median / bare.median, 1.2, False))
        study.data[f"descent {name}"] = {"gradlab": vars(ours), "bare": vars(bare)}
    study.tables.append((f"descent, {STEPS} steps of x ← x − {RATE}·∇f(x) on the line's MSE",
                         rows))


def _grid(study: Study, quick: bool):
    num = 100 if quick else 500
    x, y = _line_data()
    plain = lambda p: jnp.mean((p[0] * x + p[1] - y) ** 2)
    box = [(-5.0, 5.0), (-5.0, 0.0)]
    users_model = gl.fit_cost(lambda p, x: p[0] * x + p[1], (x, y))
    paths = {"built-in object": (gl.get_cost("line"), None),
             "built-in by name": ("line", None),
             "plain function": (plain, box),
             "fit_cost of a lambda, no bounds": (users_model, box)}
    axes = [jnp.asarray(np.linspace(lo, hi, num), x.dtype) for lo, hi in box]
    points = jnp.stack([g.ravel() for g in jnp.meshgrid(*axes, indexing="ij")], axis=1)

    @jax.jit
    def bare(points, x, y):  # the same function, evaluated at every point at once
        values = jax.vmap(lambda p: jnp.mean((p[0] * x + p[1] - y) ** 2))(points)
        return jnp.argmin(values), values

    rows = [["path", "gradlab median", "bare jit(vmap) median", "ratio"]]
    for name, (cost, bounds) in paths.items():
        ours, peer = time_interleaved(
            [lambda c=cost, b=bounds: gl.grid_search(c, num=num, bounds=b).values,
             lambda: bare(points, x, y)], repeats=5 if quick else 15)
        rows.append([name, str(ours), str(peer), f"{ours.median / peer.median:.2f}×"])
        study.targets.append(Target(f"grid {num}², {name}, vs bare jit(vmap)",
                                    ours.median / peer.median, 1.3, False))
        study.data[f"grid {name}"] = {"gradlab": vars(ours), "bare": vars(peer)}
    study.tables.append((f"grid search, {num}×{num} points of the line's MSE", rows))


def _grid_chunks(study: Study, quick: bool):
    """The same grids in other chunks (``batch_size=``), in turns: what the loop of chunks
    costs, and what chunks small enough for a core's cache (16,384 float64 points: 512 KiB
    for two coordinates, the values and the index) would give — XLA:CPU's fused reduction
    over a plain function's data runs faster on them, elementwise costs and the pointwise
    fit's scan slower."""
    num = 100 if quick else 500
    x, y = _line_data()
    box = [(-5.0, 5.0), (-5.0, 0.0)]
    costs = {"plain function": (lambda p: jnp.mean((p[0] * x + p[1] - y) ** 2), box),
             "built-in line (pointwise)": ("line", None), "built-in rastrigin": ("rastrigin", None)}
    sizes = {"default": None, "4 chunks": -(-num * num // 4), "chunks of 16,384": 16_384}
    rows = [["cost"] + [f"{k} (ratio to default)" for k in sizes]]
    for name, (cost, bounds) in costs.items():
        timings = time_interleaved(
            [lambda c=cost, b=bounds, s=size: gl.grid_search(c, num=num, bounds=b,
                                                             batch_size=s).values
             for size in sizes.values()], repeats=5 if quick else 15)
        rows.append([name] + [f"{t} ({t.median / timings[0].median:.2f}×)" for t in timings])
        study.data[f"grid chunks {name}"] = {k: vars(t) for k, t in zip(sizes, timings)}
    study.tables.append((f"grid search, {num}×{num} points in other chunks (batch_size=)", rows))


def _optax_in_the_call(study: Study, quick: bool):
    """``optimizer=optax.adam(...)`` written in the call, against a bare optax loop."""
    line = gl.get_cost("line")
    x, y = line.data
    x0 = jnp.zeros(2)
    value_and_grad = jax.value_and_grad(lambda p, x, y: jnp.mean((p[0] * x + p[1] - y) ** 2))

    @jax.jit
    def bare_adam(x0, x, y):
        opt = optax.adam(RATE)

        def body(carry, _):
            p, state = carry
            f, g = value_and_grad(p, x, y)
            update, state = opt.update(g, state, p)
            return (optax.apply_updates(p, update), state), (p, f, jnp.sqrt(jnp.sum(g * g)))
        return jax.lax.scan(body, (x0, opt.init(x0)), None, length=STEPS)

    ours, bare = time_interleaved(
        [lambda: gl.descend(line, x0, optimizer=optax.adam(RATE), steps=STEPS).xs,
         lambda: bare_adam(x0, x, y)], repeats=15 if quick else 101)
    ratio = ours.median / bare.median
    study.tables.append((f"descent, {STEPS} steps of optax.adam({RATE}) on the line's MSE",
                         [["path", "gradlab median", "bare lax.scan median", "ratio"],
                          ["optax.adam built in the call", str(ours), str(bare),
                           f"{ratio:.2f}×"]]))
    study.targets.append(Target(f"descent {STEPS} steps, optax.adam built in the call, "
                                "vs bare lax.scan", ratio, 1.2, False))
    study.data["descent optax in the call"] = {"gradlab": vars(ours), "bare": vars(bare)}


def _multistart(study: Study, quick: bool):
    n = 200 if quick else 1000
    sine = gl.get_cost("sine")
    users = gl.fit_cost(lambda p, x: jnp.sin(p[0] * x), sine.data, bounds=sine.bounds)
    builtin, own = time_interleaved(
        [lambda: gl.multistart(sine, n_starts=n, seed=0).trajectories.x,
         lambda: gl.multistart(users, n_starts=n, seed=0).trajectories.x],
        repeats=3 if quick else 9)
    study.tables.append((f"multistart, {n} starts on the sine fit",
                         [["path", "median", "ratio to built-in"],
                          ["built-in sine", str(builtin), "1.00×"],
                          ["fit_cost of the user's own sin model", str(own),
                           f"{own.median / builtin.median:.2f}×"]]))
    study.targets.append(Target(f"multistart {n} starts, the user's own sine model vs built-in",
                                own.median / builtin.median, 1.3, False))
    study.data["multistart"] = {"builtin": vars(builtin), "users": vars(own)}


def _progress(study: Study, quick: bool):
    """What reporting progress costs: the same calls with and without ``progress=``
    (off, the program is the one without progress at all)."""
    n = 200 if quick else 1000
    line, sine = gl.get_cost("line"), gl.get_cost("sine")
    quiet = lambda done, total: None
    pairs = {
        f"descend, {STEPS} steps": lambda p: gl.descend(line, jnp.zeros(2), learning_rate=RATE,
                                                        steps=STEPS, progress=p).xs,
        f"multistart, {n} sine starts": lambda p: gl.multistart(
            sine, n_starts=n, seed=0, progress=p).trajectories.x,
        "grid 500² of the line, best only": lambda p: gl.grid_search(
            line, num=100 if quick else 500, keep_values=False, batch_size=8192,
            progress=p).x,
    }
    rows = [["call", "progress off", "progress on", "ratio on/off"]]
    for name, call in pairs.items():
        off, on = time_interleaved([lambda c=call: c(None), lambda c=call: c(quiet)],
                                   repeats=5 if quick else 31)
        rows.append([name, str(off), str(on), f"{on.median / off.median:.2f}×"])
        study.data[f"progress {name}"] = {"off": vars(off), "on": vars(on)}
    study.tables.append(("progress reports (about 100 per run) against none", rows))


FRESH = """
import json, time, jax
jax.config.update("jax_enable_x64", True)
import jax.numpy as jnp
import gradlab as gl
data = gl.datasets.line()
x, y = data.x, data.y
calls = {{
    "descend, plain function": lambda: gl.descend(
        lambda p: jnp.mean((p[0] * x + p[1] - y) ** 2), jnp.zeros(2), learning_rate=0.1,
        steps={steps}).xs,
    "descend, built-in by name": lambda: gl.descend("line", jnp.zeros(2), learning_rate=0.1,
                                                    steps={steps}).xs,
    "multistart, sine": lambda: gl.multistart("sine", n_starts={n}, seed=0).trajectories.x,
}}
out = {{}}
for name, call in calls.items():
    t = time.perf_counter()
    jax.block_until_ready(call())
    out[name] = time.perf_counter() - t
print(json.dumps(out))
"""


def _compile_times(study: Study, quick: bool):
    out = run_json_subprocess(FRESH.format(steps=STEPS, n=200 if quick else 1000))
    study.tables.append(("first call in a fresh process (compile included)",
                         [["call", "seconds"]] + [[k, f"{v:.2f} s"] for k, v in out.items()]))
    study.data["fresh first calls"] = out


def run(quick: bool = False, out=None) -> Study:
    study = Study("userpaths", "what users write, against the same program written bare")
    _descent(study, quick)
    _optax_in_the_call(study, quick)
    _grid(study, quick)
    _grid_chunks(study, quick)
    _multistart(study, quick)
    _progress(study, quick)
    _compile_times(study, quick)
    return study
