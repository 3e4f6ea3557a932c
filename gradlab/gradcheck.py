"""Three-way gradient check: ``jax.grad`` against the analytic gradient and finite differences.

Always computed in float64 (inside ``jax.enable_x64``), whatever the global
setting, and vmapped over the points. Autodiff is the reference: the analytic
gradient must match it to near machine precision, and central finite
differences (step ``eps^(1/3)·max(1, |x_i|)``, error ``O(eps^(2/3))``) to a
looser tolerance. A wrong analytic gradient, even one component off by 1%,
fails the first test; a cost that autodiff cannot differentiate correctly
(e.g. a custom rule gone wrong) fails the second.

Example:
  >>> import gradlab as gl
  >>> gl.check_gradient(gl.get_cost("bowl")).passed
  True
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from gradlab import _programs
from gradlab._checks import check_memory, check_points, check_positive
from gradlab.costs import as_cost, check_output, with_float64_data
from gradlab.result import record

ANALYTIC_RTOL = 1e-8
FD_RTOL = 1e-5
# Components smaller than this fraction of the gradient's largest one are judged
# against that floor, not their own size: finite differences cannot resolve them.
RELATIVE_FLOOR = 1e-4


@record
class GradCheck:
    """The outcome of `check_gradient` (numpy float64 arrays).

    Attributes:
      points: ``(n, d)`` where the gradient was checked.
      autodiff: ``(n, d)`` gradients from ``jax.grad``.
      analytic: ``(n, d)`` hand-written gradients, or None when the cost has none.
      finite_diff: ``(n, d)`` central finite differences.
      max_abs_error: largest ``|analytic − autodiff|`` or ``|finite_diff − autodiff|``.
      max_rel_error: the same, relative (see `RELATIVE_FLOOR`).
      analytic_rel_error: ``(n,)`` per point, analytic vs autodiff (NaN without analytic).
      fd_rel_error: ``(n,)`` per point, finite differences vs autodiff.
      passed: analytic within ``analytic_rtol`` and finite differences within ``fd_rtol``.
    """

    points: jax.Array
    autodiff: jax.Array
    analytic: jax.Array | None
    finite_diff: jax.Array
    max_abs_error: jax.Array
    max_rel_error: jax.Array
    analytic_rel_error: jax.Array
    fd_rel_error: jax.Array
    passed: bool
    analytic_rtol: float
    fd_rtol: float


def _central_differences(fn, x):
    """``(d,)`` central differences of ``fn`` at ``x``, one vmapped lane per coordinate."""
    eps = jnp.finfo(x.dtype).eps
    h = eps ** (1.0 / 3.0) * jnp.maximum(1.0, jnp.abs(x))
    h = (x + h) - x  # a step that is exactly representable

    def along(i):
        e = jnp.zeros_like(x).at[i].set(h[i])
        return (fn(x + e) - fn(x - e)) / (2.0 * h[i])

    return jax.vmap(along)(jnp.arange(x.shape[0]))


def _relative_error(approx: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """Per-point max over components of ``|approx − ref| / max(|ref|, floor)``; NaN stays NaN.

    On the host, in numpy (the same IEEE operations): eagerly on device each operation
    was a program of its own, read back from the compilation cache on every run."""
    with np.errstate(invalid="ignore", over="ignore"):  # inf − inf: NaN, reported as such
        floor = RELATIVE_FLOOR * np.max(np.abs(ref), axis=-1, keepdims=True)
        denom = np.maximum(np.maximum(np.abs(ref), floor), np.finfo(ref.dtype).tiny)
        return np.max(np.abs(approx - ref) / denom, axis=-1)  # max propagates NaN


@_programs.keepable(lambda args, static: (0, None if args[0].grad is None else 0, 0))
@jax.jit
def _gradients(cost, points):
    autodiff = jax.vmap(jax.grad(cost))(points)
    finite_diff = jax.vmap(lambda x: _central_differences(cost, x))(points)
    analytic = None if cost.grad is None else jax.vmap(cost.analytic_grad)(points)
    return autodiff, analytic, finite_diff


def _check_fits(cost, n: int, dim: int, argument: str) -> None:
    """Refuse a check whose points would not fit: each point evaluates the cost at 2d
    shifted copies at once, in float64."""
    data = sum(np.size(leaf) for leaf in jax.tree.leaves(cost.data))
    check_memory(8.0 * n * (2 * dim + 1) * (4 * data + 4 * dim + 16),
                 f"checking the gradient at {n:,} points", f"fewer points ({argument})")


def check_gradient(cost, points=None, *, n: int = 16, seed: int = 0, bounds=None,
                   analytic_rtol: float = ANALYTIC_RTOL, fd_rtol: float = FD_RTOL) -> GradCheck:
    """Compare ``jax.grad`` with the analytic gradient and with finite differences.

    Args:
      cost: a `Cost`, a registered name, or a callable ``f(x) -> scalar``.
      points: ``(n, d)`` or ``(d,)`` points to check at; by default ``n``
        seeded uniform points inside the bounds.
      n: how many random points when ``points`` is None.
      seed: seed for the random points.
      bounds: override the cost's bounds (needed for a callable without points).
      analytic_rtol, fd_rtol: tolerances for the two comparisons.

    Returns:
      A `GradCheck`; ``passed`` is a Python bool.

    Example:
      >>> import jax.numpy as jnp, gradlab as gl
      >>> wrong = gl.Cost("wrong", lambda p: p[0] ** 2 + p[1] ** 2, bounds=[(-1, 1)] * 2,
      ...                 grad=lambda p: jnp.array([2 * p[0], 2.02 * p[1]]))
      >>> bool(gl.check_gradient(wrong).passed)
      False
    """
    cost = as_cost(cost, bounds, need_bounds=points is None, what="random check points")
    if points is None:
        n = check_positive(n, "n", integer=True)
        _check_fits(cost, n, cost.dim, "n=")
        low, high = np.asarray(cost.bounds, dtype=np.float64).T
        points = low + (high - low) * np.random.default_rng(seed).random((n, len(low)))
    else:
        points = np.asarray(points) if isinstance(points, list | tuple) else points
        points = check_points(points[None] if np.ndim(points) == 1 else points, "points",
                              cost.dim, batch=True, convert=False)
        _check_fits(cost, points.shape[0], points.shape[1], "points=")
    with jax.enable_x64(True):
        points = jax.device_put(np.asarray(points, dtype=np.float64))
        cost64 = with_float64_data(cost)
        check_output(cost64, jax.ShapeDtypeStruct(points.shape[1:], points.dtype))
        # numpy float64 on the host from here: a report, usable whatever the width in
        # force after (and a few comparisons, not a program each)
        autodiff, analytic, finite_diff = (
            None if a is None else np.asarray(a)
            for a in _gradients(cost64.objective, points))
        # NaN anywhere (in jax.grad, the analytic gradient or the differences) is an
        # error, never skipped: every comparison with NaN fails, and the maxima keep it.
        fd_rel = _relative_error(finite_diff, autodiff)
        with np.errstate(invalid="ignore"):
            abs_errors = [np.max(np.abs(finite_diff - autodiff))]
            rel_errors = [fd_rel]
            if analytic is None:
                analytic_rel = np.full(points.shape[0], np.nan)
                analytic_ok = True
            else:
                analytic_rel = _relative_error(analytic, autodiff)
                abs_errors.append(np.max(np.abs(analytic - autodiff)))
                rel_errors.append(analytic_rel)
                analytic_ok = bool(np.all(analytic_rel <= analytic_rtol))
            passed = analytic_ok and bool(np.all(fd_rel <= fd_rtol))
        return GradCheck(
            points=np.asarray(points), autodiff=autodiff, analytic=analytic,
            finite_diff=finite_diff, max_abs_error=np.asarray(np.max(np.stack(abs_errors))),
            max_rel_error=np.asarray(np.max(np.concatenate(rel_errors))),
            analytic_rel_error=analytic_rel, fd_rel_error=fd_rel,
            passed=passed, analytic_rtol=analytic_rtol, fd_rtol=fd_rtol,
        )
