"""Closed-form minima: linear least squares, and the stationary point of a quadratic.

* A cost made by `fit_cost` with the MSE loss and a model linear in its
  parameters (``models.linear``, ``models.polynomial``, or any model whose
  Jacobian is the same at every point): ``params`` minimise
  ``‖A·p − (y − c)‖²`` with ``A`` the model's Jacobian; solved by SVD
  (``jnp.linalg.lstsq``), never through ``AᵀA``, which squares the condition number.
* Any cost whose Hessian is the same everywhere (a quadratic): its minimum
  solves ``H·x = −∇f``. A Hessian with a negative eigenvalue, or a slope along
  a direction without curvature, means the cost is unbounded below: status
  NO_MINIMUM. A singular positive semi-definite Hessian (a valley of minima)
  gives the minimum nearest the probe point.
* Anything else has no closed form: a `ValueError` points to `grid_search`
  and `descend`.

Whether a model is linear, or a Hessian constant, is decided in float64
whatever the caller's width (float32's roundoff would let a curved cost pass
for a quadratic), at random points inside the bounds, to a tolerance of
float64's roundoff; the answer comes back in the caller's width.

Example:
  >>> import gradlab as gl
  >>> [round(float(v), 6) for v in gl.solve_exact("bowl").x]
  [2.0, -3.0]
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from gradlab import _programs
from gradlab.costs import Cost, as_cost, computation_dtype, with_float64_data
from gradlab.models import LINEAR_IN_PARAMS, FitObjective, mse
from gradlab.result import Result, Status

_PROBES = 4  # random points at which linearity / constant curvature is checked
# Relative agreement, in float64, that counts as "the same": roundoff of the sums
# involved, with room for their length, far below any real curvature.
_SAME = 1e-9


def _probe_points(cost: Cost, seed: int = 0) -> jax.Array:
    rng = np.random.default_rng(seed)
    if cost.bounds is not None:
        low, high = np.asarray(cost.bounds, dtype=float).T
    else:
        low, high = -np.ones(cost.dim), np.ones(cost.dim)
    return jnp.asarray(low + (high - low) * rng.random((_PROBES, len(low))), jnp.float64)


def _same(a, b) -> bool:
    a, b = np.asarray(a), np.asarray(b)
    scale = max(float(np.max(np.abs(b), initial=0.0)), float(np.max(np.abs(a), initial=0.0)))
    return bool(np.all(np.abs(a - b) <= _SAME * max(scale, np.finfo(np.float64).tiny)))


@_programs.keepable(lambda args, static: (0, 0, 0, 0))
@jax.jit
def _affine_fit(objective, probes):
    """Least squares for an affine model, and the model's values at ``probes``
    beside those of its linearisation at zero."""
    x, y = objective.data
    model = lambda p: objective.fn.model(p, x)
    zero = jnp.zeros(probes.shape[1], probes.dtype)
    offset = model(zero)
    design = jax.jacfwd(model)(zero)  # the model is offset + design @ p if affine
    design = design.reshape(-1, probes.shape[1])
    predicted = offset.ravel()[None] + probes @ design.T
    params = jnp.linalg.lstsq(design, (y - offset).ravel())[0]
    actual = jax.vmap(lambda p: model(p).ravel())(probes)
    return params, objective(params), actual, predicted


def _least_squares(cost64: Cost, declared_linear: bool) -> tuple | None:
    """Least squares for an MSE fit of a model affine in its parameters, else None."""
    params, fun, actual, predicted = _affine_fit(cost64.objective, _probe_points(cost64))
    if not declared_linear and not _same(actual, predicted):
        return None
    return params, fun, Status.CONVERGED, 1


@_programs.keepable(lambda args, static: (0, 0, 0, 0, 0, 0))
@jax.jit
def _quadratic(objective, probes):
    """Hessians at ``probes``, and the quadratic's stationary point from the first probe."""
    hessians = jax.vmap(jax.hessian(objective))(probes)
    h = (hessians[0] + hessians[0].T) / 2
    g = jax.grad(objective)(probes[0])
    step = jnp.linalg.lstsq(h, g)[0]  # the least-norm solution: singular Hessians too
    x = probes[0] - step
    return hessians, x, objective(x), jnp.linalg.eigvalsh(h), h @ step - g, g


def _newton_on_quadratic(cost64: Cost) -> tuple | None:
    """The stationary point when the Hessian is the same everywhere, else None."""
    hessians, x, fun, eigenvalues, mismatch, g = _quadratic(cost64.objective,
                                                            _probe_points(cost64, seed=1))
    if not _same(hessians, np.broadcast_to(hessians[0], hessians.shape)):
        return None
    eigenvalues = np.asarray(eigenvalues)
    size = max(float(np.max(np.abs(eigenvalues))), np.finfo(np.float64).tiny)
    bounded = (eigenvalues.min() >= -_SAME * size  # positive semi-definite ...
               and _same(np.asarray(mismatch) + np.asarray(g), g))  # ... and g in its range
    return x, fun, Status.CONVERGED if bounded else Status.NO_MINIMUM, _PROBES + 2


def solve_exact(cost, *, bounds=None) -> Result:
    """The minimum in closed form, when there is one.

    Args:
      cost: a `Cost` or registered name: an MSE fit of a model linear in its
        parameters, or a cost whose Hessian is constant (a quadratic).
      bounds: override the cost's bounds (they only place the probe points).

    Returns:
      A `Result` with ``nit=1``, in the cost's width. For a quadratic that is
      unbounded below, ``success`` is False and ``status`` is NO_MINIMUM (``x`` is
      then its stationary point: a saddle, or a least-squares compromise).

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
    dtype = computation_dtype(cost)
    fn = cost.fn
    with jax.enable_x64(True):
        cost64 = with_float64_data(cost)
        found = None
        if isinstance(fn, FitObjective) and fn.loss is mse:
            found = _least_squares(cost64, declared_linear=fn.model in LINEAR_IN_PARAMS)
        found = found or _newton_on_quadratic(cost64)
        if found is not None:
            x, fun, status, nfev = (np.asarray(found[0]), np.asarray(found[1]), found[2],
                                    found[3])
    if found is None:
        raise ValueError(
            f"cost {cost.name!r} has no closed-form minimum: it is neither a least-squares "
            "fit of a model linear in its parameters nor a quadratic. Use "
            "gl.grid_search(cost) or gl.descend(cost, x0, ...) instead."
        )
    # made on the host and put on the device as they are: no program to run (rounded to
    # the width on the host, to nearest, as XLA rounds)
    on_device = lambda value, dtype: jax.device_put(np.asarray(value, dtype))
    return Result(x=on_device(x, dtype), fun=on_device(fun, dtype),
                  success=on_device(status == Status.CONVERGED, bool),
                  status=on_device(status, np.int32), nit=on_device(1, np.int32),
                  nfev=on_device(nfev, np.int32))
