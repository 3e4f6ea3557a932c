"""Learning-rate sweeps: one descent per rate, and the stability limit ``2/L``.

`sweep_learning_rates` runs one descent per learning rate from the same start,
all in one compiled call (the rates are traced, so new values do not
recompile), and gives the stability limit ``2/L`` from the curvature ``L`` at
the start: plain gradient descent on a quadratic converges below it and
diverges above.

Example:
  >>> import gradlab as gl
  >>> sweep = gl.sweep_learning_rates("bowl", [-1.0, -1.0], [0.1, 0.5, 1.2], steps=100)
  >>> float(sweep.stability_limit)
  1.0
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import optax

from gradlab import _linalg, derivatives
from gradlab import progress as progress_
from gradlab._checks import check_points, short
from gradlab._loop import plain_descent
from gradlab._method import Method
from gradlab.costs import prepare
from gradlab.descent import Trajectory
from gradlab.multistart import check_batch_fits, run_starts
from gradlab.result import record


@record
class LearningRateSweep:
    """One descent per learning rate, from the same start.

    Attributes:
      learning_rates: ``(k,)`` the rates tried.
      trajectories: a `Trajectory` with a leading axis of ``k``.
      status: ``(k,)`` each run's `Status` code.
      curvature: the Hessian's largest eigenvalue ``L`` at ``x0``.
      stability_limit: ``2 / L``: plain gradient descent on a quadratic converges
        for rates below it and diverges above (NaN when ``L ≤ 0``); a local
        estimate for other costs and a guide only for other optimisers.
    """

    learning_rates: jax.Array
    trajectories: Trajectory
    status: np.ndarray
    curvature: float
    stability_limit: float


def sweep_learning_rates(cost, x0, learning_rates, *, steps: int = 100,
                         optimizer_factory=None, gtol: float | None = None,
                         record_every: int = 1, bounds=None,
                         progress=None) -> LearningRateSweep:
    """Run one descent per learning rate, all in one compiled call.

    Args:
      cost: a `Cost`, a registered name, or a callable.
      x0: ``(d,)`` the common start.
      learning_rates: ``(k,)`` positive rates; traced, so new values do not recompile.
      steps: steps per run.
      optimizer_factory: None for the course's plain rule ``x ← x − α·∇f(x)``, or
        a factory ``learning_rate -> optax transformation`` (``optax.adam``,
        ``functools.partial(optax.sgd, momentum=0.9)``, ...).
      gtol, record_every, progress: as in `descend`.
      bounds: optional box to project each step into.

    Returns:
      A `LearningRateSweep`.

    Example:
      >>> import gradlab as gl
      >>> sweep = gl.sweep_learning_rates("bowl", [-1.0, -1.0], [0.1, 0.5, 1.2], steps=100)
      >>> [gl.Status(int(s)).name for s in sweep.status], float(sweep.stability_limit)
      (['CONVERGED', 'CONVERGED', 'DIVERGED'], 1.0)
    """
    cost, x0 = prepare(cost, x0)
    progress_.check(progress)
    if optimizer_factory is None:
        factory = plain_descent
    elif isinstance(optimizer_factory, optax.GradientTransformation) or not callable(
            optimizer_factory):
        raise TypeError(
            "optimizer_factory must be a factory taking learning_rate, such as optax.adam "
            f"(not an optimiser already built); got {short(optimizer_factory)}"
        )
    else:
        factory = optimizer_factory
    rates = check_points(learning_rates if isinstance(learning_rates, jax.Array | np.ndarray)
                         else list(np.ravel(learning_rates)), "learning_rates", None)
    if not np.all(np.asarray(rates) > 0):
        raise ValueError(f"learning_rates must all be positive; got {short(np.asarray(rates))}")
    rates = rates.astype(x0.dtype)
    check_batch_fits(cost, rates.shape[0], x0.shape[0], steps, record_every, x0.dtype,
                     "fewer learning_rates or a coarser history (record_every=)")
    host_x0 = np.asarray(x0)  # copies made on the host: eagerly on device, a program each
    starts = jax.device_put(np.broadcast_to(host_x0, (rates.shape[0], x0.shape[0])))
    trajs = run_starts(cost, starts, method=Method(factory=factory, per_run=True),
                       hyperparams={"learning_rate": rates}, steps=steps,
                       record_every=record_every, gtol=gtol, bounds=bounds, progress=progress)
    curvature = float(jnp.max(_hessian_eigenvalues(cost.objective, host_x0[None])))
    limit = 2.0 / curvature if curvature > 0 else math.nan
    return LearningRateSweep(learning_rates=rates, trajectories=trajs,
                             status=np.asarray(trajs.status), curvature=curvature,
                             stability_limit=limit)


@jax.jit
def _hessian_eigenvalues(objective, points):
    return jax.vmap(lambda x: _linalg.eigvalsh(
        derivatives.value_grad_hessian(objective, x)[2]))(points)
