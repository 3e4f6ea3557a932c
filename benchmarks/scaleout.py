"""Scale out (study 6): multistart and grid throughput on 1 and 2 processes joined by JAX's runtime.

Each configuration runs in fresh processes. Two processes are joined on
127.0.0.1 exactly as on a cluster (`gradlab.parallel.initialize` reads the
``JAX_*`` variables). On this machine both configurations share the same CPU
cores, so the tables show the overhead of running as several processes (a
second runtime, the argument check, the final gather), not a speed-up.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import time

from benchmarks.harness import Study

CODE = """
import json, statistics, time, jax
jax.config.update("jax_enable_x64", True)
from gradlab import parallel
parallel.initialize()  # two processes when the JAX_* variables say so
import numpy as np
import gradlab as gl

def median_time(call, repeats):
    call()  # compile
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        result = jax.block_until_ready(call())
        times.append(time.perf_counter() - start)
    return statistics.median(times), result

out = {{"processes": jax.process_count(), "devices": parallel.device_count(),
       "multistart": [], "grid": []}}
for n in {starts}:
    dt, ms = median_time(lambda: gl.multistart("rastrigin", n_starts=n, seed=1, steps=50), 3)
    out["multistart"].append([n, dt, int(ms.trajectories.nit.sum()) / dt])
for num in {nums}:
    dt, _ = median_time(lambda: gl.grid_search("himmelblau", num=num, keep_values=False), 3)
    out["grid"].append([num * num, dt, num * num / dt])
if jax.process_count() > 1:  # what a call costs for being spread over processes
    starts = np.zeros((1000, 2))
    out["check"], _ = median_time(
        lambda: parallel.check_same_on_all_processes("bench", starts=starts), 21)
    rows = parallel.shard_rows(np.zeros((1000, 2)))
    out["gather"], _ = median_time(lambda: parallel.gather(rows), 21)
if jax.process_index() == 0:
    print(json.dumps(out))
"""

# (processes, devices per process). Not one process of two simulated devices: with 10⁵
# starts such a run sat in XLA's in-process rendezvous past 900 s (see also scale.py).
LAYOUTS = ((1, 1), (2, 1))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_processes(code: str, processes: int, devices: int, *, timeout: float) -> dict:
    """Run ``code`` as ``processes`` processes joined on 127.0.0.1; parse process 0's last line.

    Every process is killed if the run outlives ``timeout`` (or fails), so
    nothing is left running.
    """
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("SLURM_", "OMPI_", "JAX_COORDINATOR", "JAX_NUM_", "JAX_PROC"))}
    env |= {"JAX_PLATFORMS": "cpu", "GRADLAB_DISTRIBUTED_TIMEOUT": str(int(timeout)),
            "XLA_FLAGS": f"--xla_force_host_platform_device_count={devices}"}
    if processes > 1:
        env |= {"JAX_COORDINATOR_ADDRESS": f"127.0.0.1:{_free_port()}",
                "JAX_NUM_PROCESSES": str(processes)}
    with tempfile.TemporaryDirectory() as folder:
        running = []
        try:
            for i in range(processes):
                out = open(os.path.join(folder, f"out{i}"), "w+")  # closed in finally
                own = env | ({"JAX_PROCESS_ID": str(i)} if processes > 1 else {})
                running.append((subprocess.Popen(
                    [sys.executable, "-c", code], env=own, stdout=out, stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL), out))
            end = time.monotonic() + timeout
            for proc, _ in running:
                proc.wait(timeout=max(1.0, end - time.monotonic()))
            outputs = []
            for _, out in running:
                out.seek(0)
                outputs.append(out.read())
        finally:
            for proc, out in running:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait(timeout=30)
                out.close()
    failed = [i for i, (proc, _) in enumerate(running) if proc.returncode != 0]
    if failed:
        raise RuntimeError(f"process {failed[0]} failed:\n{outputs[failed[0]][-2000:]}")
    return json.loads(outputs[0].strip().splitlines()[-1])


def _layout(processes: int, devices: int) -> str:
    return f"{processes} × {devices}"


def run(quick: bool = False, out_dir=None) -> Study:
    study = Study("scaleout", "Scale out: one process against two, on the same machine")
    starts, nums = ([1000], [300]) if quick else ([1000, 10_000, 100_000], [300, 1000, 3000])
    code = CODE.format(starts=starts, nums=nums)
    results = {}
    for processes, devices in LAYOUTS:
        try:
            results[processes, devices] = run_processes(code, processes, devices,
                                                        timeout=240 if quick else 900)
        except (RuntimeError, subprocess.TimeoutExpired) as err:
            study.notes.append(f"the {_layout(processes, devices)} run did not finish: "
                               f"{str(err)[-300:]}")
    base = results.get((1, 1))
    for kind, caption, unit in (
            ("multistart", "multistart on rastrigin (2-D), 50 steps, warm", "descent steps / s"),
            ("grid", "grid search on himmelblau, keep_values=False, warm", "points / s")):
        rows = [["size", "processes × devices", "time", unit, "vs 1 × 1"]]
        for (processes, devices), out in results.items():
            for i, (size, dt, rate) in enumerate(out[kind]):
                ratio = f"{rate / base[kind][i][2]:.2f}×" if base else "-"
                rows.append([f"{size:.0e}" if kind == "grid" else size,
                             _layout(processes, devices), f"{dt * 1e3:.1f} ms", f"{rate:.3g}",
                             ratio])
        study.tables.append((caption, rows))
    two = results.get((2, 1))
    if two:
        study.tables.append(("what a call pays for spanning two processes (2 × 1)", [
            ["step", "time"],
            ["argument check (fingerprints via the coordinator)", f"{two['check'] * 1e3:.2f} ms"],
            ["gather of a (1000, 2) result", f"{two['gather'] * 1e3:.2f} ms"]]))
    study.data["scaleout"] = {_layout(*k): v for k, v in results.items()}
    study.notes.append(
        "Both layouts share this machine's 2 CPU cores: two processes cannot be faster than "
        "one here, and the ratios measure the overhead of being several processes (a second "
        "runtime, the argument check, the final gather), not a speed-up.")
    study.notes.append(
        "Where the fixed cost per call comes from: the argument check and the final gather "
        "(timed above). Nothing is sent while the computation runs: each device loops over "
        "its own starts or its own block of the grid (shard_map) and stops when they are done "
        "(tests/test_parallel.py checks the compiled programs for collectives).")
    return study
