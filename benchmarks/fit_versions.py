"""This tree's `gl.fit` against an older gradlab's, in one process, the calls taking turns.

The older version is a copy of the package renamed ``gradlab_old`` (so both import
side by side), made from any commit with::

    mkdir -p /tmp/old && git archive COMMIT gradlab | tar -x -C /tmp/old
    mv /tmp/old/gradlab /tmp/old/gradlab_old
    grep -rl gradlab /tmp/old/gradlab_old --include=*.py | xargs sed -i -E \\
        's/\\bfrom gradlab([ .])/from gradlab_old\\1/g; s/\\bimport gradlab\\b/import gradlab_old/g;
         s/"gradlab\\./"gradlab_old./g'

Studies (float64, default options), each printing medians of wall and process CPU
time, their ratios (new/old), and whether the two versions' fits agree:

* ``nist``: the 54 NIST StRD runs, one fit each; per run the fastest of a few calls
  of each version in turns, then the median over the runs;
* ``starts``: 1,000 starts on Thurber in one batch (as `benchmarks.fitting`);
* ``datasets``: 10⁴ data sets of ``a·exp(−b·x) + c`` in one batch;
* ``compile``: the first call of the Thurber batch and of one NIST fit, each version
  in a fresh process, the processes taking turns.

Run: ``PYTHONPATH=/tmp/old python -m benchmarks.fit_versions nist starts datasets compile``
"""

from __future__ import annotations

import argparse
import importlib
import json
import statistics
import subprocess
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np

VERSIONS = ("gradlab_old", "gradlab")


def _timed(call):
    t0, c0 = time.perf_counter(), time.process_time()
    out = jax.block_until_ready(call())
    return out, time.perf_counter() - t0, time.process_time() - c0


def _samples(calls, rounds):
    """Each version's call ``rounds`` times in turns: its wall and CPU times."""
    wall = {v: [] for v in calls}
    cpu = {v: [] for v in calls}
    for _ in range(rounds):
        for v, call in calls.items():
            _, w, c = _timed(call)
            wall[v].append(w)
            cpu[v].append(c)
    return wall, cpu


def _compare(calls, rounds):
    """`_samples`' medians of wall and CPU time."""
    wall, cpu = _samples(calls, rounds)
    return ({v: statistics.median(t) for v, t in wall.items()},
            {v: statistics.median(t) for v, t in cpu.items()})


def _report(name, wall, cpu):
    old, new = VERSIONS
    print(f"{name}: wall {wall[old]:.4g} s old, {wall[new]:.4g} s new "
          f"({wall[new] / wall[old]:.3f}×);"
          f" CPU {cpu[old]:.4g} s old, {cpu[new]:.4g} s new ({cpu[new] / cpu[old]:.3f}×)")


def _summary(f, certified=None):
    out = {"nit": int(np.sum(f.nit)), "status": np.bincount(np.asarray(f.status)).tolist()}
    if certified is not None:
        from gradlab import nist
        out["certified"] = int(sum(nist.digits(x, certified).min() >= 6 for x in np.asarray(f.x)))
    return out


def nist_study(mods, rounds):
    from gradlab import nist
    per_run = {v: [] for v in VERSIONS}
    per_cpu = {v: [] for v in VERSIONS}
    same, nits = 0, {v: 0 for v in VERSIONS}
    for name in nist.names():
        p = nist.load(name)
        costs = {v: mods[v].fit_cost(p.model, p.data()) for v in VERSIONS}
        for x0 in p.starts:
            x0 = jnp.asarray(x0)
            calls = {v: (lambda v=v, x0=x0, costs=costs: mods[v].fit(costs[v], x0))
                     for v in VERSIONS}
            fits = {v: jax.block_until_ready(call()) for v, call in calls.items()}
            for v in VERSIONS:
                nits[v] += int(fits[v].nit)
            same += bool(np.array_equal(fits["gradlab"].x, fits["gradlab_old"].x)
                         and int(fits["gradlab"].nit) == int(fits["gradlab_old"].nit)
                         and int(fits["gradlab"].status) == int(fits["gradlab_old"].status))
            wall, cpu = _samples(calls, rounds)
            for v in VERSIONS:
                per_run[v].append(min(wall[v]))
                per_cpu[v].append(min(cpu[v]))
    print(f"nist: {same} of 54 runs the same x (bitwise), nit and status; trials {nits}")
    _report("nist, median over the 54 runs of the fastest call",
            {v: statistics.median(t) for v, t in per_run.items()},
            {v: statistics.median(t) for v, t in per_cpu.items()})
    ratios = [n / o for n, o in zip(per_run["gradlab"], per_run["gradlab_old"])]
    print(f"nist: per-run wall ratio new/old, median {statistics.median(ratios):.3f}, "
          f"quartiles {np.percentile(ratios, 25):.3f}–{np.percentile(ratios, 75):.3f}")


def starts_study(mods, rounds):
    from gradlab import nist
    p = nist.load("Thurber")
    rng = np.random.default_rng(0)
    starts = jnp.asarray(p.starts[0] * np.exp(rng.uniform(np.log(0.5), np.log(2), (1000, 7))))
    costs = {v: mods[v].fit_cost(p.model, p.data()) for v in VERSIONS}
    calls = {v: (lambda v=v: mods[v].fit(costs[v], starts)) for v in VERSIONS}
    for v, call in calls.items():
        f, w, _ = _timed(call)
        print(f"starts, {v}: first call {w:.1f} s; {_summary(f, p.certified)}")
    _report(f"starts (1,000 Thurber, medians of {rounds})", *_compare(calls, rounds))


def datasets_study(mods, rounds):
    from benchmarks.fitting import decay
    k = 10_000
    rng = np.random.default_rng(1)
    x = np.linspace(0.0, 4.0, 50)
    truth = np.stack([rng.uniform(1, 3, k), rng.uniform(0.5, 2, k), rng.uniform(-1, 1, k)], 1)
    ys = truth[:, :1] * np.exp(-truth[:, 1:2] * x) + truth[:, 2:] + rng.normal(0, 0.05, (k, 50))
    x0 = jnp.asarray([1.0, 1.0, 0.0])
    costs = {v: mods[v].fit_cost(decay, (x, ys[0])) for v in VERSIONS}
    batches = {v: mods[v].Data(jnp.broadcast_to(jnp.asarray(x), (k, 50)), jnp.asarray(ys))
               for v in VERSIONS}
    calls = {v: (lambda v=v: mods[v].fit(costs[v], x0, datasets=batches[v])) for v in VERSIONS}
    fits = {}
    for v, call in calls.items():
        fits[v], w, _ = _timed(call)
        print(f"datasets, {v}: first call {w:.1f} s; {_summary(fits[v])}")
    print("datasets: x bitwise equal:",
          bool(np.array_equal(fits["gradlab"].x, fits["gradlab_old"].x)))
    _report(f"datasets (10⁴, medians of {rounds})", *_compare(calls, rounds))


COMPILE = """
import json, sys, time, jax, numpy as np
jax.config.update("jax_enable_x64", True)
import jax.numpy as jnp
from gradlab import nist
gl = __import__(sys.argv[1])
p = nist.load("Thurber")
cost = gl.fit_cost(p.model, p.data())
rng = np.random.default_rng(0)
starts = jnp.asarray(p.starts[0] * np.exp(rng.uniform(np.log(0.5), np.log(2), (1000, 7))))
out = {}
for name, call in (("one fit", lambda: gl.fit(cost, jnp.asarray(p.starts[0]))),
                   ("batch", lambda: gl.fit(cost, starts))):
    t0 = time.perf_counter(); jax.block_until_ready(call()); first = time.perf_counter() - t0
    t0 = time.perf_counter(); jax.block_until_ready(call()); warm = time.perf_counter() - t0
    out[name] = first - warm
print(json.dumps(out))
"""


def compile_study(rounds):
    times = {v: [] for v in VERSIONS}
    for _ in range(rounds):
        for v in VERSIONS:
            out = subprocess.run([sys.executable, "-c", COMPILE, v], capture_output=True,
                                 text=True, check=True)
            times[v].append(json.loads(out.stdout.strip().splitlines()[-1]))
    for key in ("one fit", "batch"):
        med = {v: statistics.median(t[key] for t in times[v]) for v in VERSIONS}
        print(f"compile, {key} (first call − warm call, fresh processes, medians of {rounds}): "
              f"old {med['gradlab_old']:.2f} s, new {med['gradlab']:.2f} s "
              f"({med['gradlab'] / med['gradlab_old']:.3f}×)")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("studies", nargs="+", choices=("nist", "starts", "datasets", "compile"))
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)
    jax.config.update("jax_enable_x64", True)
    mods = {v: importlib.import_module(v) for v in VERSIONS}
    for study in args.studies:
        if study == "compile":
            compile_study(args.rounds)
        else:
            globals()[f"{study}_study"](mods, args.rounds)


if __name__ == "__main__":
    main()
