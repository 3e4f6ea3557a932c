"""Value, gradient and Hessian of a cost, with a fast path for fitted costs.

`value_and_grad` and `value_grad_hessian` are what the solvers call. For most
costs they are `jax.value_and_grad` and a forward-over-reverse Hessian. For a
*pointwise fit* — a cost made by `gradlab.fit_cost` with the MSE or MAE loss
whose model maps each ``x_i`` on its own (`pointwise_fit`, checked once per
model) — they use the cost's structure, a mean over data points of
``term(model(params, x_i), y_i)``, where XLA:CPU cannot see it: the per-point
value, gradient and Hessian terms are summed in *one* variadic reduction.
Differentiating the whole cost instead gives one reduction per output, and
XLA:CPU recomputes the model inside each of them (the ``sin`` of the course's
sine fit: three sines and a cosine per data point instead of one of each, about
3× slower on 1,000 starts in float64).

The fast path agrees with plain autodiff to roundoff (the sums run in another
order) and is used up to `FUSED_MAX_DIM` parameters.

Example:
  >>> import jax, jax.numpy as jnp, gradlab as gl
  >>> from gradlab import derivatives
  >>> sine = gl.get_cost("sine")
  >>> derivatives.pointwise_fit(sine)
  True
  >>> f, g, h = derivatives.value_grad_hessian(sine, jnp.array([9.0]))
  >>> bool(jnp.allclose(h, jax.hessian(sine)(jnp.array([9.0]))))
  True
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from gradlab import models

# Losses that are a mean over data points of a per-point term.
POINTWISE_LOSSES = {
    models.mse: lambda prediction, y: (prediction - y) ** 2,
    models.mae: lambda prediction, y: jnp.abs(prediction - y),
}

# One reduction carries 1 + d + d(d+1)/2 sums; past this many parameters the
# generic derivatives are used.
FUSED_MAX_DIM = 8


def pointwise_fit(cost) -> bool:
    """Whether ``cost`` is an MSE/MAE fit whose model maps each ``x_i`` alone.

    Decided once per (model, row shape, dtype) on synthetic rows, so asking again
    is a dictionary lookup that never reads the (possibly traced) data.
    """
    fn = getattr(cost, "fn", None)
    if not (isinstance(fn, models.FitObjective) and fn.loss in POINTWISE_LOSSES):
        return False
    x = cost.data.x
    return _elementwise_model(fn.model, tuple(x.shape[1:]), np.dtype(x.dtype))


@functools.lru_cache(maxsize=256)
def _elementwise_model(model, row_shape: tuple, dtype) -> bool:
    # asked while a solver is being traced: run the check eagerly, outside that trace
    with jax.ensure_compile_time_eval():
        return _maps_rows_alone(model, row_shape, dtype)


def _maps_rows_alone(model, row_shape: tuple, dtype) -> bool:
    size = int(np.prod(row_shape, dtype=int))
    # distinct rows, so a model that mixes them (normalises by x.mean(), ...) fails
    rows = jnp.asarray(np.linspace(0.35, 1.7, 3 * size).reshape(3, *row_shape), dtype)
    dim = None
    for d in range(1, 33):  # the parameter count is unknown here: find one that traces
        try:
            jax.eval_shape(model, jnp.zeros(d, dtype), rows)
            dim = d
            break
        except Exception:  # the wrong parameter count for this model: try the next
            continue
    if dim is None:
        return False
    p = jnp.linspace(0.3, 0.9, dim, dtype=dtype)
    try:
        together = model(p, rows)
        apart = jnp.stack([model(p, row) for row in rows])
    except Exception:
        return False
    return together.shape == apart.shape and bool(jnp.allclose(together, apart, rtol=1e-6))


def point_term(cost):
    """``term(params, x_i, y_i)``: the loss of one data point of a pointwise fit."""
    term = POINTWISE_LOSSES[cost.fn.loss]
    model = cost.fn.model
    return lambda params, xi, yi: term(model(params, xi), yi)


def _jvp_value_grad_hessian(fn, x):
    # A JVP of value_and_grad per axis. The primal and the gradient do not depend on
    # the tangent, so under the vmap over axes they are computed once.
    value_and_grad = jax.value_and_grad(fn)

    def along(tangent):
        (value, grad), (_, hessian_column) = jax.jvp(value_and_grad, (x,), (tangent,))
        return value, grad, hessian_column

    eye = jnp.eye(x.shape[0], dtype=x.dtype)
    return jax.vmap(along, out_axes=(None, None, 0))(eye)  # symmetric: columns are rows


def _sum_together(columns):
    """Sums of equal-length 1-D arrays in one variadic reduction (one pass over the data)."""
    zeros = tuple(jnp.zeros((), c.dtype) for c in columns)
    add = lambda a, b: tuple(u + v for u, v in zip(a, b, strict=True))
    return jax.lax.reduce(tuple(columns), zeros, add, (0,))


def _fused(cost, params) -> bool:
    return params.shape[0] <= FUSED_MAX_DIM and pointwise_fit(cost)


def value_and_grad(cost, params):
    """``(f(x), ∇f(x))``; one pass over the data for a pointwise fit."""
    if not _fused(cost, params):
        return jax.value_and_grad(cost)(params)
    x, y = cost.data
    d = params.shape[0]
    values, grads = jax.vmap(jax.value_and_grad(point_term(cost)),
                             in_axes=(None, 0, 0))(params, x, y)
    sums = _sum_together([values] + [grads[:, i] for i in range(d)])
    n = y.shape[0]
    return sums[0] / n, jnp.stack(sums[1:]) / n


def value_grad_hessian(cost, params):
    """``(f(x), ∇f(x), ∇²f(x))``; one pass over the data for a pointwise fit.

    For other costs: forward-over-reverse, one JVP of ``value_and_grad`` per
    axis, sharing the cost's expensive parts between value, gradient and Hessian.
    """
    if not _fused(cost, params):
        return _jvp_value_grad_hessian(cost, params)
    x, y = cost.data
    d = params.shape[0]
    term = point_term(cost)
    values, grads, hessians = jax.vmap(
        lambda xi, yi: _jvp_value_grad_hessian(lambda p: term(p, xi, yi), params))(x, y)
    upper = [(i, j) for i in range(d) for j in range(i, d)]
    sums = _sum_together([values] + [grads[:, i] for i in range(d)]
                         + [hessians[:, i, j] for i, j in upper])
    n = y.shape[0]
    rows, cols = np.asarray(upper).T
    triangle = jnp.zeros((d, d), params.dtype).at[rows, cols].set(jnp.stack(sums[1 + d:]) / n)
    hessian = triangle + jnp.triu(triangle, 1).T
    return sums[0] / n, jnp.stack(sums[1:1 + d]) / n, hessian
