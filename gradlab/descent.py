"""Gradient descent as one ``lax.scan`` over any optax optimiser.

The loop's contract:

* ``x_{k+1} = x_k + u_k`` where ``u_k`` comes from ``optimizer.update``; optimisers
  that need ``value``, ``grad`` and ``value_fn`` (``optax.lbfgs``, the line
  searches) get them. ``learning_rate=α`` alone is the course's rule
  ``x ← x − α·∇f(x)``, all parameters updated at once.
* The history is recorded: ``xs`` (steps/record_every + 1, d), ``fs``, ``grad_norms``.
  ``fs[k]`` and ``grad_norms[k]`` are always the cost and gradient at ``xs[k]``:
  a line search's stored values are reused only when its update is the one
  applied (it is the last transformation of its chain, and no projection follows).
* Stopping is data (`Status`), by the rules of `gradlab.stopping`: a run stops
  when its gradient is exactly zero (or below a ``gtol`` you give), when
  ``x`` stands still for 8 steps, when NaN/inf appears (NONFINITE, the last
  finite point kept) or the cost runs away (DIVERGED); and is CONVERGED only
  if its last point is stationary at the problem's scale with no curvature
  negative beyond roundoff — SADDLE where one is (a saddle point or a
  maximum), STALLED where it stood still elsewhere, MAX_STEPS where the
  steps ran out while it moved.
  The state then freezes, so shapes stay static. Nothing is raised at run
  time, so under ``vmap`` one bad start never spoils the others.
* Compiled once per (optimiser, step count, record interval, shapes): new
  ``x0``, new data of the same shape, new learning-rate values, new
  tolerances and a renamed cost reuse it.

Example:
  >>> import gradlab as gl
  >>> traj = gl.descend(gl.get_cost("bowl"), [-1.0, -1.0], learning_rate=0.1, steps=200)
  >>> [round(float(v), 3) for v in traj.x], traj.status.item() == gl.Status.CONVERGED
  ([2.0, -3.0], True)
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from gradlab import _programs, parallel, stopping
from gradlab import progress as progress_
from gradlab._checks import check_bounds, check_memory, check_positive, short
from gradlab._compile import loop_jit
from gradlab._method import LoopConfig, Method
from gradlab.costs import Cost, bounds_array, prepare
from gradlab.result import Trajectory
from gradlab.stopping import Tolerances

# `gradlab._loop` (and optax with it) is imported where a program is traced, not here: a
# command that loads its program whole (`gradlab._programs`) plans a descent and never
# traces it, and importing them took 0.15-0.25 s of its start.


@_programs.keepable(Trajectory)
@loop_jit(static_argnames=("method", "config"))
def _descend_one(objective, x0, hyperparams, box, tols, token, *, method, config):
    from gradlab import _loop

    return _loop.run_one(objective, x0, method, hyperparams, box, tols, config, token)


@_programs.keepable(Trajectory)
@loop_jit(static_argnames=("method", "config"), vectorize=False)
def _descend_many(objective, x0s, hyperparams, box, tols, token, *, method, config):
    """One compiled call for a batch of starts (with one set of hyperparameters per run
    if ``method.per_run``); ``token`` None or a `gradlab.progress` token.

    On several devices ``x0s`` (and per-run hyperparameters) must hold a multiple of
    the device count of rows: each device runs the loop over its own rows
    (`parallel.map_rows`), with no communication.
    """
    from gradlab import _loop, _rowwise

    objective = _rowwise.objective(objective)  # a run's bits must not depend on the batch

    def run(rows, shared):
        x0s, per_run = rows
        objective, hyper, box, tols, token = shared
        return _loop.run_many(objective, x0s, method, per_run if method.per_run else hyper,
                              box, tols, config, token)

    per_run = hyperparams if method.per_run else None
    shared = None if method.per_run else hyperparams
    return parallel.map_rows(run, (x0s, per_run), (objective, shared, box, tols, token))


def resolve_options(cost: Cost, dtype, *, steps, record_every, bounds, gtol=None, xtol=None,
                    ftol=None, divergence=1e6) -> tuple[LoopConfig, tuple | None, Tolerances]:
    """Check the loop's options and bundle them as (config, box, tolerances)."""
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
    tols = stopping.tolerances(dtype, xtol=xtol, ftol=ftol, gtol=gtol, divergence=divergence)
    return LoopConfig(steps, record_every, box is not None), box, tols


def run_bytes(dim: int, config: LoopConfig, dtype) -> int:
    """Bytes one run needs: its recorded history (three copies while the plain loop
    judges it), and an optimiser's state (a Hessian, an L-BFGS memory) with room."""
    records = config.steps // config.record_every + 1
    history = records * (dim + 2) * (3 if config.record_every == 1 else 1)
    state = 4 * dim * dim + 32 * dim + 16
    return np.dtype(dtype).itemsize * (history + state)


def check_runs_fit(n_runs: int, dim: int, config: LoopConfig, dtype, what: str,
                   advice: str) -> None:
    """Refuse a batch of ``n_runs`` descents that would not fit in the memory budget."""
    check_memory(n_runs * run_bytes(dim, config, dtype), what, advice)


def check_optimizer(optimizer, learning_rate):
    """Exactly one of ``optimizer`` (an optax transformation) and ``learning_rate``."""
    if (optimizer is None) == (learning_rate is None):
        raise ValueError(
            "pass exactly one of optimizer= (an optax.GradientTransformation, e.g. "
            "optax.adam(1e-2)) and learning_rate= (plain gradient descent); got "
            f"optimizer={short(optimizer)}, learning_rate={short(learning_rate)}"
        )
    if optimizer is not None:
        import optax  # (a caller that made an optimiser has imported it already)

        if not isinstance(optimizer, optax.GradientTransformation):
            raise TypeError(
                "optimizer must be an optax.GradientTransformation such as optax.sgd(0.1) or "
                f"optax.lbfgs(); got {short(optimizer)}"
            )
    if learning_rate is not None:
        check_learning_rate(learning_rate)


def check_learning_rate(learning_rate) -> None:
    """A learning rate for plain descent: one positive, finite number."""
    check_positive(learning_rate, "learning_rate")
    if np.ndim(learning_rate) != 0:
        raise ValueError(
            "learning_rate must be a scalar (to try several, use "
            f"gl.sweep_learning_rates); got shape {jnp.shape(learning_rate)}"
        )


def descend(cost, x0, *, optimizer=None, learning_rate=None, steps: int = 100,
            bounds=None, gtol: float | None = None, xtol: float | None = None,
            ftol: float | None = None, divergence: float = 1e6,
            record_every: int = 1, progress=None) -> Trajectory:
    """Minimise ``cost`` from ``x0`` by gradient descent, in one compiled ``lax.scan``.

    Args:
      cost: a `Cost`, a registered name, or a callable ``f(x) -> scalar``.
      x0: ``(d,)`` starting point.
      optimizer: any ``optax.GradientTransformation`` (``optax.adam(1e-2)``,
        ``optax.lbfgs()``, ...). Reuse the same object to reuse the compiled code.
      learning_rate: instead of ``optimizer``: plain descent ``x ← x − α·∇f(x)``.
        Its value is traced, so trying another rate does not recompile.
      steps: the most steps to take.
      bounds: optional ``(low, high)`` pairs: every step is projected into the box
        (stationarity is then judged on the parameters not held at a bound).
      gtol: stop, CONVERGED, once ``‖∇f‖ ≤ gtol`` — an absolute scale you declare.
        By default only an exact zero stops early, and convergence is judged by
        the scale-aware rules of `gradlab.stopping`.
      xtol, ftol: the stationarity tolerances of `gradlab.stopping` (defaults
        ``sqrt(eps)`` and ``eps`` of the width).
      divergence: DIVERGED once the cost exceeds ``f(x0) + divergence·|f(x0)|``.
      record_every: keep every k-th point of the history (``steps`` must be a multiple).
      progress: optional ``progress(done, total)``, called about 100 times with the
        steps done (`gradlab.progress`); off by default, at no cost.

    Returns:
      A `Trajectory`. Works under ``jit`` and ``vmap`` (over ``x0`` or ``learning_rate``).

    Example:
      >>> import optax, gradlab as gl
      >>> traj = gl.descend("rosenbrock", [-1.2, 1.0], optimizer=optax.lbfgs(), steps=100)
      >>> bool(traj.success), traj.xs.shape
      (True, (101, 2))
    """
    args, static = plan(cost, x0, optimizer=optimizer, learning_rate=learning_rate, steps=steps,
                        bounds=bounds, gtol=gtol, xtol=xtol, ftol=ftol, divergence=divergence,
                        record_every=record_every)
    progress_.check(progress)
    with progress_.reporting(progress) as token:
        traj = _descend_one(*args[:-1], token, **static)
        return traj if token is None else jax.block_until_ready(traj)


def plan(cost, x0, *, optimizer=None, learning_rate=None, steps: int = 100, bounds=None,
         gtol=None, xtol=None, ftol=None, divergence: float = 1e6,
         record_every: int = 1) -> tuple[tuple, dict]:
    """`descend`'s options checked: ``(args, static)`` for ``_descend_one(*args, **static)``.

    ``args`` (the cost's objective, ``x0``, hyperparameters, box, tolerances and a
    progress token of None) are traced; ``static`` (``method``, ``config``) is what
    the compiled program is specialised on.
    """
    cost, x0 = prepare(cost, x0)
    check_optimizer(optimizer, learning_rate)
    args, config = _arguments(cost, x0, learning_rate, steps=steps, bounds=bounds, gtol=gtol,
                              xtol=xtol, ftol=ftol, divergence=divergence,
                              record_every=record_every)
    return args, {"method": method(optimizer), "config": config}


def plan_arguments(cost, x0, *, learning_rate=None, **options) -> tuple[tuple, LoopConfig]:
    """`plan` but for the optimiser (given by name elsewhere): ``(args, config)``.

    What a program kept whole (`gradlab._programs`) is called with; its
    ``method`` is made (`method`) only if the program must be traced. Takes
    `plan`'s options but ``optimizer``; ``learning_rate`` None means an optimiser.
    """
    cost, x0 = prepare(cost, x0)
    if learning_rate is not None:
        check_learning_rate(learning_rate)
    return _arguments(cost, x0, learning_rate, **options)


def method(optimizer) -> Method:
    """The static `Method` of ``optimizer`` (an optax transformation), or of plain descent
    (None: ``x ← x − α·∇f(x)``, its learning rate traced)."""
    if optimizer is not None:
        return Method(transformation=optimizer)
    from gradlab import _loop

    return Method(factory=_loop.plain_descent)


def _arguments(cost, x0, learning_rate, *, steps: int = 100, bounds=None, gtol=None, xtol=None,
               ftol=None, divergence: float = 1e6, record_every: int = 1):
    config, box, tols = resolve_options(cost, x0.dtype, steps=steps, record_every=record_every,
                                        bounds=bounds, gtol=gtol, xtol=xtol, ftol=ftol,
                                        divergence=divergence)
    check_runs_fit(1, x0.shape[0], config, x0.dtype,
                   f"a descent of {steps:,} steps recording every {record_every}",
                   "pass record_every= to keep every k-th point of the history (steps must be "
                   "a multiple of it)")
    hyperparams = (None if learning_rate is None
                   else {"learning_rate": stopping.scalar(learning_rate, x0.dtype)})
    return (cost.objective, x0, hyperparams, box, tols, None), config


def descend_many(cost: Cost, x0s, *, method: Method, hyperparams=None, config: LoopConfig,
                 box, tols: Tolerances, progress=None) -> Trajectory:
    """A batch of descents in one compiled call (``x0s`` is ``(n, d)``, already checked)."""
    with progress_.reporting(progress) as token:
        trajs = _descend_many(cost.objective, x0s, hyperparams, box, tols, token, method=method,
                              config=config)
        return trajs if token is None else jax.block_until_ready(trajs)
