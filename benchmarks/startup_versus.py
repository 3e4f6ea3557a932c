"""A command's second run, this checkout against another version of gradlab, in turns.

The study "startup" (`benchmarks/startup.py`) times one version; a change to
what a second run does is judged against the code before it, on the same
machine at the same time. This script runs the installed ``gradlab`` console
script on this checkout and on an older source tree (put first on
``PYTHONPATH``), each with its own compilation cache filled by two warm-up
runs, then alternately (the order flips every round), in fresh processes as a
user runs them. It prints the medians of wall and CPU time (user + system:
steadier on a busy machine) and the ratios new / old. Every run must succeed
with nothing on stderr (`benchmarks.startup._run`).

Usage (the old tree made with ``git archive``, so the checkout is untouched)::

    mkdir /tmp/old && git archive COMMIT gradlab | tar -x -C /tmp/old
    python -m benchmarks.startup_versus /tmp/old --repeats 12
    python -m benchmarks.startup_versus /tmp/old -- tour --quick --out /tmp/t --overwrite
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from pathlib import Path

from benchmarks.startup import MINIMIZE, UNLIKE_A_USER, _gradlab, _run


def _environments(old_tree: Path, scratch: Path) -> dict[str, dict]:
    env = {k: v for k, v in os.environ.items() if k not in (*UNLIKE_A_USER, "PYTHONPATH")}
    return {"old": {**env, "PYTHONPATH": str(old_tree), "GRADLAB_CACHE_DIR": str(scratch / "old")},
            "new": {**env, "GRADLAB_CACHE_DIR": str(scratch / "new")}}


def compare(old_tree: Path, command: list[str], repeats: int) -> dict[str, list]:
    """``{"old": [(wall, cpu), ...], "new": [...]}``: second runs taken in turns."""
    argv = [*_gradlab(), *command]
    samples = {"old": [], "new": []}
    with tempfile.TemporaryDirectory(prefix="gradlab-versus-") as scratch:
        envs = _environments(old_tree, Path(scratch))
        for env in envs.values():  # the first run fills the cache, the second the bytecode
            _run(argv, env)
            _run(argv, env)
        for round_ in range(repeats):
            order = list(envs) if round_ % 2 == 0 else list(reversed(envs))
            for name in order:
                samples[name].append(_run(argv, envs[name]))
    return samples


def main(argv=None) -> None:
    argv = sys.argv[1:] if argv is None else list(argv)
    # the command to time follows "--" (default: minimize bowl --method descent)
    command = argv[argv.index("--") + 1:] if "--" in argv else MINIMIZE
    argv = argv[:argv.index("--")] if "--" in argv else argv
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("old_tree", type=Path, help="a folder holding an older gradlab/")
    parser.add_argument("--repeats", type=int, default=10)
    args = parser.parse_args(argv)
    if not (args.old_tree / "gradlab" / "__init__.py").is_file():
        parser.error(f"{args.old_tree} holds no gradlab/ package")
    samples = compare(args.old_tree.resolve(), command, args.repeats)
    load = os.getloadavg() if hasattr(os, "getloadavg") else ()
    print(f"gradlab {' '.join(command)}: second runs, {args.repeats} of each in turns "
          f"(load after: {', '.join(f'{v:.1f}' for v in load)})")
    medians = {}
    for name, runs in samples.items():
        medians[name] = [statistics.median(run[i] for run in runs) for i in (0, 1)]
        print(f"  {name}: wall {medians[name][0]:.3f} s, CPU {medians[name][1]:.3f} s "
              f"(medians; wall {min(r[0] for r in runs):.3f}-{max(r[0] for r in runs):.3f} s)")
    print(f"  new / old: wall {medians['new'][0] / medians['old'][0]:.3f}, "
          f"CPU {medians['new'][1] / medians['old'][1]:.3f}")


if __name__ == "__main__":
    sys.exit(main())
