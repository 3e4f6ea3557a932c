"""Models to fit and the losses that score them, and `fit_cost`, which joins them.

A model is any ``model(params, x) -> prediction`` written in ``jax.numpy``,
whose prediction has the shape of ``y``; a loss is ``loss(prediction, y) ->
scalar``. `fit_cost` turns a model, a loss and data into a `Cost` whose data
are traced, so refitting to new data of the same shape reuses compiled code.

A model may *declare* that it maps each ``x_i`` on its own (`pointwise`): the
built-in models do, and ``fit_cost(..., pointwise=True)`` says so for yours.
Grid search then walks the data point by point, several times faster; the
declaration is checked once, on a few rows of the data, the first time it is
used. Nothing is guessed: an undeclared model takes the general path.

Example:
  >>> import gradlab as gl
  >>> line = gl.fit_cost(gl.models.linear, gl.datasets.line(), bounds=[(-5, 5), (-5, 0)])
  >>> line.dim
  2
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import jax.numpy as jnp

from gradlab import stopping
from gradlab._checks import ModelShapeError, short
from gradlab.costs import Cost
from gradlab.datasets import as_data


def pointwise(model: Callable) -> Callable:
    """Declare that ``model(params, x)[i]`` depends on ``x[i]`` alone (a decorator).

    Returns ``model`` itself, marked; `fit_cost` reads the mark.
    """
    model.pointwise = True
    return model


# -- models -------------------------------------------------------------------
@pointwise
def linear(params, x):
    """``m·x + b`` with ``params = (m, b)``."""
    return params[0] * x + params[1]


@pointwise
def polynomial(params, x):
    """``p[0] + p[1]·x + ... + p[k]·x^k`` (ascending powers; degree = len(params) - 1)."""
    return jnp.polyval(params[::-1], x)


@pointwise
def sine(params, x):
    """``sin(w·x)`` with ``params = (w,)``."""
    return jnp.sin(params[0] * x)


# Models known to be linear in their parameters; `solve_exact` also detects others.
LINEAR_IN_PARAMS = frozenset({linear, polynomial})


# -- losses -------------------------------------------------------------------
def mse(prediction, y):
    """Mean squared error."""
    return jnp.mean((prediction - y) ** 2)


def mae(prediction, y):
    """Mean absolute error (not differentiable where a residual is zero)."""
    return jnp.mean(jnp.abs(prediction - y))


def huber(prediction, y, delta: float = 1.0):
    """Huber loss: quadratic for residuals under ``delta``, linear beyond."""
    r = jnp.abs(prediction - y)
    return jnp.mean(jnp.where(r <= delta, 0.5 * r**2, delta * (r - 0.5 * delta)))


# Losses that are a mean over the elements of ``prediction − y`` of a function of
# each residual alone: (value, first derivative, second derivative) of that function.
PER_ELEMENT = {
    mse: (lambda r: r * r, lambda r: 2.0 * r, lambda r: jnp.full_like(r, 2.0)),
    mae: (jnp.abs, jnp.sign, jnp.zeros_like),
}


def rounding(objective, x):
    """About how much rounding error a fit's cost holds at ``x`` (MSE and MAE fits), or None.

    Each residual is a difference of terms of the size of ``y`` and of the
    prediction, so the cost carries ``eps`` times those sizes: the decrease a
    step predicts below this cannot be told from rounding (`stopping.stationary`).
    """
    fn = getattr(objective, "fn", None)
    if not isinstance(fn, FitObjective) or fn.loss not in (mse, mae):
        return None
    y = objective.data.y
    r = (fn.model(x, objective.data.x) - y).ravel()
    size = jnp.abs(y).ravel() + jnp.abs(r)
    if fn.loss is mse:
        return stopping.rounding_of_squares(r, size) / r.shape[0]
    return stopping.rounding_of_abs(r, size) / r.shape[0]


@dataclasses.dataclass(frozen=True)
class FitObjective:
    """``loss(model(params, data.x), data.y)``: a hashable cost function.

    Two objectives with the same model, loss and declaration compare equal, so
    jitted solvers reuse their compiled code when only the data change. The
    prediction must have the shape of ``y`` (checked when traced: a loss would
    otherwise broadcast an ``(n, 1)`` prediction against ``(n,)`` data into an
    ``n × n`` table and fit the wrong thing).
    """

    model: Callable
    loss: Callable
    pointwise: bool = False

    def __call__(self, params, data):
        prediction = self.model(params, data.x)
        if jnp.shape(prediction) != jnp.shape(data.y):
            name = getattr(self.model, "__name__", "model")
            raise ModelShapeError(
                f"model {name!r} returned a prediction of shape {jnp.shape(prediction)} for "
                f"{len(params)} parameters, but y has shape {jnp.shape(data.y)}: return one "
                "prediction per element of y (reshape or squeeze inside the model)"
            )
        return self.loss(prediction, data.y)


def fit_cost(model: Callable, data, *, loss: Callable = mse, bounds=None, name: str | None = None,
             grad: Callable | None = None, minima=(), names=None, tags=(),
             description: str = "", pointwise: bool | None = None) -> Cost:
    """The cost of fitting ``model`` to ``data`` under ``loss`` (MSE by default).

    Args:
      model: ``model(params, x) -> prediction``.
      data: a `gradlab.Data` or an ``(x, y)`` pair of equal-length arrays.
      loss: ``loss(prediction, y) -> scalar``.
      bounds, grad, minima, names, tags, description: as in `Cost`
        (``grad`` is called as ``grad(params, data)``).
      name: defaults to ``"fit-<model name>"``.
      pointwise: declare that the model maps each ``x_i`` on its own (default:
        the model's own declaration, see `pointwise`; False for an undeclared model).

    Returns:
      A `Cost` whose ``fn`` is a `FitObjective` and whose ``data`` is a `Data`.
    """
    if not callable(model):
        raise TypeError(f"model must be callable as model(params, x); got {short(model)}")
    if not callable(loss):
        raise TypeError(f"loss must be callable as loss(prediction, y); got {short(loss)}")
    if pointwise is None:
        pointwise = getattr(model, "pointwise", False) is True
    elif not isinstance(pointwise, bool):
        raise TypeError(f"pointwise must be True, False or None; got {short(pointwise)}")
    data = as_data(data)
    if name is None:
        name = "fit-" + getattr(model, "__name__", "model").strip("<>")
    return Cost(name=name, fn=FitObjective(model, loss, pointwise), bounds=bounds, grad=grad,
                minima=minima, names=names, tags=tags, data=data, description=description)
