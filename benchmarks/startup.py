"""How fast the command line answers (study "startup"): fresh processes, cold and warm cache.

Each command runs as a user runs it, in a new process (the ``gradlab``
console script), three ways taken in turns: the first run on an empty
compilation cache, the second run on the cache the first one filled, and a
run with ``--no-cache`` (what every run cost before the cache; the first run
pays that plus writing the cache). Wall time and the child's CPU time
(user + system: less sensitive to a busy machine) are medians over the
repeats. The import of ``gradlab.cli`` (what the console script does before
``main``) is timed the same way. ``--quick`` times one repeat of the light
commands and leaves the tour out: it proves the harness. The commands run as a
user's do: with Python's bytecode kept (the first run writes gradlab's), and
without this process's cache settings.
"""

from __future__ import annotations

import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.harness import Study, Target, fmt_seconds

MINIMIZE = ["minimize", "bowl", "--method", "descent"]
MINIMIZE_TARGET_S = 1.2  # issue 14: the second run answers in about a second
TOUR_TARGET_SPEEDUP = 2.0  # issue 14: the tour, second run at least 2x faster than the first
# Settings of this process that a user's commands do not run with: the cache's own, and
# PYTHONDONTWRITEBYTECODE (a user's Python keeps gradlab's bytecode, compiled by pip or on
# the first import; without it every run compiled gradlab's modules again, ~0.1 s).
UNLIKE_A_USER = ("GRADLAB_NO_CACHE", "JAX_COMPILATION_CACHE_DIR", "PYTHONDONTWRITEBYTECODE")


def _gradlab() -> list[str]:
    script = shutil.which("gradlab", path=os.path.dirname(sys.executable))
    return [script] if script else [sys.executable, "-m", "gradlab.cli"]


def _run(argv: list[str], env: dict) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of one fresh process; its failure is an error."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=600,
                          check=False)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed ({proc.returncode}):\n{proc.stderr[-2000:]}")
    if proc.stderr.strip():  # the cache must never speak when it works
        raise RuntimeError(f"{' '.join(argv)} wrote on stderr:\n{proc.stderr[-2000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def _median(samples: list[tuple[float, float]]) -> tuple[float, float]:
    return (statistics.median(s[0] for s in samples), statistics.median(s[1] for s in samples))


def run(quick: bool = False, out_dir=None) -> Study:
    study = Study("startup", "Startup: the command line in fresh processes, cold and warm cache")
    repeats = 1 if quick else 5
    scratch = Path(tempfile.mkdtemp(prefix="gradlab-startup-"))
    env = {k: v for k, v in os.environ.items() if k not in UNLIKE_A_USER}
    commands = {"gradlab minimize bowl --method descent": MINIMIZE}
    if not quick:
        commands["gradlab tour"] = ["tour", "--out", str(scratch / "tour"), "--overwrite"]
    gradlab = _gradlab()
    ways = ("first run (empty cache)", "second run", "--no-cache")
    samples = {(c, w): [] for c in commands for w in ways}
    imports = []
    try:
        for rep in range(repeats):
            imports.append(_run([sys.executable, "-c", "import gradlab.cli"], env))
            for name, args in commands.items():  # the commands in turns, each three ways
                cache = {**env, "GRADLAB_CACHE_DIR": str(scratch / f"cache-{rep}-{len(name)}")}
                samples[name, ways[0]].append(_run([*gradlab, *args], cache))
                samples[name, ways[1]].append(_run([*gradlab, *args], cache))
                samples[name, ways[2]].append(_run([*gradlab, "--no-cache", *args], env))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)

    rows = [["command", "run", "wall (median)", "CPU (median)", "vs first run"]]
    import_wall, import_cpu = _median(imports)
    rows.append(["python -c 'import gradlab.cli'", "-", fmt_seconds(import_wall),
                 fmt_seconds(import_cpu), ""])
    medians = {key: _median(s) for key, s in samples.items()}
    for name in commands:
        first = medians[name, ways[0]][0]
        for way in ways:
            wall, cpu = medians[name, way]
            rows.append([name, way, fmt_seconds(wall), fmt_seconds(cpu), f"{first / wall:.2f}×"])
    study.tables.append((f"fresh processes, medians of {repeats} (taken in turns)", rows))

    minimize = medians["gradlab minimize bowl --method descent", ways[1]][0]
    study.targets.append(Target(f"second run of gradlab minimize bowl: wall time / "
                                f"{MINIMIZE_TARGET_S} s", minimize / MINIMIZE_TARGET_S, 1.0,
                                False))
    if "gradlab tour" in commands:
        first, second = medians["gradlab tour", ways[0]][0], medians["gradlab tour", ways[1]][0]
        study.targets.append(Target("gradlab tour: first run / second run", first / second,
                                    TOUR_TARGET_SPEEDUP, True))
    study.data = {"import_gradlab_cli": imports,
                  "runs": {f"{c} | {w}": s for (c, w), s in samples.items()}}
    study.notes.append("The cache holds compiled XLA programs, and the whole executables of "
                       "minimize --method descent and of the tour's programs, its multistart "
                       "batch among them (gradlab._programs: a second run neither traces nor "
                       "lowers them); importing JAX and drawing the figures are paid on every "
                       "run.")
    if quick:
        study.notes.append("--quick: one repeat, no tour; these numbers prove the harness only.")
    return study
