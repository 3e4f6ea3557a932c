"""The ``gradlab`` console script's first lines: Ctrl-C is answered before anything loads.

Importing the command line takes a tenth of a second; a Ctrl-C in that window
would print Python's traceback. Nothing is written yet then, so the process
says so in one line and leaves with the status a later interruption gives
(130; 143 for SIGTERM). `gradlab.cli.main` installs its own handlers next.
"""

import os
import signal


def _leave(signum, frame):
    word, code = ("interrupted", 130) if signum == signal.SIGINT else ("terminated", 143)
    try:
        os.write(2, f"gradlab: {word}\n".encode())
    finally:
        os._exit(code)


def run():
    signal.signal(signal.SIGINT, _leave)
    signal.signal(signal.SIGTERM, _leave)
    from gradlab.cli import console

    console()
