"""A single fit's compile time against optimistix's LM, in fresh processes taking turns.

What `benchmarks.fitting._compile_times` measures once per solver (the first call
on NIST Thurber's start 1 less a warm call, float64, in a fresh process), taken
``--pairs`` times in turns, so both sides see the same load; optionally against
another checkout of gradlab (``--before PATH``: a folder holding its ``gradlab``
and ``benchmarks`` packages, such as ``git archive`` of an older commit), taken in
the same turns. Prints every round, then the medians and their ratios.

  python -m benchmarks.fit_compile --pairs 5 [--before /tmp/base] [--after /tmp/new]

(``--after``: time a snapshot instead of this checkout, so that editing the checkout
during a long run changes nothing.)
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

from benchmarks.fitting import COMPILE_CODE

GRADLAB, OPTIMISTIX = "gradlab fit", "optimistix LevenbergMarquardt"


def _compile_time(name: str, checkout: Path | None) -> float:
    env = dict(os.environ)
    if checkout is not None:  # that checkout's gradlab and benchmarks come first on the path
        env["PYTHONPATH"] = os.pathsep.join([str(checkout), env.get("PYTHONPATH", "")])
    proc = subprocess.run([sys.executable, "-c", COMPILE_CODE.format(name=name)],
                          capture_output=True, text=True, env=env, timeout=300, check=True)
    r = json.loads(proc.stdout.strip().splitlines()[-1])
    return max(r["first"] - r["warm"], 0.0)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=5)
    parser.add_argument("--before", type=Path, default=None,
                        help="a folder holding an older gradlab, timed in the same turns")
    parser.add_argument("--after", type=Path, default=None,
                        help="a folder holding the gradlab to time (default: this checkout)")
    args = parser.parse_args(argv)
    after = None if args.after is None else args.after.resolve()
    sides = {"gradlab": (GRADLAB, after), "optimistix": (OPTIMISTIX, None)}
    if args.before is not None:
        sides["gradlab before"] = (GRADLAB, args.before.resolve())
    times = {side: [] for side in sides}
    for k in range(args.pairs):
        for side, (name, checkout) in sides.items():
            times[side].append(_compile_time(name, checkout))
        print(f"round {k + 1}: " + ", ".join(f"{s} {t[-1]:.2f} s" for s, t in times.items()),
              flush=True)
    medians = {side: statistics.median(t) for side, t in times.items()}
    print("medians: " + ", ".join(f"{s} {m:.2f} s" for s, m in medians.items()))
    for side, m in medians.items():
        if side != "optimistix":
            print(f"{side} / optimistix: {m / medians['optimistix']:.2f}x")


if __name__ == "__main__":
    main()
