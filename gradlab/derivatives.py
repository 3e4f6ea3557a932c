"""Value, gradient and Hessian of a cost, in one pass over the data for a fit.

`value_and_grad` and `value_grad_hessian` are what the solvers call. For most
costs they are `jax.value_and_grad`, with the sums over the data that its
program takes merged into one pass (`gradlab._onepass`: a plain function gets
what a fit is given below, without being told its structure), and a
forward-over-reverse Hessian. For a
cost made by `gradlab.fit_cost` with a per-element loss (MSE or MAE: a mean
over the elements of ``prediction − y`` of a function ``ℓ`` of each residual
alone, `models.PER_ELEMENT`), they use that declared structure: the model's
prediction, its Jacobian ``J`` and (for the Hessian) its second derivatives
``M`` come from forward mode in one evaluation of the model, and

    f = mean ℓ(r),   ∇f = mean ℓ'(r)·J,   ∇²f = mean ℓ''(r)·JJᵀ + ℓ'(r)·M

are summed in *one* variadic reduction. Differentiating the whole cost
instead gives one reduction per output, and XLA:CPU recomputes the model
inside each of them (the ``sin`` of the course's sine fit: three sines and a
cosine per data point instead of one of each, about 3× slower on 1,000 starts).
Any model qualifies — it need not map data points one by one — and any
shape of ``y``. The one-pass sums agree with plain autodiff to roundoff (they
run in another order) and are used up to `FUSED_MAX_DIM` parameters.

`pointwise_fit` answers a separate question, for grid search: whether the fit's
model was *declared* to map each ``x_i`` alone (`models.pointwise`);
`check_pointwise` verifies such a declaration once, on a few rows of data.

Example:
  >>> import jax, jax.numpy as jnp, gradlab as gl
  >>> from gradlab import derivatives
  >>> sine = gl.get_cost("sine")
  >>> f, g, h = derivatives.value_grad_hessian(sine, jnp.array([9.0]))
  >>> bool(jnp.allclose(h, jax.hessian(sine)(jnp.array([9.0])), rtol=1e-4))
  True
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from gradlab import _onepass, _static, models

# One reduction carries 1 + d + d(d+1)/2 sums; past this many parameters the
# generic derivatives are used.
FUSED_MAX_DIM = 8


def per_element_fit(cost) -> bool:
    """Whether ``cost`` is a `fit_cost` whose loss is a mean of a function of each residual."""
    fn = getattr(cost, "fn", None)
    return isinstance(fn, models.FitObjective) and fn.loss in models.PER_ELEMENT


def pointwise_fit(cost) -> bool:
    """Whether ``cost`` is a per-element fit whose model was declared pointwise."""
    return per_element_fit(cost) and cost.fn.pointwise


def check_pointwise(cost, dim: int, dtype) -> None:
    """Verify a pointwise declaration on a few rows; a `ValueError` if it is false.

    Checked once per (model, parameter count, row shape, dtype), on distinct
    synthetic rows (reading the data would cost a transfer per call): the model
    applied to the rows together must equal it applied to each row alone.
    """
    _check_pointwise(_static.Keyed(cost.fn.model), dim, tuple(cost.data.x.shape[1:]),
                     np.dtype(dtype))


@functools.partial(jax.jit, static_argnums=0)
def _predictions(model, params, rows):
    """The model on all ``rows`` at once, and on each row alone: one program (eagerly, each
    operation was a program of its own, read back from the cache on every run)."""
    return model(params, rows), jnp.stack([model(params, row) for row in rows])


@functools.lru_cache(maxsize=256)  # the model as `gradlab._static` keys it
def _check_pointwise(keyed, dim, row_shape, dtype):
    model = keyed.value
    size = int(np.prod(row_shape, dtype=int))
    rows = np.linspace(0.35, 1.7, 4 * size).reshape(4, *row_shape).astype(dtype)
    params = np.linspace(0.3, 0.9, dim).astype(dtype)
    with jax.ensure_compile_time_eval():  # computed now, even when called inside a trace
        together, apart = (np.asarray(a) for a in _predictions(model, params, rows))
    same = together.shape == apart.shape and bool(
        np.allclose(together, apart, rtol=1e3 * np.finfo(dtype).eps))
    if not same:
        name = getattr(model, "__name__", "model")
        raise ValueError(
            f"model {name!r} is declared pointwise, but its prediction for several rows of x "
            "differs from its predictions for each row alone: remove pointwise=True (or the "
            "models.pointwise mark) for a model that mixes data points"
        )


def point_term(cost):
    """``term(params, x_i, y_i)``: the loss summed over one data point of a pointwise fit.

    The cost is the sum of these terms over the data divided by ``y.size``.
    """
    value = models.PER_ELEMENT[cost.fn.loss][0]
    model = cost.fn.model
    return lambda params, xi, yi: jnp.sum(value(model(params, xi) - yi))


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
    """Sums of equal-length 1-D arrays in one variadic reduction (one pass over the data),
    long ones in blocks (`_onepass.tree_sums`: one run lost 1.4e-4 of a 10⁶-point float32
    fit's cost)."""
    return _onepass.tree_sums(list(columns), (0,))


def _fused(cost, params) -> bool:
    return params.shape[0] <= FUSED_MAX_DIM and per_element_fit(cost)


def _residuals_and_jacobian(cost, params):
    """``r = model(params, x) − y`` flattened ``(N,)``, and its Jacobian rows ``(d, N)``."""
    x, y = cost.data
    predict = lambda p: cost.fn.model(p, x)
    eye = jnp.eye(params.shape[0], dtype=params.dtype)
    prediction, jac = jax.vmap(lambda t: jax.jvp(predict, (params,), (t,)),
                               out_axes=(None, 0))(eye)
    return (prediction - y).ravel(), jac.reshape(params.shape[0], -1)


def value_and_grad(cost, params):
    """``(f(x), ∇f(x))``: one pass over the data for a per-element fit; for other costs,
    the sums autodiff takes merged (`gradlab._onepass`)."""
    if not _fused(cost, params):
        return _onepass.value_and_grad(cost, params)
    value, slope, _ = models.PER_ELEMENT[cost.fn.loss]
    r, jac = _residuals_and_jacobian(cost, params)
    slopes = slope(r)
    sums = _sum_together([value(r)] + [slopes * row for row in jac])
    return sums[0] / r.shape[0], jnp.stack(sums[1:]) / r.shape[0]


def value_grad_hessian(cost, params):
    """``(f(x), ∇f(x), ∇²f(x))``; one pass over the data for a per-element fit.

    For other costs: forward-over-reverse, one JVP of ``value_and_grad`` per
    axis, sharing the cost's expensive parts between value, gradient and Hessian.
    """
    if not _fused(cost, params):
        return _jvp_value_grad_hessian(cost, params)
    x = cost.data.x
    d = params.shape[0]
    value, slope, curve = models.PER_ELEMENT[cost.fn.loss]
    r, jac = _residuals_and_jacobian(cost, params)
    rows, cols = np.triu_indices(d)
    eye = jnp.eye(d, dtype=params.dtype)
    predict = lambda p: cost.fn.model(p, x)

    def second(t1, t2):  # the model's second derivative along (t1, t2)
        return jax.jvp(lambda p: jax.jvp(predict, (p,), (t1,))[1], (params,), (t2,))[1]

    curvature = jax.vmap(second)(eye[rows], eye[cols]).reshape(len(rows), -1)
    slopes, curves = slope(r), curve(r)
    sums = _sum_together([value(r)] + [slopes * row for row in jac]
                         + [curves * jac[i] * jac[j] + slopes * curvature[k]
                            for k, (i, j) in enumerate(zip(rows, cols))])
    n = r.shape[0]
    triangle = jnp.zeros((d, d), params.dtype).at[rows, cols].set(jnp.stack(sums[1 + d:]) / n)
    hessian = triangle + jnp.triu(triangle, 1).T
    return sums[0] / n, jnp.stack(sums[1:1 + d]) / n, hessian
