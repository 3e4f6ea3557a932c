"""The ``gradlab`` console script's first lines: Ctrl-C is answered before anything loads.

Importing the command line takes a tenth of a second; a Ctrl-C in that window
would print Python's traceback. Nothing is written yet then, so the process
says so in one line and leaves with the status a later interruption gives
(130; 143 for SIGTERM). `gradlab.cli.main` installs its own handlers next.

Python's cyclic garbage collector runs after every 700 net allocations of
container objects. Starting a command allocates some 180,000 that live until
it exits (the modules of JAX, optax and numpy, their classes and functions),
so the collector ran about 250 times over objects it could never free: 0.14 to
0.19 s of CPU time. The console script collects every 100,000 allocations
instead (mypy raises it likewise, to 200,000): a handful of collections while
starting, and a long command's garbage cycles are still collected.
"""

import gc
import os
import signal

# (first generation, second, third): see the module's docstring
COLLECT_EVERY = (100_000, 20, 20)


def _leave(signum, frame):
    word, code = ("interrupted", 130) if signum == signal.SIGINT else ("terminated", 143)
    try:
        os.write(2, f"gradlab: {word}\n".encode())
    finally:
        os._exit(code)


def run():
    signal.signal(signal.SIGINT, _leave)
    signal.signal(signal.SIGTERM, _leave)
    gc.set_threshold(*COLLECT_EVERY)
    from gradlab.cli import console

    console()
