"""Gradient descent as one ``lax.scan`` over any optax optimiser.

The loop's contract:

* ``x_{k+1} = x_k + u_k`` where ``u_k`` comes from ``optimizer.update``; optimisers
  that need ``value``, ``grad`` and ``value_fn`` (``optax.lbfgs``, the line
  searches) get them. ``learning_rate=α`` alone is the course's rule
  ``x ← x − α·∇f(x)``, all parameters updated at once.
* The history is recorded: ``xs`` (steps/record_every + 1, d), ``fs``, ``grad_norms``.
* Stopping is data (`Status`): CONVERGED once ``‖∇f‖ ≤ gtol``, or once steps
  stay below ``xtol·(1 + ‖x‖)`` for ``_loop.STALL_PATIENCE`` (8) steps in a row; the state
  then freezes, so shapes stay static. DIVERGED once ``|f|`` exceeds
  ``divergence·max(1, |f(x0)|)`` (or ``x`` runs away likewise), or when the
  steps run out with the cost above ``f(x0)``; MAX_STEPS when they run out
  while still descending; NONFINITE when NaN/inf appears — the last finite
  point is kept. Nothing is raised at run time, so under ``vmap`` one bad
  start never spoils the others.
* Compiled once per (optimiser, step count, record interval): new ``x0``, new
  data of the same shape, new learning-rate values and new tolerances reuse it.

Example:
  >>> import gradlab as gl
  >>> traj = gl.descend(gl.get_cost("bowl"), [-1.0, -1.0], learning_rate=0.1, steps=50)
  >>> [round(float(v), 3) for v in traj.x]
  [2.0, -3.0]
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import optax

from gradlab import _loop
from gradlab._checks import check_bounds, check_positive, is_traced, short
from gradlab._loop import LoopConfig
from gradlab.costs import Cost, bounds_array, prepare
from gradlab.result import Trajectory


def default_gtol(dtype) -> float:
    """Gradient-norm tolerance: 1e-6 in float64, 1e-4 in float32 (its roundoff floor)."""
    return 1e-6 if jnp.finfo(dtype).bits >= 64 else 1e-4


@functools.partial(jax.jit, static_argnames=("optimizer", "config"))
def _descend_one(cost, x0, learning_rate, box, tols, *, optimizer, config):
    return _loop.run_one(cost, x0, learning_rate, box, tols, optimizer, config)


@functools.partial(jax.jit, static_argnames=("optimizer", "config"))
def _descend_many(cost, x0s, learning_rates, box, tols, *, optimizer, config):
    """One compiled call for a batch of starts (and, optionally, one rate per start)."""
    return _loop.run_many(cost, x0s, learning_rates, box, tols, optimizer, config)


def resolve_options(cost: Cost, dtype, *, steps, record_every, bounds, gtol, xtol, divergence):
    """Check the loop's options and bundle them as (config, box, tols)."""
    steps = check_positive(steps, "steps", integer=True)
    record_every = check_positive(record_every, "record_every", integer=True)
    if steps % record_every:
        raise ValueError(
            f"steps ({steps}) must be a multiple of record_every ({record_every}), "
            "so that the history has a fixed length"
        )
    box = None
    if bounds is not None:
        box = bounds_array(check_bounds(bounds, dim=cost.dim), dtype)
    gtol = default_gtol(dtype) if gtol is None else gtol
    xtol = 4 * float(jnp.finfo(dtype).eps) if xtol is None else xtol
    for value, name in ((gtol, "gtol"), (xtol, "xtol")):
        if not (isinstance(value, int | float) and value >= 0):
            raise ValueError(f"{name} must be a non-negative number; got {short(value)}")
    check_positive(divergence, "divergence")
    tols = tuple(device_scalar(v, dtype) for v in (gtol, xtol, divergence))
    return LoopConfig(steps, record_every, box is not None), box, tols


@functools.lru_cache(maxsize=1024)
def _cached_scalar(value: float, dtype) -> jax.Array:
    # descend may be called inside a user's jit: make a concrete array, never a tracer
    with jax.ensure_compile_time_eval():
        return jax.device_put(np.asarray(value, dtype))


def device_scalar(value, dtype):
    """``value`` as a 0-d array of ``dtype`` for a jitted call, made once per (value, dtype).

    A Python number or numpy scalar passed to jit is copied to the device on
    every call; on a small descent that copy is a visible share of the call.
    """
    if isinstance(value, int | float) and not isinstance(value, bool):
        return _cached_scalar(float(value), np.dtype(dtype))
    return value if is_traced(value) else np.asarray(value, dtype)


def check_optimizer(optimizer, learning_rate):
    """Exactly one of ``optimizer`` (an optax transformation) and ``learning_rate``."""
    if (optimizer is None) == (learning_rate is None):
        raise ValueError(
            "pass exactly one of optimizer= (an optax.GradientTransformation, e.g. "
            "optax.adam(1e-2)) and learning_rate= (plain gradient descent); got "
            f"optimizer={short(optimizer)}, learning_rate={short(learning_rate)}"
        )
    if optimizer is not None and not isinstance(optimizer, optax.GradientTransformation):
        raise TypeError(
            "optimizer must be an optax.GradientTransformation such as optax.sgd(0.1) or "
            f"optax.lbfgs(); got {short(optimizer)}"
        )
    if learning_rate is not None:
        check_positive(learning_rate, "learning_rate")
        if jnp.ndim(learning_rate) != 0:
            raise ValueError(
                "learning_rate must be a scalar (to try several, use "
                f"gl.sweep_learning_rates); got shape {jnp.shape(learning_rate)}"
            )


def descend(cost, x0, *, optimizer=None, learning_rate=None, steps: int = 100,
            bounds=None, gtol: float | None = None, xtol: float | None = None,
            divergence: float = 1e6, record_every: int = 1) -> Trajectory:
    """Minimise ``cost`` from ``x0`` by gradient descent, in one compiled ``lax.scan``.

    Args:
      cost: a `Cost`, a registered name, or a callable ``f(x) -> scalar``.
      x0: ``(d,)`` starting point.
      optimizer: any ``optax.GradientTransformation`` (``optax.adam(1e-2)``,
        ``optax.lbfgs()``, ...). Reuse the same object to reuse the compiled code.
      learning_rate: instead of ``optimizer``: plain descent ``x ← x − α·∇f(x)``.
        Its value is traced, so trying another rate does not recompile.
      steps: the most steps to take.
      bounds: optional ``(low, high)`` pairs: every step is projected into the box.
      gtol: stop when ``‖∇f‖ ≤ gtol`` (default 1e-6 in float64, 1e-4 in float32).
      xtol: stop when steps move ``x`` by at most ``xtol·(1 + ‖x‖)`` (default 4·eps)
        8 times in a row (``gradlab._loop.STALL_PATIENCE``).
      divergence: DIVERGED once ``|f| > divergence·max(1, |f(x0)|)``.
      record_every: keep every k-th point of the history (``steps`` must be a multiple).

    Returns:
      A `Trajectory`. Works under ``jit`` and ``vmap`` (over ``x0`` or ``learning_rate``).

    Example:
      >>> import optax, gradlab as gl
      >>> traj = gl.descend("rosenbrock", [-1.2, 1.0], optimizer=optax.lbfgs(), steps=100)
      >>> bool(traj.success), traj.xs.shape
      (True, (101, 2))
    """
    cost, x0 = prepare(cost, x0)
    check_optimizer(optimizer, learning_rate)
    config, box, tols = resolve_options(cost, x0.dtype, steps=steps, record_every=record_every,
                                        bounds=bounds, gtol=gtol, xtol=xtol,
                                        divergence=divergence)
    if learning_rate is not None:
        optimizer = optax.sgd
        learning_rate = device_scalar(learning_rate, x0.dtype)
    return _descend_one(cost, x0, learning_rate, box, tols, optimizer=optimizer, config=config)


def descend_many(cost: Cost, x0s, *, optimizer, learning_rates=None, config: LoopConfig, box, tols):
    """A batch of descents in one compiled call (``x0s`` is ``(n, d)``, already checked).

    ``optimizer`` is a transformation, or with ``learning_rates`` (``(n,)``) a
    factory ``lr -> transformation`` such as ``optax.sgd``.
    """
    return _descend_many(cost, x0s, learning_rates, box, tols, optimizer=optimizer,
                         config=config)
