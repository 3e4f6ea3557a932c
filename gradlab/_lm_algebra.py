"""The linear algebra of one Levenberg–Marquardt trial in `gradlab.leastsq`'s loop: the
factors of a point, the step for a trust region, and MINPACK's verdict on it.

**The linear algebra: QR and SVD, never the normal equations.** At each
accepted point one Householder QR of the ``N × (d+1)`` matrix ``[J·D⁻¹ | r]``
gives the triangle ``R`` and ``b = Qᵀr`` (the first ``d`` entries), and the
Gauss–Newton step ``z = −R⁻¹b`` (``z = D·p``) by a triangular solve. Only
when that step is too long (or ``R`` is singular) is the SVD
``R = U·Σ·Vᵀ`` computed: then ``z(λ) = −V·diag(σ/(σ² + λ))·Uᵀb`` is the
solution of the damped problem — the least-squares solution of the augmented
system ``[J·D⁻¹; √λ·I]·z ≈ [−r; 0]`` — for every λ at once, and Moré's
Newton iteration on ``1/‖z(λ)‖ = 1/Δ`` (monotone from λ = 0, kept in the
bracket its iterates give, as MINPACK's lmpar; ``σ² + λ`` floored at ``(eps·σ₁)²``, so
that a direction lost in rounding cannot overflow it) finds λ with
no further factorisation. Everything comes from the factors of ``J`` itself,
so a step's accuracy depends on ``κ(J)``, not ``κ(J)²`` as with ``JᵀJ``
(NIST's Hahn1 has κ(J) ≈ 1e9: the normal equations would keep no digit).
A rank-deficient Jacobian (singular values below ``8·d·eps·σ₁``) gets the
minimum-norm step; every λ > 0 still gives a unique damped step, so the trust
region carries on. The covariance `gradlab.fit` reports comes from the same
SVD at the last point. A single fit calls LAPACK (``geqrf``, ``trsm``,
``gesdd``); a batch (`gradlab._lm_batch.run_many`) keeps LAPACK's QR but
takes the SVD of ``R`` by one-sided Jacobi and ``R⁻¹b`` by back-substitution
(`gradlab._linalg`), vectorised over the group: a batched LAPACK call pays a
fixed cost per matrix (about 10 µs for the SVD of a 7 × 7 triangle) that
dwarfs the arithmetic.
One-sided Jacobi on ``R`` never forms ``RᵀR``; each run keeps the ``V`` of
its last SVD and starts the next one from it (consecutive triangles differ
little: 2–4 sweeps instead of 6–8, to the accuracy of LAPACK's SVD). The
covariance's SVD starts cold and keeps the singular values to high relative
accuracy.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

from gradlab import _linalg
from gradlab._linalg import back_substitute, jacobi_svd
from gradlab.stopping import vector_norm

RADIUS_FIT = 0.1  # MINPACK: λ is searched until ‖D·p‖ is within 10% of Δ,
LAMBDA_ITERATIONS = 10  # ... in at most this many iterations
# The radius grows after a step taken with any ratio above ¼, where MINPACK keeps it
# until the ratio reaches ¾: 2·‖D·p‖ from a ratio of GROW_RATIO, GROW_MIDDLE·‖D·p‖
# below. Far from a zero residual the Gauss–Newton model leaves out Σ rᵢ·∇²rᵢ, and
# along a curved valley its ratio then stays near ½ whatever the radius (the actual
# and predicted decreases are both quadratic in the step): MINPACK's rule kept the
# radius of NIST Thurber's start 382 unchanged for hundreds of trials at a time, and
# 13 of 1,000 Thurber starts crawled to the 2,000-trial limit. With this rule (1,000
# starts, float64): 73,257 trials in all instead of 105,120, the longest run 1,240
# trials instead of 2,000, no MAX_STEPS (was 13), 652 runs at the certified minimum
# (was 648; 952 CONVERGED, 48 STALLED). The cost: NIST's 54 single fits take 4,555
# trials instead of 3,600 (median 13.5 instead of 13; MGH17, MGH10 and Lanczos1–3
# from start 1 up to twice as many: a wider region there is refused more often),
# every one still certified (9.9 digits or more). Growing only after 2 such steps in
# a row (a counter in the carry) did worse on both: 84,899 trials on Thurber with 4
# MAX_STEPS, 4,429 on NIST.
GROW_RATIO, GROW_MIDDLE = 0.5, 1.5


def tiny(x):
    """The smallest normal number of ``x``'s dtype: a floor for divisors."""
    return jnp.finfo(x.dtype).tiny


class Factors(NamedTuple):
    """``[J·D⁻¹ | r] = Q·[[R, b], [0, ρ]]`` at one point, and the Gauss–Newton step there."""

    tri: jax.Array  # (d, d) R
    b: jax.Array  # (d,) the residuals' coordinates along Q: ‖J·D⁻¹·z + r‖² = ‖R·z + b‖² + ρ²
    gn: jax.Array  # (d,) −R⁻¹·b, the Gauss–Newton step z = D·p (not finite when R is singular)


def factor(jac, r, scale, free, pinned: bool, vectorised: bool = False) -> Factors:
    """The `Factors` of ``[J·D⁻¹ | r]``, by one Householder QR.

    Held parameters (``~free``) get a pin row ``zᵢ = 0`` instead of their column
    (with ``pinned``).
    """
    d = jac.shape[1]
    m = jnp.concatenate([jnp.where(free, jac, 0.0) / scale, r[:, None]], axis=1)
    if pinned:
        pins = jnp.concatenate([jnp.diag((~free).astype(r.dtype)), jnp.zeros((d, 1), r.dtype)],
                               axis=1)
        m = jnp.concatenate([m, pins])
    if m.shape[0] < d + 1:  # fewer residuals than parameters: zero rows change nothing
        m = jnp.concatenate([m, jnp.zeros((d + 1 - m.shape[0], d + 1), m.dtype)])
    top = _linalg.qr_r(m)[:d + 1]
    tri, b = top[:d, :d], top[:d, d]
    return Factors(tri, b, back_substitute(tri, -b) if vectorised else _linalg.upper_solve(tri, -b))


class Spectrum(NamedTuple):
    """``R = U·diag(σ)·Vᵀ`` as the damped steps use it (`singular_values`)."""

    sv: jax.Array  # (d,) σ, in no particular order
    v: jax.Array  # (d, d) V; the next vectorised SVD starts from it
    w: jax.Array  # (d,) −diag(σ)·Uᵀ·b

    @classmethod
    def identity(cls, d: int, dtype) -> Spectrum:
        """The SVD of the identity: a placeholder where none was needed, and ``V`` = I, a
        cold start for the next one."""
        return cls(jnp.ones(d, dtype), jnp.eye(d, dtype=dtype), jnp.zeros(d, dtype))


def singular_values(f: Factors, vectorised: bool = False, basis=None) -> Spectrum:
    """``(σ, V, w)`` with ``R = U·diag(σ)·Vᵀ`` and ``w = −diag(σ)·Uᵀ·b``: ``J·D⁻¹``'s own
    SVD (``σ`` in no particular order). ``vectorised``: by one-sided Jacobi
    (`gradlab._linalg.jacobi_svd`, started from the orthogonal ``basis`` when given),
    else by LAPACK."""
    if vectorised:
        sv, v, u_sv = jacobi_svd(f.tri, basis)
        return Spectrum(sv, v, -(u_sv.T @ f.b))
    u, sv, vt = _linalg.svd(f.tri)
    return Spectrum(sv, vt.T, -sv * (u.T @ f.b))


def kept(sv):
    """Singular values above ``8·d·eps`` of the largest: the numerical rank."""
    return sv > jnp.finfo(sv.dtype).eps * 8 * sv.shape[0] * jnp.max(sv)


def regular(f: Factors):
    """Whether ``R`` is regular: its Gauss–Newton step is finite."""
    return jnp.all(jnp.isfinite(f.gn))


def lm_step(f: Factors, radius, vectorised: bool = False, spectrum: Spectrum | None = None):
    """The scaled step ``z = D·p``, its λ and the SVD of ``R`` for the region ``‖z‖ ≤ Δ``
    (MINPACK's lmpar).

    The Gauss–Newton step (λ = 0) when it exists and lies within ``1.1·Δ``;
    else, from the SVD of ``R``, ``z(λ) = V·diag(σ/(σ² + λ))·c`` is the damped
    solution for every λ at once, and Moré's Newton iteration on ``1/‖z(λ)‖ = 1/Δ``
    finds λ, monotone from λ = 0 and safeguarded, to within 10%. A singular ``R`` gets the
    minimum-norm Gauss–Newton step when that lies within the region.

    ``spectrum``: the SVD of this ``R`` (`gradlab.leastsq.refresh`), used as it is;
    None: computed here, only when the step is damped (by LAPACK, or cold by Jacobi
    when ``vectorised``), and returned (the identity's when it was not needed).
    """
    inside = in_region(f, radius)
    if vectorised:  # under vmap (`gradlab._lm_batch.run_many`) both sides run
        spectrum = singular_values(f, True) if spectrum is None else spectrum
        z, lam = _damped(f, radius, spectrum)
        return jnp.where(inside, f.gn, z), jnp.where(inside, 0.0, lam), spectrum
    d, dtype = f.b.shape[0], f.b.dtype
    unused = Spectrum.identity(d, dtype) if spectrum is None else spectrum

    def damped():
        svd = singular_values(f) if spectrum is None else spectrum
        return (*_damped(f, radius, svd), svd)

    return jax.lax.cond(inside, lambda: (f.gn, jnp.zeros((), dtype), unused), damped)


def in_region(f: Factors, radius):
    """Whether the Gauss–Newton step exists and lies in the region (within ``1.1·Δ``)."""
    return regular(f) & (vector_norm(f.gn) <= (1 + RADIUS_FIT) * radius)


def _damped(f: Factors, radius, spectrum: Spectrum):
    """The step and λ of `lm_step`'s damped case, from the SVD of ``R``."""
    sv, v, w = spectrum  # ‖z(λ)‖² = Σ wᵢ²/(σᵢ² + λ)²
    keep = kept(sv)
    s2 = sv * sv
    gn = v @ jnp.where(keep, w / jnp.where(keep, s2, 1.0), 0.0)  # minimum-norm
    inside = vector_norm(gn) <= (1 + RADIUS_FIT) * radius

    # σ² + λ floored at (eps·σ₁)², not at the smallest float: a direction below that is lost
    # in rounding, and 1/σ² of a σ of 2.6e-16 overflowed float32 in the slope (λ NaN, a
    # fit's b leapt to 5e18)
    floor = jnp.maximum(jnp.square(jnp.finfo(sv.dtype).eps * jnp.max(sv)), tiny(sv))

    def norm_and_slope(lam):
        """‖z(λ)‖ and −½ d‖z‖²/dλ over ‖z‖² (from z/‖z‖: ‖z‖² itself can overflow); a
        direction held at the floor does not change with λ, and adds nothing to the slope
        (counted, its 1/floor made Newton's steps crawl)."""
        shifted = s2 + lam
        live = shifted > floor
        t = w / jnp.where(live, shifted, floor)
        norm = vector_norm(t)
        u = t / jnp.maximum(norm, tiny(norm))
        return norm, jnp.sum(jnp.where(live, u * u / jnp.where(live, shifted, 1.0), 0.0))

    def newton(state):
        """Moré's Newton step on 1/‖z(λ)‖ = 1/Δ, safeguarded as MINPACK's lmpar: λ stays
        in the bracket (lo, hi) the iterates so far give (a step out of it, which a
        direction leaving the floor can cause, goes to the bracket's geometric middle).
        The state carries ‖z‖ and the slope at λ: each iteration computes them once."""
        lam, lo, hi, k, norm, q = state
        long = norm > radius
        lo = jnp.where(long, jnp.maximum(lo, lam), lo)
        hi = jnp.where(long, hi, jnp.minimum(hi, lam))
        # (‖z‖/Δ − 1)/q, not (‖z‖ − Δ)/Δ/q: XLA makes a/b/c a/(b·c), which overflowed
        new = lam + (norm / radius - 1) / jnp.maximum(q, tiny(q))
        middle = jnp.where(lo > 0, jnp.sqrt(lo) * jnp.sqrt(hi), 1e-3 * hi)
        new = jnp.where(jnp.isfinite(new) & (new > lo) & (new < hi), new, middle)
        return (new, lo, hi, k + 1, *norm_and_slope(new))

    def unfinished(state):
        _, _, _, k, norm, _ = state
        return ~inside & (k < LAMBDA_ITERATIONS) & (jnp.abs(norm - radius) > RADIUS_FIT * radius)

    # λ = ‖w‖/Δ puts z(λ) in the region (‖z(λ)‖ ≤ ‖w‖/λ): the bracket starts at (0, that]
    # (a region of radius 0 has only λ = inf: the step 0)
    zero = jnp.zeros((), w.dtype)
    upper = jnp.where(radius > 0, vector_norm(w) / jnp.where(radius > 0, radius, 1.0), jnp.inf)
    lam, *_ = jax.lax.while_loop(unfinished, newton,
                                 (zero, zero, upper, 0, *norm_and_slope(zero)))
    damped = v @ (w / jnp.maximum(s2 + lam, floor))
    # λ = inf (no region) steps 0, said as λ = 0: the predicted decrease is then 0, not inf·0
    return jnp.where(inside, gn, damped), jnp.where(inside | ~jnp.isfinite(lam), 0.0, lam)


def gauss_newton(f: Factors, vectorised: bool = False):
    """The undamped step: ``−R⁻¹·b``, or the minimum-norm one when ``R`` is singular."""
    return jax.lax.cond(regular(f), lambda: f.gn,
                        lambda: _damped(f, jnp.inf, singular_values(f, vectorised))[0])


def predict(f: Factors, z, lam, rr, projected=False):
    """The decrease of ``‖r‖²`` relative to ``rr`` that the linear model predicts for the
    scaled step ``z`` (MINPACK's form for an unprojected step: never negative), and the
    directional derivative MINPACK's radius update uses."""
    jz = f.tri @ z  # J·p in the coordinates of Q: ‖J·p‖ = ‖R·z‖, r·J·p = b·R·z
    rr = jnp.maximum(rr, tiny(rr))
    predicted = jnp.where(projected, -(2 * (f.b @ jz) + jz @ jz),
                          jz @ jz + 2 * lam * (z @ z)) / rr
    return predicted, -(jz @ jz + lam * (z @ z)) / rr


def assess(rr, rr_new, predicted, direction, pnorm, lam, radius, first_trial):
    """MINPACK's verdict on a trial: the actual relative decrease, its ratio to the
    predicted one, and the new radius (shrunk by a factor in [0.1, 0.5] after a poor step
    (ratio ≤ ¼), doubled after a good one (ratio ≥ `GROW_RATIO`, or λ = 0), at least
    `GROW_MIDDLE` times the step between the two; the first trial's region is at most its
    own step)."""
    actual = jnp.where(0.01 * rr_new < rr, 1 - rr_new / jnp.maximum(rr, tiny(rr)), -1.0)
    ratio = jnp.where(predicted > 0, actual / jnp.where(predicted > 0, predicted, 1.0), 0.0)
    radius = jnp.where(first_trial, jnp.minimum(radius, pnorm), radius)
    shrink = jnp.where(actual >= 0, 0.5,
                       0.5 * direction / jnp.minimum(direction + 0.5 * actual, -tiny(actual)))
    shrink = jnp.where((0.01 * rr_new >= rr) | (shrink < 0.1), 0.1, jnp.minimum(shrink, 0.5))
    radius = jnp.where(ratio <= 0.25, shrink * jnp.minimum(radius, 10 * pnorm),
                       jnp.where((lam == 0) | (ratio >= GROW_RATIO), 2 * pnorm,
                                 jnp.maximum(radius, GROW_MIDDLE * pnorm)))
    return actual, ratio, radius

