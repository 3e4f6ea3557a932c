"""The compile time of a descent and of a single fit, this checkout against an older one.

Each round runs, in a fresh process per checkout (taking turns, so both see the same
load), the first call of a 300-step L-BFGS descent on a 3-parameter Rosenbrock written
as a plain function, and of `gl.fit` on NIST Misra1a from its first start, each less a
warm call from another start (CPU time, float64, ``OMP_NUM_THREADS=1``). Prints every
round, then the medians and their ratios.

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
import json, time
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

cost = lambda p: jnp.sum(100 * (p[1:] - p[:-1] ** 2) ** 2 + (1 - p[:-1]) ** 2)
x0 = jnp.array([-1.2, 1.0, 0.5])
descent = first_less_warm(lambda x: gl.descend(cost, x, optimizer=optax.lbfgs(), steps=300).x,
                          x0, x0 + 0.1)
problem = nist.load("Misra1a")
fit_cost = gl.fit_cost(problem.model, problem.data())
fit = first_less_warm(lambda x: gl.fit(fit_cost, x).x, jnp.asarray(problem.starts[0]),
                      jnp.asarray(problem.starts[1]))
print(json.dumps({"descend": descent, "fit": fit}))
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
            print(name, times[name][-1], flush=True)
    for what in ("descend", "fit"):
        before, now = (statistics.median(t[what] for t in times[n]) for n in trees)
        print(f"{what}: before {before:.3f} s, now {now:.3f} s: {now / before:.3f}×")


if __name__ == "__main__":
    main()
