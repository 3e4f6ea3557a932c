"""gradlab's one memory budget (no imports: the command line reads it before JAX loads).

Every function whose memory grows with its arguments (a history, a batch of
runs, a grid, a field, a gradient check) estimates it before allocating
anything and refuses past this budget, naming the argument to change, or
chunks where results can be streamed (grid search). The command line checks
its flags against the same budget.
"""

from __future__ import annotations

DEFAULT_MEMORY_BUDGET = 2 * 2**30  # bytes
_budget = [DEFAULT_MEMORY_BUDGET]


def memory_budget() -> int:
    """The bytes one call may allocate for its results and working arrays (2 GiB by default)."""
    return _budget[0]


def set_memory_budget(nbytes: int) -> int:
    """Set the budget every gradlab function estimates its memory against; returns the old one.

    Example:
      >>> import gradlab as gl
      >>> old = gl.set_memory_budget(8 * 2**30)  # a machine with room to spare
      >>> gl.memory_budget() == 8 * 2**30, gl.set_memory_budget(old) == 8 * 2**30
      (True, True)
    """
    if isinstance(nbytes, bool) or not isinstance(nbytes, int) or nbytes < 1:
        raise ValueError(f"nbytes must be a positive integer; got {nbytes!r}")
    previous, _budget[0] = _budget[0], nbytes
    return previous
