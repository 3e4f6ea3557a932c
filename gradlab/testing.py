"""The contract every cost must honour, as one call for costs you add yourself.

`check_cost` runs the checks the test suite runs on every registered cost:

1. ``f`` at each known minimum equals its stated value;
2. the gradient there is ~0 (unless the minimum lies on the boundary of the bounds);
3. the analytic gradient (if any) matches ``jax.grad`` at random points (`check_gradient`);
4. a dense vmapped random probe inside the bounds finds nothing below the
   known global minimum.

Example:
  >>> import jax.numpy as jnp, gradlab as gl
  >>> from gradlab.testing import check_cost
  >>> cost = gl.Cost("shifted", lambda p: jnp.sum((p - 0.5) ** 2), bounds=[(-1, 1)] * 2,
  ...                grad=lambda p: 2 * (p - 0.5), minima=[gl.Minimum([0.5, 0.5], 0.0)])
  >>> check_cost(cost).passed
  True
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np

from gradlab.costs import as_cost, with_float64_data
from gradlab.gradcheck import check_gradient


@dataclasses.dataclass(frozen=True)
class CostReport:
    """What `check_cost` found: ``passed`` and, if not, one line per problem."""

    passed: bool
    problems: tuple[str, ...]
    probe_min: float


@jax.jit
def _probe(cost, points):
    return jnp.min(jax.vmap(cost)(points))


def check_cost(cost, *, n_probe: int = 100_000, seed: int = 0) -> CostReport:
    """Check a cost's stated minima, gradient and bounds, in float64.

    Args:
      cost: a `Cost` (or registered name) with bounds.
      n_probe: random points for the probe below the global minimum.
      seed: seed for the probe and the gradient check.

    Returns:
      A `CostReport`.
    """
    cost = as_cost(cost, need_bounds=True, what="check_cost")
    problems = []
    with jax.enable_x64(True):
        cost = with_float64_data(cost)
        low, high = np.asarray(cost.bounds, dtype=np.float64).T
        scale = max(1.0, *(abs(m.f) for m in cost.minima)) if cost.minima else 1.0
        for m in cost.minima:
            x = jnp.asarray(m.x, jnp.float64)
            f = float(cost(x))
            if not abs(f - m.f) <= 1e-12 * scale + 1e-14:
                problems.append(f"f{m.x} = {f!r}, but the minimum says {m.f!r}")
            on_boundary = np.any(np.isclose(m.x, low) | np.isclose(m.x, high))
            g = np.asarray(jax.grad(cost)(x))
            if not on_boundary and not np.all(np.abs(g) <= 1e-7 * scale):
                problems.append(f"the gradient at the minimum {m.x} is {g}, not ~0")
            if np.any((np.asarray(m.x) < low) | (np.asarray(m.x) > high)):
                problems.append(f"the minimum {m.x} lies outside the bounds {cost.bounds}")
        check = check_gradient(cost, n=16, seed=seed)
        if not bool(check.passed):
            analytic = float(np.nanmax(check.analytic_rel_error))
            problems.append(f"gradient check failed: analytic error {analytic:.3g}, "
                            f"finite-difference error {float(check.fd_rel_error.max()):.3g}")
        points = low + (high - low) * np.random.default_rng(seed).random((n_probe, len(low)))
        probe_min = float(_probe(cost.objective, jnp.asarray(points)))
        if cost.minima and probe_min < cost.global_value - 1e-9 * scale:
            problems.append(
                f"a random probe found {probe_min!r}, below the stated global minimum "
                f"{cost.global_value!r}"
            )
    return CostReport(passed=not problems, problems=tuple(problems), probe_min=probe_min)
