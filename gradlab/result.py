"""The record every solver returns, in scipy's vocabulary, and its status codes.

Non-convergence is data, never an exception: a `Result` with ``success=False``
says what happened in ``status`` and ``message``. Records are frozen
dataclasses registered as JAX pytrees, so they pass through ``jit`` and gain a
leading batch axis under ``vmap``.

A status is a promise (`gradlab.stopping` states the rules): CONVERGED means
the point is stationary at the problem's own scale, never merely that ``x``
stopped moving.
"""

from __future__ import annotations

import dataclasses
import enum

import jax
import numpy as np

from gradlab import _i18n


class Status(enum.IntEnum):
    """Why a solver stopped; only CONVERGED is a success."""

    CONVERGED = 0  # the point is stationary at the problem's scale
    MAX_STEPS = 1  # ran out of steps while still moving, short of a stationary point
    DIVERGED = 2  # the cost grew without bound (or ended above where it started)
    NONFINITE = 3  # NaN or inf appeared; the last finite point is kept
    STALLED = 4  # x stopped moving at a point that is not stationary
    NO_MINIMUM = 5  # the cost has no minimum (unbounded below)
    SADDLE = 6  # stationary, but a curvature is negative: a saddle point or a maximum




def status_message(status) -> str | np.ndarray:
    """Human-readable message for a status code, or an array of them for a batch."""
    codes = np.asarray(status)
    if codes.ndim == 0:
        return _i18n.status_detail("en", Status(int(codes)))
    return np.vectorize(lambda c: _i18n.status_detail("en", Status(int(c))),
                        otypes=[object])(codes)


def record(cls):
    """Make ``cls`` a frozen dataclass and a JAX pytree whose fields are all leaves."""
    cls = dataclasses.dataclass(frozen=True)(cls)
    return jax.tree_util.register_dataclass(cls)


@record
class Result:
    """The outcome of a minimisation.

    Attributes:
      x: the best point found, shape ``(d,)``.
      fun: the cost at ``x``, shape ``()``.
      success: whether the solver converged (``status == CONVERGED``).
      status: a `Status` code (an integer array under ``jit``).
      nit: iterations taken.
      nfev: cost evaluations used.
    """

    x: jax.Array
    fun: jax.Array
    success: jax.Array
    status: jax.Array
    nit: jax.Array
    nfev: jax.Array

    @property
    def message(self):
        return status_message(self.status)


@record
class Trajectory:
    """A descent and its history; under ``vmap`` every field gains a leading batch axis.

    Attributes:
      x: ``(d,)`` final point (the last finite one).
      fun: ``()`` cost at ``x``.
      grad: ``(d,)`` gradient at ``x``.
      success: ``()`` whether it converged (``status == CONVERGED``).
      status: ``()`` a `Status` code.
      nit: ``()`` the step at which it stopped.
      nfev: ``()`` cost-and-gradient evaluations (line-search ones included).
      xs: ``(steps // record_every + 1, d)`` recorded points, ``xs[0] = x0``.
      fs: ``(steps // record_every + 1,)`` cost at each recorded point.
      grad_norms: ``(steps // record_every + 1,)`` gradient norm at each recorded point.
    """

    x: jax.Array
    fun: jax.Array
    grad: jax.Array
    success: jax.Array
    status: jax.Array
    nit: jax.Array
    nfev: jax.Array
    xs: jax.Array
    fs: jax.Array
    grad_norms: jax.Array

    @property
    def message(self):
        return status_message(self.status)
