"""Curves to fit to measured data, each with a starting point computed from the data.

A `Curve` is a model ``model(params, x) -> y`` written in ``jax.numpy`` (the
signature `gradlab.fit_cost` takes), its parameter names, its formula, and
optionally ``p0(x, y)``: a function of the data (NumPy arrays, sorted by
``x``) that returns a starting point good enough for `gradlab.fit` to converge.
The built-in curves (`CURVES`, and ``polyK`` for degrees 1 to `MAX_DEGREE`)
are what ``gradlab fit --model NAME`` offers; a user's module may define a
`Curve` of its own and pass it as ``--model module:attribute``.

How each built-in start is found (all in float64 NumPy, on at most
`START_POINTS` points of the data, evenly taken in the order of ``x``):

* ``linear``, ``polyK``: the least-squares solution itself (on centred and
  scaled ``x``, then converted back to powers of ``x``).
* ``exp``, ``gaussian``, ``gaussian0``, ``logistic``, ``sine``: the model is
  linear in its amplitude and offset once its shape parameters are fixed
  (``k``; ``mu`` and ``sigma``; ``xmid`` and ``k``; ``w``), so the shape
  parameters are searched on a grid spanning the data's range and, at each,
  the amplitude and offset are solved exactly (variable projection); a finer
  grid around the best point follows. For ``sine`` this is the least-squares
  periodogram (Lomb–Scargle), which, unlike an FFT, does not need evenly
  spaced ``x``.
* ``power``: a straight line through ``(log x, log |y|)``, then ``a`` solved
  exactly for that ``b``. It needs ``x > 0`` (`Curve.positive_x`).

Some curves describe the same function with several parameter values (a
Gaussian's ``sigma`` and ``−sigma``; a sine's phase modulo 2π; a logistic
step's ``(a, k, c)`` and ``(−a, −k, c + a)``): `Curve.tidy` maps a fit to one
canonical form (``sigma > 0``; ``a > 0``, ``w > 0``, ``−π < phi ≤ π``;
``k > 0``, so the sign of ``a`` says whether the step rises or falls), and
`tidy_fit` carries the covariance along.

Example:
  >>> import numpy as np
  >>> from gradlab import curves
  >>> x = np.linspace(0.0, 5.0, 50)
  >>> c = curves.get_curve("exp")
  >>> [round(float(v), 1) for v in c.start(x, 3.0 * np.exp(-0.7 * x) + 1.0)]
  [3.0, 0.7, 1.0]
"""

from __future__ import annotations

import dataclasses
import re
import warnings
from collections.abc import Callable

import jax.numpy as jnp
import numpy as np

from gradlab import models
from gradlab.models import pointwise

START_POINTS = 2048  # the most points a starting point is computed from
MAX_DEGREE = 10  # polyK: beyond, powers of x are too ill-conditioned to be worth fitting


@dataclasses.dataclass(frozen=True)
class Curve:
    """A model to fit to ``(x, y)`` data, with what a fit needs to know about it.

    Attributes:
      name: how it is called (``gradlab fit --model NAME``).
      model: ``model(params, x) -> y``, in ``jax.numpy``; ``params`` is 1-D.
      names: one name per parameter (fixes the number of parameters).
      formula: the model in words, e.g. ``"y = a·exp(−k·x) + c"``.
      p0: optional ``p0(x, y) -> sequence of len(names) floats``: a starting
        point computed from the data (NumPy float64 arrays, sorted by ``x``).
        Without it a fit needs a start given by hand (``--p0``).
      tidy: optional ``tidy(params) -> (T, shift)``: where several parameter
        values describe the same curve, the canonical ones are ``T·params +
        shift``, with ``T`` an invertible matrix, or a vector of ±1 for a
        diagonal one (`tidy_fit` carries the covariance along: ``T·cov·Tᵀ``).
      positive_x: the model is defined only for ``x > 0`` (``x**b``).
    """

    name: str
    model: Callable
    names: tuple
    formula: str = ""
    p0: Callable | None = None
    tidy: Callable | None = None
    positive_x: bool = False

    def __post_init__(self):
        if not callable(self.model):
            raise TypeError(f"Curve {self.name!r}: model must be callable as model(params, x)")
        names = tuple(self.names)
        if not names or not all(isinstance(n, str) and n for n in names):
            raise TypeError(f"Curve {self.name!r}: names must be a non-empty sequence of "
                            f"non-empty strings; got {self.names!r}")
        if len(set(names)) != len(names):
            raise ValueError(f"Curve {self.name!r}: names must be distinct; got {names}")
        object.__setattr__(self, "names", names)
        for field in ("p0", "tidy"):
            if getattr(self, field) is not None and not callable(getattr(self, field)):
                raise TypeError(f"Curve {self.name!r}: {field} must be callable or None")

    @property
    def dim(self) -> int:
        return len(self.names)

    def start(self, x, y) -> np.ndarray:
        """``p0`` on (a subsample of) the data, sorted by ``x``; checked to be ``(dim,)`` finite.

        Raises ValueError if the curve has no ``p0`` or it returns something else.
        """
        if self.p0 is None:
            raise ValueError(f"curve {self.name!r} has no starting-point function p0(x, y)")
        x, y = _sample(np.asarray(x, np.float64), np.asarray(y, np.float64))
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # np.polyfit's RankWarning and the like
            p = np.asarray(self.p0(x, y), dtype=np.float64).ravel()
        if p.shape != (self.dim,):
            raise ValueError(f"curve {self.name!r}: p0(x, y) returned {p.size} values; "
                             f"it has {self.dim} parameters {self.names}")
        if not np.all(np.isfinite(p)):
            raise ValueError(f"curve {self.name!r}: p0(x, y) returned a non-finite start "
                             f"{p.tolist()}")
        return p


def _sample(x, y):
    order = np.argsort(x, kind="stable")
    if x.size > START_POINTS:
        order = order[np.linspace(0, x.size - 1, START_POINTS).round().astype(int)]
    return x[order], y[order]


def tidy_fit(curve: Curve, fit):
    """``fit`` with its parameters in ``curve.tidy``'s canonical form, covariance and
    Jacobian carried along; ``fit`` itself when the curve has no ``tidy``."""
    if curve.tidy is None:
        return fit
    x = np.asarray(fit.x)
    t, shift = (np.asarray(a, np.float64) for a in curve.tidy(np.asarray(x, np.float64)))
    t = np.diag(t) if t.ndim == 1 else t
    if np.array_equal(t, np.eye(x.size)) and not np.any(shift):
        return fit
    cov = np.asarray(fit.cov, np.float64)
    with np.errstate(invalid="ignore"):  # inf·0 in an unidentifiable fit's covariance stays inf
        cov = np.where(np.isfinite(cov), t @ np.where(np.isfinite(cov), cov, 0) @ t.T, cov)
    dtype = x.dtype
    return dataclasses.replace(fit, x=np.asarray(t @ x + shift, dtype),
                               cov=np.asarray(cov, dtype),
                               jac=np.asarray(np.asarray(fit.jac) @ np.linalg.inv(t), dtype))


# -- the models (module-level functions: refitting reuses their compiled code) ---------------
@pointwise
def exp_decay(params, x):
    """``a·exp(−k·x) + c``."""
    a, k, c = params[0], params[1], params[2]
    return a * jnp.exp(-k * x) + c


@pointwise
def gaussian(params, x):
    """``a·exp(−(x − mu)²/(2·sigma²)) + c``."""
    a, mu, sigma, c = params[0], params[1], params[2], params[3]
    return a * jnp.exp(-0.5 * ((x - mu) / sigma) ** 2) + c


@pointwise
def gaussian0(params, x):
    """``a·exp(−(x − mu)²/(2·sigma²))``."""
    a, mu, sigma = params[0], params[1], params[2]
    return a * jnp.exp(-0.5 * ((x - mu) / sigma) ** 2)


@pointwise
def logistic(params, x):
    """``a / (1 + exp(−k·(x − xmid))) + c``."""
    a, k, xmid, c = params[0], params[1], params[2], params[3]
    return a * (0.5 + 0.5 * jnp.tanh(0.5 * k * (x - xmid))) + c  # no overflow for large |k·x|


@pointwise
def sine(params, x):
    """``a·sin(w·x + phi) + c``."""
    a, w, phi, c = params[0], params[1], params[2], params[3]
    return a * jnp.sin(w * x + phi) + c


@pointwise
def power(params, x):
    """``a·x**b`` (x > 0)."""
    return params[0] * x ** params[1]


# -- starting points -----------------------------------------------------------------------------
def _span(x):
    span = float(x[-1] - x[0])
    return span if span > 0 else 1.0


def _project(basis, y):
    """For candidate bases ``(k, n, m)`` (a generator of chunks), the exact least-squares
    coefficients ``(k, m)`` and residual sums of squares ``(k,)``."""
    coefs, rss = [], []
    for b in basis:
        gram = np.einsum("kni,knj->kij", b, b)
        rhs = np.einsum("kni,n->ki", b, y)
        ridge = 1e-12 * np.trace(gram, axis1=1, axis2=2)[:, None, None] + 1e-300
        c = np.linalg.solve(gram + ridge * np.eye(b.shape[2]), rhs[..., None])[..., 0]
        coefs.append(c)
        rss.append(np.sum((y - np.einsum("knm,km->kn", b, c)) ** 2, axis=1))
    coefs, rss = np.concatenate(coefs), np.concatenate(rss)
    rss = np.where(np.isfinite(rss), rss, np.inf)
    return coefs, rss


def _search(make_basis, grids, y, *, refine=2, chunk=64):
    """Variable projection: the best of ``grids`` (a list of 1-D arrays, one per shape
    parameter), refined ``refine`` times on a finer grid around it; returns (shape, coefs)."""
    def best(points):
        chunks = (make_basis(points[i:i + chunk]) for i in range(0, len(points), chunk))
        coefs, rss = _project(chunks, y)
        i = int(np.argmin(rss))
        return points[i], coefs[i]

    points = np.stack(np.meshgrid(*grids, indexing="ij"), -1).reshape(-1, len(grids))
    shape, coefs = best(points)
    steps = [np.max(np.diff(np.sort(g))) if len(g) > 1 else 0.0 for g in grids]
    for _ in range(refine):
        fine = [s + np.linspace(-h, h, 11) for s, h in zip(shape, steps)]
        candidates = np.stack(np.meshgrid(*fine, indexing="ij"), -1).reshape(-1, len(grids))
        shape, coefs = best(np.concatenate([shape[None], candidates]))
        steps = [h / 5 for h in steps]
    return shape, coefs


def _poly_start(degree):
    def p0(x, y):
        coef = np.polynomial.Polynomial.fit(x, y, degree).convert().coef
        return np.pad(coef, (0, degree + 1 - coef.size))
    return p0


def _linear_start(x, y):
    return _poly_start(1)(x, y)[::-1]  # (m, b)


def _exp_start(x, y):
    s, x0, x1 = _span(x), x[0], x[-1]
    rates = np.geomspace(0.05, 200.0, 48) / s
    rates = np.concatenate([-rates[::-1], rates])

    def basis(ks):  # exp(−k·(x − x_ref)) ≤ 1 on the data: x_ref the end where it is largest
        ref = np.where(ks[:, 0] > 0, x0, x1)
        e = np.exp(-ks[:, 0, None] * (x[None] - ref[:, None]))
        return np.stack([e, np.ones_like(e)], -1)

    (k,), (a, c) = _search(basis, [rates], y)
    ref = x0 if k > 0 else x1
    return [a * np.exp(k * ref), k, c]


def _gaussian_start(with_offset):
    def p0(x, y):
        s = _span(x)
        centre = np.median(y) if with_offset else 0.0
        peaks = x[np.argsort(-np.abs(y - centre))[:5]]  # where the peak (or dip) probably is
        mus = np.unique(np.concatenate([np.linspace(x[0], x[-1], 48), peaks]))
        widths = np.geomspace(s / 1000, 2 * s, 40)

        def basis(ps):
            g = np.exp(-0.5 * ((x[None] - ps[:, 0, None]) / ps[:, 1, None]) ** 2)
            return np.stack([g, np.ones_like(g)], -1) if with_offset else g[..., None]

        (mu, sigma), coefs = _search(basis, [mus, widths], y)
        return [coefs[0], mu, abs(sigma)] + ([coefs[1]] if with_offset else [])
    return p0


def _logistic_start(x, y):
    s = _span(x)
    rates = np.geomspace(0.5, 1000.0, 24) / s
    mids = np.linspace(x[0], x[-1], 48)

    def basis(ps):
        f = 0.5 + 0.5 * np.tanh(0.5 * ps[:, 1, None] * (x[None] - ps[:, 0, None]))
        return np.stack([f, np.ones_like(f)], -1)

    (xmid, k), (a, c) = _search(basis, [mids, rates], y)
    return [a, k, xmid, c]


def _sine_start(x, y):
    s = _span(x)
    centre = 0.5 * (x[0] + x[-1])
    steps = np.diff(x)
    dx = np.median(steps[steps > 0]) if np.any(steps > 0) else s
    top = min(0.5 / dx, 4000 / s)  # (pseudo-)Nyquist, at most 4000 cycles over the range
    freqs = np.arange(0.2 / s, top + 0.2 / s, 0.2 / s)  # cycles per unit of x, 5× oversampled
    t = x - centre

    def basis(ws):
        arg = ws[:, 0, None] * t[None]
        return np.stack([np.sin(arg), np.cos(arg), np.ones_like(arg)], -1)

    (w,), (sa, ca, c) = _search(basis, [2 * np.pi * freqs], y)
    # sa·sin(w·t) + ca·cos(w·t) = a·sin(w·t + phase), and w·t = w·x − w·centre
    return [np.hypot(sa, ca), w, np.arctan2(ca, sa) - w * centre, c]


def _power_start(x, y):
    if np.any(x <= 0):
        raise ValueError("power needs x > 0")
    sign = 1.0 if np.sum(y > 0) >= np.sum(y < 0) else -1.0
    keep = sign * y > 0
    b = 0.0
    if np.sum(keep) >= 2 and np.ptp(np.log(x[keep])) > 0:
        b = np.polyfit(np.log(x[keep]), np.log(sign * y[keep]), 1)[0]
    xb = x ** b
    return [np.dot(xb, y) / np.dot(xb, xb), b]


# -- canonical forms -----------------------------------------------------------------------------
def _tidy_gaussian(p):
    signs = np.ones_like(p)
    signs[2] = -1.0 if p[2] < 0 else 1.0  # sigma enters squared
    return signs, np.zeros_like(p)


def _tidy_logistic(p):
    """k > 0: a/(1 + exp(−k·u)) + c = −a/(1 + exp(k·u)) + (c + a)."""
    if p[1] >= 0:
        return np.ones_like(p), np.zeros_like(p)
    t = np.diag([-1.0, -1.0, 1.0, 1.0])
    t[3, 0] = 1.0
    return t, np.zeros_like(p)


def _tidy_sine(p):
    """a > 0, w > 0, −π < phi ≤ π: sin(−w·x + phi) = −sin(w·x − phi) = sin(w·x − phi + π)."""
    a, w, phi, _ = p
    signs, shift = np.ones_like(p), np.zeros_like(p)
    if w < 0:
        signs[[0, 1, 2]] = -1.0
        a, phi = -a, -phi
    if a < 0:
        signs[0] *= -1.0
        shift[2] += np.pi
        phi = phi + np.pi
    shift[2] += -2 * np.pi * np.ceil((phi - np.pi) / (2 * np.pi))  # into (−π, π]
    return signs, shift


# -- the built-in curves -------------------------------------------------------------------------
CURVES = {c.name: c for c in (
    Curve("linear", models.linear, ("m", "b"), "y = m·x + b", _linear_start),
    Curve("exp", exp_decay, ("a", "k", "c"), "y = a·exp(−k·x) + c", _exp_start),
    Curve("gaussian", gaussian, ("a", "mu", "sigma", "c"),
          "y = a·exp(−(x − mu)²/(2·sigma²)) + c", _gaussian_start(True), _tidy_gaussian),
    Curve("gaussian0", gaussian0, ("a", "mu", "sigma"), "y = a·exp(−(x − mu)²/(2·sigma²))",
          _gaussian_start(False), _tidy_gaussian),
    Curve("logistic", logistic, ("a", "k", "xmid", "c"), "y = a/(1 + exp(−k·(x − xmid))) + c",
          _logistic_start, _tidy_logistic),
    Curve("sine", sine, ("a", "w", "phi", "c"), "y = a·sin(w·x + phi) + c", _sine_start,
          _tidy_sine),
    Curve("power", power, ("a", "b"), "y = a·x^b", _power_start, positive_x=True),
)}
_POLY = re.compile(r"poly(\d+)")


def polynomial(degree: int) -> Curve:
    """``y = c0 + c1·x + ... + cK·x^K``, of degree 1 to `MAX_DEGREE`."""
    if not 1 <= degree <= MAX_DEGREE:
        raise ValueError(f"a polynomial's degree must be from 1 to {MAX_DEGREE}; got {degree}")
    terms = ["c0", "c1·x"] + [f"c{i}·x^{i}" for i in range(2, degree + 1)]
    return Curve(f"poly{degree}", models.polynomial, tuple(f"c{i}" for i in range(degree + 1)),
                 "y = " + " + ".join(terms), _poly_start(degree))


def names() -> list[str]:
    """The built-in curves' names (``polyK`` stands for poly1 to poly10)."""
    return [*CURVES, "polyK"]


def get_curve(name: str) -> Curve:
    """A built-in curve by name: one of `CURVES`, or ``polyK`` (K from 1 to `MAX_DEGREE`)."""
    if name in CURVES:
        return CURVES[name]
    match = _POLY.fullmatch(name)
    if match:
        return polynomial(int(match.group(1)))
    raise ValueError(f"unknown curve {name!r}; built-in curves: {', '.join(names())} "
                     f"(K from 1 to {MAX_DEGREE})")
