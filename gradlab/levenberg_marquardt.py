"""Levenberg–Marquardt as an optax transformation: `gl.fit`'s step inside the descent loop.

`levenberg_marquardt()` lets `multistart`, `basin_map` and `descend` solve a
least-squares fit with the same trust-region step as `gradlab.fit` (MINPACK's
``lmder``: `gradlab.leastsq`), one trial per update, and keep everything
those tools give — recorded paths, the one judge of `gradlab.stopping`,
clustered minima and basins:

    gl.multistart(fit, optimizer=gl.optimizers.levenberg_marquardt())

Its ``update`` needs ``value_fn``, and that must be the objective of a cost
made by `gradlab.fit_cost` with the squared-error loss (gradlab's loops pass
it; anything else is refused when traced, with a message). Each update
evaluates the residuals and their Jacobian at the current point (one forward
pass of the model), factors them, proposes a step within the trust radius,
evaluates the residuals there, and moves only if the decrease is at least
1e-4 of the predicted one (else the update is zero and the radius shrinks —
a run that can improve no further then stalls, and the loop's verdict says
whether it stalled at a stationary point). For a single fit, prefer
`gradlab.fit`: its own loop stops by the least-squares structure, reuses the
factors of a refused step, and reports standard errors.

Example:
  >>> import jax.numpy as jnp, gradlab as gl
  >>> x = jnp.linspace(0.0, 3.0, 40)
  >>> decay = gl.fit_cost(lambda p, x: p[0] * jnp.exp(-p[1] * x), (x, 2.0 * jnp.exp(-0.7 * x)),
  ...                     bounds=[(0.1, 5.0), (0.1, 5.0)])
  >>> ms = gl.multistart(decay, n_starts=20, optimizer=gl.optimizers.levenberg_marquardt())
  >>> [round(float(v), 4) for v in ms.best]
  [2.0, 0.7]
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax

from gradlab import _lm_algebra, leastsq, models


class LevenbergMarquardtState(NamedTuple):
    radius: jax.Array  # Δ (inf before the first update)
    scale: jax.Array  # (d,) D: running maximum of the Jacobian's column norms
    count: jax.Array


def _check(value_fn):
    fn = getattr(value_fn, "fn", None)
    if not (isinstance(fn, models.FitObjective) and fn.loss is models.mse):
        raise TypeError(
            "levenberg_marquardt() minimises least-squares fits: it needs the cost of "
            "gl.fit_cost(model, data) with the squared-error loss (mse) as value_fn; got "
            f"{type(value_fn).__name__}. Use another optimiser (optax.lbfgs(), ...) for other "
            "costs"
        )


@functools.cache
def levenberg_marquardt() -> optax.GradientTransformationExtraArgs:
    """Levenberg–Marquardt steps for a `fit_cost` with the squared-error loss (see the module).

    Returns:
      An optax transformation whose ``update`` needs ``params`` and ``value_fn``
      (the fit's objective); cached, so every call gives the same object and
      reuses compiled code.
    """

    def init(params):
        return LevenbergMarquardtState(jnp.asarray(jnp.inf, params.dtype), jnp.ones_like(params),
                                       jnp.zeros((), jnp.int32))

    def update(grads, state, params, *, value_fn, **extra_args):
        del grads, extra_args
        _check(value_fn)
        r, jac = leastsq.residuals_and_jacobian(value_fn, params, None)
        norms = jnp.linalg.norm(jac, axis=0)
        first = state.count == 0
        scale = jnp.where(first, jnp.where(norms > 0, norms, 1.0),
                          jnp.maximum(state.scale, norms))
        size = jnp.linalg.norm(scale * params)
        radius = jnp.where(first, jnp.where(size > 0, size, 1.0), state.radius)
        f = _lm_algebra.factor(jac, r, scale, jnp.ones(params.shape, bool), False)
        z, lam, _ = _lm_algebra.lm_step(f, radius)
        rr = r @ r
        predicted, direction = _lm_algebra.predict(f, z, lam, rr)
        r_new = leastsq.residuals(value_fn, params + z / scale, None)
        rr_new = r_new @ r_new
        rr_new = jnp.where(jnp.isfinite(rr_new), rr_new, jnp.inf)
        _, ratio, radius = _lm_algebra.assess(rr, rr_new, predicted, direction,
                                              jnp.linalg.norm(z), lam, radius, first)
        step = jnp.where(ratio >= leastsq.ACCEPT, z / scale, 0.0)
        return step, LevenbergMarquardtState(radius, scale, state.count + 1)

    return optax.GradientTransformationExtraArgs(init, update)
