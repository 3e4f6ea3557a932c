"""A single fit against optimistix's LM: compile time and time per fit, checkouts taking turns.

``compile`` (the default): what `benchmarks.fitting._compile_times` measures once per
solver (the first call on NIST Thurber's start 1 less a warm call, float64, in a
fresh process), taken ``--rounds`` times in turns, so every side sees the same load.
``per-fit``: the median time per fit over NIST's 54 runs (`benchmarks.fitting.nist_runs`,
gradlab and optimistix's LM only, taking turns call by call), one fresh process per
side and round. ``--before PATH`` adds an older gradlab (a folder holding its
``gradlab`` and ``benchmarks`` packages, such as ``git archive`` of an older commit),
timed in the same turns; ``--after PATH`` times a snapshot instead of this checkout,
so that editing the checkout during a long run changes nothing. Prints every
round, then the medians and their ratios.

  python -m benchmarks.fit_compile [--what per-fit] --rounds 5 [--before /tmp/base]
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

PER_FIT_CODE = """
import json, statistics, jax
jax.config.update("jax_enable_x64", True)
from benchmarks import fitting
from gradlab import nist
table = fitting.solvers()
fitting.solvers = lambda: {{n: table[n] for n in ({gradlab!r}, {optimistix!r})}}
records = fitting.nist_runs(nist.names(), repeats={repeats})
print(json.dumps({{n: statistics.median(r["time"] for r in recs) for n, recs in records.items()}}))
"""


def _run(code: str, checkout: Path | None) -> dict:
    env = dict(os.environ)
    if checkout is not None:  # that checkout's gradlab and benchmarks come first on the path
        env["PYTHONPATH"] = os.pathsep.join([str(checkout), env.get("PYTHONPATH", "")])
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=env, timeout=900, check=True)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _compile_time(name: str, checkout: Path | None) -> float:
    r = _run(COMPILE_CODE.format(name=name), checkout)
    return max(r["first"] - r["warm"], 0.0)


def _compile_rounds(sides: dict, rounds: int) -> dict:
    times = {side: [] for side in sides}
    for k in range(rounds):
        for side, checkout in sides.items():
            name = OPTIMISTIX if side == "optimistix" else GRADLAB
            times[side].append(_compile_time(name, checkout))
        print(f"round {k + 1}: " + ", ".join(f"{s} {t[-1]:.2f} s" for s, t in times.items()),
              flush=True)
    return times


def _per_fit_rounds(sides: dict, rounds: int, repeats: int) -> dict:
    """Each gradlab side in its own process, optimistix timed in turns with it there."""
    code = PER_FIT_CODE.format(gradlab=GRADLAB, optimistix=OPTIMISTIX, repeats=repeats)
    times = {side: [] for side in sides}
    for k in range(rounds):
        for side, checkout in sides.items():
            if side == "optimistix":
                continue
            r = _run(code, checkout)
            times[side].append(r[GRADLAB])
            times["optimistix"].append(r[OPTIMISTIX])
            print(f"round {k + 1}, {side}: gradlab {1e3 * r[GRADLAB]:.3f} ms, optimistix "
                  f"{1e3 * r[OPTIMISTIX]:.3f} ms ({r[GRADLAB] / r[OPTIMISTIX]:.2f}x)", flush=True)
    return times


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--what", choices=("compile", "per-fit"), default="compile")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=7, help="per-fit: calls per run")
    parser.add_argument("--before", type=Path, default=None,
                        help="a folder holding an older gradlab, timed in the same turns")
    parser.add_argument("--after", type=Path, default=None,
                        help="a folder holding the gradlab to time (default: this checkout)")
    args = parser.parse_args(argv)
    sides = {"gradlab": None if args.after is None else args.after.resolve(),
             "optimistix": None}
    if args.before is not None:
        sides["gradlab before"] = args.before.resolve()
    if args.what == "compile":
        times = _compile_rounds(sides, args.rounds)
    else:
        times = _per_fit_rounds(sides, args.rounds, args.repeats)
    medians = {side: statistics.median(t) for side, t in times.items()}
    unit, scale = ("s", 1.0) if args.what == "compile" else ("ms", 1e3)
    print("medians: " + ", ".join(f"{s} {scale * m:.3f} {unit}" for s, m in medians.items()))
    for side, m in medians.items():
        if side != "optimistix":
            print(f"{side} / optimistix: {m / medians['optimistix']:.2f}x")
    if "gradlab before" in medians:
        print(f"gradlab / gradlab before: {medians['gradlab'] / medians['gradlab before']:.2f}x")


if __name__ == "__main__":
    main()
