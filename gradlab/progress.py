"""Progress of long compiled runs, reported from inside the compiled loop.

A multistart of 10⁵ starts, a 10⁸-point grid or a million-step descent runs
inside one compiled call. With ``progress=`` (a callable ``progress(done,
total)``, off by default) those functions call it about `REPORTS` times during
the run, from inside the loop through ``jax.debug.callback`` — once every
``total / REPORTS`` steps or chunks, never every step. The compiled program
depends only on whether progress is on, never on which callable you pass, so a
new callable does not recompile; with progress off the program is exactly the
one without this module.

The callable runs on a host thread of JAX's runtime, while the call that
started the run waits for its result: keep it short (update a bar, print a line).
Each report costs a host callback, about 0.2 ms on a CPU: some 20 ms a run,
nothing beside the seconds-long runs progress is for, but visible on a
millisecond descent (``gradlab bench --only userpaths`` measures it).

Example:
  >>> import gradlab as gl
  >>> seen = []
  >>> _ = gl.descend("bowl", [0.0, 0.0], learning_rate=0.1, steps=1000,
  ...                progress=lambda done, total: seen.append((done, total)))
  >>> seen[-1]
  (1000, 1000)
"""

from __future__ import annotations

import contextlib
import itertools
import threading
from collections.abc import Callable

import jax
import numpy as np

from gradlab._checks import short

REPORTS = 100  # about this many reports per run

_active: dict[int, Callable[[int, int], None]] = {}
_reported: dict[int, int] = {}  # the last count passed on, per token
_tokens = itertools.count()
_lock = threading.Lock()


def check(progress) -> None:
    """``progress`` must be None or a callable ``progress(done, total)``."""
    if progress is not None and not callable(progress):
        raise TypeError(f"progress must be a callable progress(done, total) or None; "
                        f"got {short(progress)}")


@contextlib.contextmanager
def reporting(progress):
    """While the block runs, route reports with the yielded token to ``progress``.

    Yields the token (an int32 array) to pass into the compiled call, or None
    when ``progress`` is None. Leave the block only once the result is ready:
    reports arrive while the computation runs.
    """
    if progress is None:
        yield None
        return
    with _lock:
        token = next(_tokens) % 2**31
        _active[token] = progress
    try:
        yield np.asarray(token, np.int32)
    finally:
        with _lock:
            _active.pop(token, None)
            _reported.pop(token, None)


def _deliver(token, done, total):
    # on several devices each device runs its own loop and reports the same counts:
    # pass each count on once, and never one below a count already passed on
    token, done = int(token), int(done)
    with _lock:
        callback = _active.get(token)
        if callback is None or done <= _reported.get(token, 0):
            return
        _reported[token] = done
    callback(done, int(total))


def every(total: int) -> int:
    """Report once every this many steps (or chunks) of ``total``."""
    return max(1, -(-total // REPORTS))


def maybe_report(token, done, total: int):
    """Inside a compiled loop: report ``done`` of ``total`` when ``done`` is a multiple of
    `every` or the end. ``token`` None (progress off) adds nothing to the program."""
    if token is None:
        return
    due = (done % every(total) == 0) | (done == total)
    jax.lax.cond(due, lambda: jax.debug.callback(_deliver, token, done, total),
                 lambda: None)

