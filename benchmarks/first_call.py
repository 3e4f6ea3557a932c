"""The compile time of a descent and of a single fit, this checkout against an older one.

Each round runs, in a fresh process per checkout (taking turns, so both see the same
load), the first call of each case less a warm call from another start (CPU time,
float64, ``OMP_NUM_THREADS=1``), then the median time of warm calls (wall):

- ``descend_lbfgs``: a 300-step L-BFGS descent on a 3-parameter Rosenbrock written as a
  plain function;
- ``descend_adam``: 300 steps of ``optax.adam(0.01)`` on the same function;
- ``descend_rate``: the course's 1000-step plain descent (``learning_rate=0.1``) on
  the line's `fit_cost` (every step recorded);
- ``fit``: `gl.fit` on NIST Misra1a from its first start;
- ``multistart``: `gl.multistart` of 64 starts on the same Rosenbrock (its default
  optimiser, trust-region Newton; 300 steps), another seed for the warm call;
- ``multistart_sine``: `gl.multistart` of 1,000 starts on the course's sine fit.

Prints every round, then the medians and their ratios.

  git archive <commit> gradlab | tar -x -C /tmp/before
  python -m benchmarks.first_call --before /tmp/before --rounds 7
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

CODE = r"""
import json, statistics, time
import jax, jax.numpy as jnp, optax
jax.config.update("jax_enable_x64", True)
import gradlab as gl
from gradlab import nist

def first_less_warm(call, a, b):
    t = time.process_time()
    jax.block_until_ready(call(a))
    first, t = time.process_time() - t, time.process_time()
    jax.block_until_ready(call(b))
    return first - (time.process_time() - t)

def warm(call, a, repeats=51):
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        jax.block_until_ready(call(a))
        times.append(time.perf_counter() - t)
    return statistics.median(times)

rosenbrock = lambda p: jnp.sum(100 * (p[1:] - p[:-1] ** 2) ** 2 + (1 - p[:-1]) ** 2)
x0 = jnp.array([-1.2, 1.0, 0.5])
line = gl.fit_cost(gl.models.linear, gl.datasets.line(n=100, seed=0))
problem = nist.load("Misra1a")
misra = gl.fit_cost(problem.model, problem.data())
cases = {
    "descend_lbfgs": (lambda x: gl.descend(rosenbrock, x, optimizer=optax.lbfgs(),
                                           steps=300).x, x0, x0 + 0.1),
    "descend_adam": (lambda x: gl.descend(rosenbrock, x, optimizer=optax.adam(0.01),
                                          steps=300).x, x0, x0 + 0.1),
    "descend_rate": (lambda x: gl.descend(line, x, learning_rate=0.1, steps=1000).x,
                     jnp.zeros(2), jnp.ones(2)),
    "fit": (lambda x: gl.fit(misra, x).x, jnp.asarray(problem.starts[0]),
            jnp.asarray(problem.starts[1])),
    "multistart": (lambda seed: gl.multistart(rosenbrock, 64, seed, bounds=[(-2.0, 2.0)] * 3,
                                              steps=300).trajectories.x, 0, 1),
    "multistart_sine": (lambda seed: gl.multistart("sine", 1000, seed).trajectories.x, 0, 1),
}
out = {}
for name, (call, a, b) in cases.items():
    out[name] = first_less_warm(call, a, b)
    out[name + " warm"] = warm(call, a)
print(json.dumps(out))
"""


def _one(tree: Path) -> dict:
    done = subprocess.run([sys.executable, "-c", CODE], cwd=tree, capture_output=True, text=True,
                          env={"PATH": "/usr/bin:/bin", "OMP_NUM_THREADS": "1"}, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", type=Path, required=True,
                        help="a folder holding an older gradlab package")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)
    trees = {"before": args.before, "now": Path(__file__).resolve().parents[1]}
    times = {name: [] for name in trees}
    for _ in range(args.rounds):
        for name, tree in trees.items():
            times[name].append(_one(tree))
            print(name, json.dumps({k: round(v, 5) for k, v in times[name][-1].items()}),
                  flush=True)
    for what in times["now"][0]:
        before, now = (statistics.median(t[what] for t in times[n]) for n in trees)
        unit, scale = ("ms", 1e3) if what.endswith("warm") else ("s", 1.0)
        print(f"{what}: before {before * scale:.3f} {unit}, now {now * scale:.3f} {unit}: "
              f"{now / before:.3f}×")


if __name__ == "__main__":
    main()
