"""Scale (study 5): multistart throughput and grid rate as the batch grows, on 1 and 8 devices.

Each configuration runs in a fresh process (so peak memory is its own); the 8
devices are simulated on the CPU (``--xla_force_host_platform_device_count``),
which shows the sharded program runs and what it costs, not a real speed-up.
"""

from __future__ import annotations

from benchmarks.harness import Study, run_json_subprocess

CODE = """
import json, time, jax
from benchmarks.harness import peak_rss_mb
jax.config.update("jax_enable_x64", True)
import gradlab as gl
from gradlab import parallel
out = {{"devices": parallel.device_count(), "multistart": [], "grid": []}}
for n in {starts}:
    ms = gl.multistart("rastrigin", n_starts=n, seed=0, steps=50)   # compile + run
    t = time.perf_counter()
    ms = gl.multistart("rastrigin", n_starts=n, seed=1, steps=50)
    jax.block_until_ready(ms.trajectories.x)
    dt = time.perf_counter() - t
    steps = int(ms.trajectories.nit.sum())
    out["multistart"].append([n, dt, steps / dt,
                             peak_rss_mb()])
for num in {nums}:
    gl.grid_search("himmelblau", num=num, keep_values=False)
    t = time.perf_counter()
    r = gl.grid_search("himmelblau", num=num, keep_values=False)
    jax.block_until_ready(r.x)
    dt = time.perf_counter() - t
    out["grid"].append([num * num, dt, num * num / dt,
                        peak_rss_mb()])
print(json.dumps(out))
"""


def run(quick: bool = False, out_dir=None) -> Study:
    study = Study("scale", "Scale: throughput as the batch grows")
    results = {}
    for d in (1, 8):
        # The simulated runs stay small: 8 devices share 2 cores. (When every loop
        # iteration still all-reduced "is any start still running?", XLA's in-process
        # rendezvous timed out (40 s) with 10⁵ starts; each device now loops on its own.)
        if quick:
            starts, nums = [10, 1000], [300]
        elif d == 1:
            starts, nums = [10, 100, 1000, 10_000, 100_000], [100, 300, 1000, 3000, 10_000]
        else:
            starts, nums = [10, 100, 1000], [100, 300, 1000]
        try:
            results[d] = run_json_subprocess(CODE.format(starts=starts, nums=nums), devices=d,
                                             timeout=150)
        except Exception as err:  # a hung or failed child: report it, keep the other studies
            study.notes.append(f"the {d}-device run did not finish: {str(err)[-300:]}")
    rows = [["starts", "devices", "time", "descent steps / s", "peak RSS"]]
    for d, out in results.items():
        for n, dt, rate, rss in out["multistart"]:
            rows.append([n, d, f"{dt:.3f} s", f"{rate:.3g}", f"{rss:.0f} MiB"])
    study.tables.append(("multistart on rastrigin (2-D), 50 steps, warm", rows))
    rows = [["grid points", "devices", "time", "points / s", "peak RSS"]]
    for d, out in results.items():
        for n, dt, rate, rss in out["grid"]:
            rows.append([f"{n:.0e}", d, f"{dt:.3f} s", f"{rate:.3g}", f"{rss:.0f} MiB"])
    study.tables.append(("grid search on himmelblau, keep_values=False, warm", rows))
    study.data["scale"] = {str(d): out for d, out in results.items()}
    study.notes.append("8 devices here are simulated on the same 2 CPU cores: the rows show "
                       "that the sharded program runs and agrees, not a hardware speed-up.")
    return study
