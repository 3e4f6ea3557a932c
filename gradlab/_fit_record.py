"""`Fit`, the record `gradlab.fit` returns, and the statistics of a solution that fill it.

A `Fit` holds what the fit computed (``x``, ``status``, ``nit``, the
residuals, their Jacobian, ``rss``, ``cov``, ``stderr``, ``correlation``,
``rank``, ``at_bound``) and derives the rest when read, in scipy's vocabulary.
`statistics` makes one from a `gradlab.leastsq.Solution`:

* ``rss = Σ rᵢ²``, ``dof = N − d``, ``residual_sd = sqrt(rss/dof)``;
* ``cov = s²·(JᵀJ)⁻¹`` with ``s² = rss/dof`` (``absolute_sigma=False``, as
  ``scipy.optimize.curve_fit``: ``σ`` are relative weights, the scatter of
  the residuals sets the scale), or ``cov = (JᵀJ)⁻¹`` (``absolute_sigma=True``:
  ``σ`` are the data's standard deviations); computed from the SVD of the
  weighted, column-scaled Jacobian ``J·D⁻¹`` (through its QR), never by
  inverting ``JᵀJ``. A Jacobian of rank below the number of free parameters
  (singular values of ``J·D⁻¹`` under ``8·d·eps·σ₁``) makes ``cov`` and
  ``stderr`` inf and says so in ``message``; so does ``dof ≤ 0`` when the
  scale comes from the residuals;
* ``stderr = sqrt(diag cov)``, ``correlation = cov/(stderrᵢ·stderrⱼ)``, and
  `Fit.conf_int` (Student's t with ``dof`` degrees of freedom).

With ``bounds``, a parameter that ends held at a bound by a gradient
pointing out of the box is not a free estimate: its row and column of
``cov`` are NaN (undefined), and the others' are conditional on it being
fixed there (the free columns of ``J``); ``message`` names it.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from gradlab import _i18n, _lm_algebra, leastsq, stopping
from gradlab._checks import is_traced, short
from gradlab._tdist import t_quantile
from gradlab.result import Status, record, status_message


@record
class Fit:
    """The outcome of `fit`; under a batch every field gains a leading axis.

    The record holds what the fit computed; the quantities derived from it
    (``fun``, ``success``, ``nfev``, ``njev``, ``dof``, ``residual_sd``,
    ``stderr``, ``correlation``, ``message``) are properties, computed when read
    (as NumPy arrays, or as JAX arrays inside a trace).

    Attributes:
      x: ``(d,)`` the estimate (the last accepted point).
      status: ``()`` a `gradlab.Status` code.
      nit: ``()`` Levenberg–Marquardt trials (accepted or refused).
      residuals: ``(N,)`` ``(model(x, X) − Y)/σ`` at ``x``, flattened (``σ = 1``
        without ``sigma``).
      jac: ``(N, d)`` their Jacobian.
      rss: ``()`` ``Σ residuals²`` (χ² with ``sigma``).
      cov: ``(d, d)`` the covariance of the estimate (see the module docstring):
        NaN when the fit ended on NaN/inf.
      rank: ``()`` the numerical rank of the free columns of ``jac``.
      at_bound: ``(d,)`` parameters held at a bound (all False without bounds).
      fun: ``()`` ``rss/N``: the cost's own value (the MSE) when ``sigma`` is None.
      success: ``()`` ``status == CONVERGED``: ``x`` is stationary at the problem's scale.
      nfev, njev: ``()`` residual and Jacobian evaluations (``nit + 1`` each: they
        are evaluated together).
      dof: ``N − d`` (a Python int).
      residual_sd: ``()`` ``sqrt(rss/dof)`` (NaN when ``dof ≤ 0``), from the residuals.
      stderr: ``(d,)`` ``sqrt(diag cov)``, computed without squaring: errors of
        1e-200 are right even where ``cov`` (1e-400) underflows to 0.
      correlation: ``(d, d)`` ``cov`` scaled to unit diagonal.
    """

    x: jax.Array
    status: jax.Array
    nit: jax.Array
    residuals: jax.Array
    jac: jax.Array
    rss: jax.Array
    cov: jax.Array
    stderr: jax.Array
    correlation: jax.Array
    rank: jax.Array
    at_bound: jax.Array

    @property
    def fun(self):
        return _host(self.rss) / self.residuals.shape[-1]

    @property
    def success(self):
        return _host(self.status) == Status.CONVERGED

    @property
    def nfev(self):
        return _host(self.nit) + 1

    @property
    def njev(self):
        return _host(self.nit) + 1

    @property
    def dof(self) -> int:
        return self.residuals.shape[-1] - self.x.shape[-1]

    @property
    def residual_sd(self):
        # from the residuals, not from rss: sqrt(rss) of residuals of 1e-200 is not 0
        xp, r = _namespace(self.residuals), _host(self.residuals)
        if self.dof <= 0:
            return xp.full(r.shape[:-1], xp.nan, r.dtype)
        return stopping.norm(r, xp=xp) / xp.sqrt(xp.asarray(self.dof, r.dtype))

    @property
    def message(self):
        """What happened, in words: the status, and any reason the errors are not finite."""
        status = np.asarray(self.status)
        if status.ndim == 0:
            return _message(self, ())
        return np.array([_message(self, i) for i in np.ndindex(status.shape)],
                        dtype=object).reshape(status.shape)

    def conf_int(self, level: float = 0.95) -> np.ndarray:
        """``(d, 2)`` two-sided confidence intervals ``x ± t·stderr`` at ``level``.

        ``t`` is Student's t quantile at ``(1 + level)/2`` with ``dof`` degrees
        of freedom (`t_quantile`); a batch gives ``(..., d, 2)``.
        """
        level = _check_level(level)
        t = t_quantile((1 + level) / 2, self.dof)
        x, se = np.asarray(self.x), np.asarray(self.stderr)
        return np.stack([x - t * se, x + t * se], axis=-1)

    def table(self, names=None, level: float = 0.95) -> list[list[str]]:
        """Rows of text, header first: parameter, value, stderr, and the ``level`` interval.

        For one fit (no batch axis). ``names`` default to ``x0, x1, ...``; pass
        ``cost.param_names``. Ready for a markdown table or a console.
        """
        if np.ndim(self.x) != 1:
            raise ValueError(f"table formats one fit; this one has shape {np.shape(self.x)}: "
                             "index it first (jax.tree.map(lambda a: a[i], fit))")
        d = np.shape(self.x)[0]
        names = tuple(f"x{i}" for i in range(d)) if names is None else tuple(names)
        if len(names) != d:
            raise ValueError(f"names must have {d} entries (one per parameter); got {names}")
        ci = self.conf_int(level)
        pct = f"{100 * level:g}%"
        rows = [["parameter", "value", "stderr", f"{pct} low", f"{pct} high"]]
        for name, v, se, (lo, hi) in zip(names, np.asarray(self.x), np.asarray(self.stderr),
                                         ci, strict=True):
            rows.append([name] + [f"{u:.6g}" for u in (v, se, lo, hi)])
        return rows


def _namespace(a):
    """jax.numpy inside a trace, NumPy for concrete values (no dispatch, no dtype surprises)."""
    return jnp if is_traced(a) else np


def _host(a):
    return a if is_traced(a) else np.asarray(a)


def notes(f: Fit, i=()) -> list[tuple[str, dict]]:
    """Why some standard errors of fit ``i`` (an index into a batch; ``()`` for one fit)
    are not finite: `gradlab._i18n` keys ``fit.note.*`` with their values."""
    pick = lambda a: np.asarray(a)[i]
    found = []
    held = np.flatnonzero(pick(f.at_bound))
    free = pick(f.at_bound).size - held.size
    if held.size:
        found.append(("held", {"params": ", ".join(map(str, held))}))
    if int(pick(f.rank)) < free:
        found.append(("rank", {"rank": int(pick(f.rank)), "free": free}))
    if not (np.all(np.isfinite(pick(f.jac))) and np.all(np.isfinite(pick(f.residuals)))):
        found.append(("nonfinite", {}))
    elif f.dof <= 0 and not np.all(np.isfinite(pick(f.cov))):
        found.append(("dof", {"dof": f.dof}))
    return found


def _message(f: Fit, i) -> str:
    parts = [status_message(np.asarray(f.status)[i])]
    parts += [_i18n.text("en", f"fit.note.{key}", **values) for key, values in notes(f, i)]
    return "; ".join(parts)


def _check_level(level) -> float:
    if isinstance(level, bool) or not isinstance(level, int | float | np.floating):
        raise TypeError(f"level must be a number between 0 and 1; got {short(level)}")
    if not 0 < level < 1:
        raise ValueError(f"level must lie strictly between 0 and 1; got {level}")
    return float(level)


# -- the statistics --------------------------------------------------------------------------
def statistics(sol: leastsq.Solution, absolute_sigma: bool, unit, pinned: bool,
               vectorised: bool = False) -> Fit:
    """The `Fit` of one solution: the covariance from an SVD of ``J``'s triangle.

    ``D`` here is the column norms of ``J`` at the solution (not the loop's
    running maximum, which remembers columns from far along the path: cut
    there, a well-conditioned ``J`` could read as rank-deficient). ``J·D⁻¹ = Q·R``
    and ``R = U·Σ·Vᵀ`` give ``(JᵀJ)⁻¹ = A·Aᵀ`` with ``A = D⁻¹·V·Σ⁻¹``:
    one SVD of the ``d × d`` triangle, and ``JᵀJ`` is never formed. The standard
    errors are the norms of ``A``'s rows (times the residual SD) and the
    correlations the products of its normalised rows, so nothing is squared that
    could underflow. Singular values below the rank cut make the errors inf.
    The loop ran on residuals divided by ``unit`` (`gradlab.leastsq.residual_unit`); the
    record is in the data's units.
    """
    n, d = sol.jac.shape
    dtype = sol.x.dtype
    dof = n - d
    norms, r_norm = leastsq.norms_at(sol.jac, sol.r, sol.free)  # as `leastsq.finish`'s
    scale = jnp.where(norms > 0, norms, 1.0)
    sv, v, _ = _lm_algebra.singular_values(
        _lm_algebra.factor(sol.jac, sol.r, scale, sol.free, pinned, vectorised), vectorised)
    kept = _lm_algebra.kept(sv)
    held = ~sol.free
    rank = jnp.sum(kept) - jnp.sum(held)  # held parameters are pinned: one unit value each
    a = v * jnp.where(kept, 1 / jnp.where(kept, sv, 1.0), 0.0) / scale[:, None]
    root = stopping.norm(a)  # sqrt(diag (JᵀJ)⁻¹) in the loop's units
    rows = a / jnp.where(root > 0, root, 1.0)[:, None]
    correlation = rows @ rows.T
    if absolute_sigma:
        stderr = root / unit  # J = unit·J_loop
        scale_unknown = jnp.asarray(False)
    else:
        sd = r_norm / jnp.sqrt(jnp.asarray(max(dof, 1), dtype))
        stderr = sd * root
        scale_unknown = jnp.asarray(dof <= 0)
    unknown = (rank < jnp.sum(sol.free)) | scale_unknown
    stderr = jnp.where(unknown, jnp.inf, stderr)
    correlation = jnp.where(unknown, jnp.nan, correlation)
    broken = ~(jnp.isfinite(sol.rr) & jnp.all(jnp.isfinite(sol.jac)))  # ended on NaN/inf
    stderr = jnp.where(broken | held, jnp.nan, stderr)
    correlation = jnp.where(broken | held[:, None] | held[None, :], jnp.nan, correlation)
    cov = jnp.where(unknown & ~broken, jnp.inf, correlation * stderr[:, None] * stderr[None, :])
    cov = jnp.where(broken | held[:, None] | held[None, :], jnp.nan, cov)
    return Fit(x=sol.x, status=sol.status, nit=sol.nit, residuals=sol.r * unit,
               jac=sol.jac * unit, rss=sol.rr * unit * unit, cov=cov, stderr=stderr,
               correlation=correlation, rank=rank.astype(jnp.int32), at_bound=held)

