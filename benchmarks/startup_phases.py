"""Where a second run of a command spends its time, phase by phase, in this process.

Run it as the command would run (the console script's garbage-collector
setting, the cache folder the environment names), twice: the first run fills
the cache, the second is the one to read. Each phase is timed in CPU
(steadier on a busy machine) and wall time. The imports are made in the order
the command makes them, so each line is what that phase adds::

    GRADLAB_CACHE_DIR=/tmp/c python -m benchmarks.startup_phases minimize bowl --method descent
"""

from __future__ import annotations

import gc
import itertools
import sys
import time

from gradlab import _console

gc.set_threshold(*_console.COLLECT_EVERY)
MARKS = []


def mark(name: str) -> None:
    MARKS.append((name, time.process_time(), time.perf_counter()))


def main(argv: list[str]) -> None:
    mark("start")
    from gradlab import cli
    mark("import gradlab.cli")
    import numpy  # noqa: F401
    mark("import numpy")
    import jax
    mark("import jax (but numpy)")
    import rich.console  # noqa: F401
    mark("import rich.console")
    import gradlab._programs
    import gradlab.descent
    import gradlab.parallel
    import gradlab.suite
    mark("import gradlab's modules")
    jax.devices()
    mark("start JAX's backend")
    load = gradlab._programs.Store.load

    def timed_load(self, *args, **kwargs):
        mark("until the kept program")
        loaded = load(self, *args, **kwargs)
        mark("load the kept program")
        return loaded

    gradlab._programs.Store.load = timed_load
    cli.main(argv)
    mark("run, print, leave main")
    for (_, cpu0, wall0), (name, cpu, wall) in itertools.pairwise(MARKS):
        print(f"{name:26s} CPU {1000 * (cpu - cpu0):7.1f} ms   "
              f"wall {1000 * (wall - wall0):7.1f} ms", file=sys.stderr)
    print(f"{'total':26s} CPU {1000 * (MARKS[-1][1] - MARKS[0][1]):7.1f} ms   "
          f"wall {1000 * (MARKS[-1][2] - MARKS[0][2]):7.1f} ms", file=sys.stderr)


if __name__ == "__main__":
    main(sys.argv[1:])
