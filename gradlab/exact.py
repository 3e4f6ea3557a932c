"""Closed-form minima: linear least squares, and one Newton step on a quadratic.

* A cost made by `fit_cost` with the MSE loss and a model linear in its
  parameters (``models.linear``, ``models.polynomial``, or any model that is
  affine in ``params``, detected numerically): ``params`` minimise
  ``‖A·p − (y − c)‖²`` with ``A`` the model's Jacobian; solved by SVD
  (``jnp.linalg.lstsq``), never through ``AᵀA``, which squares the condition number.
* Any cost whose Hessian is constant (checked at several random points): one
  Newton step ``x* = x − H⁻¹∇f(x)``; a Hessian that is not positive definite
  means there is no minimum, reported as a failed `Result`.
* Anything else has no closed form: a `ValueError` points to `grid_search`
  and `descend`.

Example:
  >>> import gradlab as gl
  >>> [round(float(v), 6) for v in gl.solve_exact("bowl").x]
  [2.0, -3.0]
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from gradlab.costs import Cost, as_cost
from gradlab.models import FitObjective, mse
from gradlab.result import Result, Status

_PROBES = 4  # random points at which linearity / constant curvature is checked


def _probe_points(cost: Cost, dtype, seed: int = 0) -> jax.Array:
    rng = np.random.default_rng(seed)
    if cost.bounds is not None:
        low, high = np.asarray(cost.bounds, dtype=float).T
    else:
        low, high = -np.ones(cost.dim), np.ones(cost.dim)
    return jnp.asarray(low + (high - low) * rng.random((_PROBES, len(low))), dtype)


def _close(a, b, dtype) -> bool:
    tol = 1e3 * float(jnp.finfo(dtype).eps) ** 0.5 if jnp.finfo(dtype).bits < 64 else 1e-8
    return bool(jnp.allclose(a, b, rtol=tol, atol=tol * (1.0 + float(jnp.max(jnp.abs(b))))))


@jax.jit
def _affine_fit(cost, probes):
    """Least squares for an affine model, and how far the model is from affine at ``probes``."""
    x, y = cost.data
    model = lambda p: cost.fn.model(p, x)
    zero = jnp.zeros(probes.shape[1], probes.dtype)
    offset = model(zero)
    design = jax.jacfwd(model)(zero)  # (n, d): the model is offset + design @ p if affine
    predicted = offset[None] + probes @ design.T
    params = jnp.linalg.lstsq(design, y - offset)[0]
    return params, cost(params), jax.vmap(model)(probes), predicted


def _least_squares(cost: Cost, dtype) -> Result | None:
    """Least squares for an MSE fit of a model affine in its parameters, else None."""
    fn = cost.fn
    if not (isinstance(fn, FitObjective) and fn.loss is mse and cost.dim is not None):
        return None
    if jax.eval_shape(lambda c: fn.model(jnp.zeros(c.dim, dtype), c.data.x), cost).shape \
            != cost.data.y.shape:
        return None
    params, fun, actual, predicted = _affine_fit(cost, _probe_points(cost, dtype))
    if not _close(actual, predicted, dtype):
        return None
    return Result(x=params, fun=fun, success=jnp.asarray(True),
                  status=jnp.asarray(Status.CONVERGED, jnp.int32), nit=jnp.asarray(1),
                  nfev=jnp.asarray(1))


@jax.jit
def _newton_step(cost, probes):
    """Hessians at ``probes`` and one Newton step from the first probe."""
    hessians = jax.vmap(jax.hessian(cost))(probes)
    x = probes[0] - jnp.linalg.lstsq(hessians[0], jax.grad(cost)(probes[0]))[0]
    eigenvalues = jnp.linalg.eigvalsh((hessians[0] + hessians[0].T) / 2)
    return hessians, x, cost(x), eigenvalues


def _newton_on_quadratic(cost: Cost, dtype) -> Result | None:
    """One Newton step when the Hessian is the same everywhere, else None."""
    hessians, x, fun, eigenvalues = _newton_step(cost, _probe_points(cost, dtype, seed=1))
    if not _close(hessians, jnp.broadcast_to(hessians[0], hessians.shape), dtype):
        return None
    positive_definite = bool(jnp.all(eigenvalues > 0))
    status = Status.CONVERGED if positive_definite else Status.DIVERGED
    return Result(x=x, fun=fun, success=jnp.asarray(positive_definite),
                  status=jnp.asarray(status, jnp.int32), nit=jnp.asarray(1),
                  nfev=jnp.asarray(_PROBES + 2))


def solve_exact(cost, *, bounds=None) -> Result:
    """The minimum in closed form, when there is one.

    Args:
      cost: a `Cost` or registered name: an MSE fit of a model linear in its
        parameters, or a cost with a constant Hessian (a quadratic).
      bounds: override the cost's bounds (they only place the probe points).

    Returns:
      A `Result` with ``nit=1``. For a quadratic whose Hessian is not positive
      definite (no minimum), ``success`` is False and ``status`` is DIVERGED.

    Raises:
      ValueError: the cost has no closed form; use `grid_search` or `descend`.

    Example:
      >>> import gradlab as gl
      >>> result = gl.solve_exact("line")
      >>> [round(float(v), 2) for v in result.x]
      [2.02, -2.98]
    """
    cost = as_cost(cost, bounds)
    if cost.dim is None:
        raise ValueError(
            f"cost {cost.name!r} has no bounds or known dimension; pass bounds= to solve_exact"
        )
    dtype = jnp.result_type(float)
    result = _least_squares(cost, dtype) or _newton_on_quadratic(cost, dtype)
    if result is None:
        raise ValueError(
            f"cost {cost.name!r} has no closed-form minimum: it is neither a least-squares "
            "fit of a model linear in its parameters nor a quadratic. Use "
            "gl.grid_search(cost) or gl.descend(cost, x0, ...) instead."
        )
    return result
