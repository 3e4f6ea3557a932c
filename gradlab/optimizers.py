"""A trust-region Newton method as an optax transformation, for many small problems at once.

Why it exists: under ``vmap`` a line search's ``lax.cond`` evaluates both
branches and its ``while_loop`` runs until the slowest member is done, so
L-BFGS on a batch of 1,000 one-parameter fits spends most of its time on
evaluations nobody needs. `trust_newton` has no inner loop: each update
evaluates the cost, gradient and Hessian once, at the point it proposes, and
stores them (like optax's line searches) for the descent loop to reuse.

The method (Nocedal & Wright, ch. 4): from the current point, propose
``p = −V·diag(1/max(|λ|, floor))·Vᵀ·g`` (saddle-free Newton: a descent
direction even where the Hessian is indefinite), cut to the trust radius;
move there if the actual decrease is a good enough share of the predicted
one, else stay; grow or shrink the radius by how well the model predicted.
The first step, before any Hessian is known, is steepest descent of length
``radius``.
The Hessian is dense (``d × d``): meant for a few to a few dozen parameters.

Example:
  >>> import gradlab as gl
  >>> from gradlab.optimizers import trust_newton
  >>> traj = gl.descend("rosenbrock", [-1.2, 1.0], optimizer=trust_newton(), steps=100)
  >>> bool(traj.success), [round(float(v), 6) for v in traj.x]
  (True, [1.0, 1.0])
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax

from gradlab import _linalg
from gradlab.derivatives import value_grad_hessian


class TrustNewtonState(NamedTuple):
    value: jax.Array  # cost, gradient and Hessian at the current params (what the loop reuses)
    grad: jax.Array
    hessian: jax.Array
    radius: jax.Array
    count: jax.Array


def _saddle_free_step(grad, hessian, radius, floor):
    eigenvalues, vectors = _linalg.eigh((hessian + hessian.T) / 2)
    # curvatures relative to the largest (never to 1: a cost scaled by 1e-8 takes the
    # same steps); with no curvature at all, a steepest-descent step of length radius
    scale = jnp.maximum(jnp.abs(eigenvalues), floor * jnp.max(jnp.abs(eigenvalues)))
    scale = jnp.where(scale > 0, scale, jnp.linalg.norm(grad) / radius)
    slope = vectors.T @ grad
    step = -vectors @ jnp.where(slope == 0, 0.0, slope / jnp.where(scale > 0, scale, 1.0))
    norm = jnp.linalg.norm(step)
    step = step * jnp.minimum(1.0, radius / jnp.maximum(norm, jnp.finfo(norm.dtype).tiny))
    predicted = -(grad @ step + 0.5 * step @ hessian @ step)
    return step, predicted


@functools.cache
def trust_newton(radius: float = 1.0, max_radius: float = float("inf"), accept: float = 0.1,
                 floor: float = 1e-8) -> optax.GradientTransformationExtraArgs:
    """Trust-region saddle-free Newton for 1-D parameter arrays (see the module docstring).

    Each update proposes one step from the current point, evaluates the cost,
    gradient and Hessian there, and either moves (the decrease is at least
    ``accept`` times the predicted one) or stays and shrinks the radius; a run of
    refused steps shows up in `descend` as a stall.

    Args:
      radius: the first step's length and the initial trust radius.
      max_radius: the radius never grows past this (keeps a descent near its basin).
      accept: accept a proposal when actual/predicted decrease exceeds this.
      floor: curvatures below ``floor × max |λ|`` are treated as this (flat directions).

    Returns:
      An optax transformation whose ``update`` needs ``value`` and ``value_fn``;
      cached, so equal arguments give the same object (and reuse compiled code).
      Its state holds the cost, gradient and Hessian at the current point, which
      `gradlab.descend` reuses (and judges stationarity with) when it is the last
      transformation of its chain.
    """
    return make_trust_newton(radius, max_radius, accept, floor)


def make_trust_newton(radius, max_radius, accept: float = 0.1,
                      floor: float = 1e-8) -> optax.GradientTransformationExtraArgs:
    """`trust_newton` uncached: ``radius`` and ``max_radius`` may be traced arrays."""

    def init(params):
        d = params.shape[0]
        return TrustNewtonState(jnp.asarray(jnp.inf, params.dtype), jnp.zeros_like(params),
                                jnp.zeros((d, d), params.dtype),
                                jnp.asarray(radius, params.dtype), jnp.zeros((), jnp.int32))

    def update(grads, state, params, *, value, value_fn, **extra_args):
        del extra_args
        first = state.count == 0
        # Before any Hessian is known: a scaled identity, i.e. steepest descent of length radius.
        hessian = jnp.where(first, jnp.eye(params.shape[0], dtype=params.dtype)
                            * jnp.linalg.norm(grads) / state.radius, state.hessian)
        step, predicted = _saddle_free_step(grads, hessian, state.radius, floor)
        proposal = params + step
        new_value, new_grad, new_hessian = value_grad_hessian(value_fn, proposal)
        decrease = value - new_value
        ratio = decrease / jnp.maximum(predicted, jnp.finfo(value.dtype).tiny)
        accepted = (jnp.isfinite(new_value) & jnp.all(jnp.isfinite(new_grad))
                    & (decrease > 0) & (ratio > accept))
        grow = accepted & (ratio > 0.75) & (jnp.linalg.norm(step) >= 0.9 * state.radius)
        shrink = ~accepted | (ratio < 0.25)
        new_radius = jnp.where(grow, 2.0 * state.radius,
                               jnp.where(shrink, 0.25 * state.radius, state.radius))
        pick = lambda new, old: jnp.where(accepted, new, old)
        new_state = TrustNewtonState(pick(new_value, value), pick(new_grad, grads),
                                     pick(new_hessian, hessian),
                                     jnp.minimum(new_radius, max_radius), state.count + 1)
        return pick(step, jnp.zeros_like(step)), new_state

    return optax.GradientTransformationExtraArgs(init, update)


# Levenberg–Marquardt for least-squares fits (`gl.fit`'s step), for multistart and basin maps.
from gradlab.levenberg_marquardt import levenberg_marquardt  # noqa: E402, F401
