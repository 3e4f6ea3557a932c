"""Levenberg–Marquardt on a fit's residuals: the compiled loop behind `gradlab.fit`.

Contract: for residuals ``r(x) = (model(x, X) − Y)/σ`` (flattened, ``N`` of
them, ``d`` parameters) the loop minimises ``‖r‖²`` from ``x0`` and returns
the last accepted point with its residuals, Jacobian, factors and `Status`.
Nothing is raised at run time; under ``vmap`` each member stops on its own,
and a batch (`gradlab._lm_batch.run_many`) steps only its running members, a
group at a time.

**The method** is MINPACK's ``lmder`` (Moré 1978): a trust region
``‖D·p‖ ≤ Δ`` in the scaled norm, with ``D`` the running maximum of the
Jacobian's column norms (a parameter of size 1e-6 next to one of size 1e3 is
stepped on its own scale), started again from the columns once ``‖r‖²`` has
fallen below eps of where it last started (a start far off the data's scale:
`_arrive`), MINPACK's radius updates (but for one: after a
step whose ratio of actual to predicted decrease lies between ¼ and ¾ the
radius grows too, where MINPACK keeps it: `gradlab._lm_algebra.GROW_RATIO`) and
acceptance ratio 1e-4, and ``Δ₀ = ‖D·x0‖``: the first step may change the
parameters by about their own size (MINPACK's default of 100 times that lets
the first Gauss–Newton step of NIST's BoxBOD leap onto a plateau where the
model's exponential underflows, and stop there). Each trial solves
``min ‖r + J·p‖² + λ‖D·p‖²`` with λ = 0 (the Gauss–Newton step) when that
step lies in the region, else λ > 0 such that ``‖D·p‖ = Δ`` within 10%.
``gauss_newton=True`` takes the undamped step every time (no trust region; a
step that does not decrease ``‖r‖`` ends the run as a stall).

**Two modules hold the rest.** The linear algebra of a trial (one QR of
``[J·D⁻¹ | r]`` at each accepted point, the SVD of its triangle only for a damped
step, never the normal equations; the step, its predicted decrease and MINPACK's
verdict on it) is `gradlab._lm_algebra`; the batch driver, which steps a batch's
running runs a group at a time, is `gradlab._lm_batch`.

**A refused trial keeps its SVD.** After a refused trial the point, and so
``R`` and ``b``, are unchanged: only Δ shrank, and the next trial needs only
a new λ from the same ``σ`` and ``w`` (MINPACK's lmpar likewise solves again
from the same QR). The carry keeps the last SVD (`Spectrum`) with a flag
saying it is that of the current ``R`` (set when computed, cleared when a
trial is accepted), and `refresh` computes one only where the flag is down: a
single fit under ``lax.cond``; a batch for a whole group at once
(`gradlab._lm_batch`).

**Bounds** (an active-set rule): parameters held at a bound by a gradient
pointing out of the box (`stopping.free_parameters`) are fixed for the step
(their columns of ``J`` replaced by pins ``zᵢ = 0``); the others' step is
projected into the box, and its predicted decrease is that of the projected step.

**Stopping.** The loop stops when no step can improve ``x`` any more: the
Gauss–Newton step is below ``loop_tols.xtol`` of ``‖D·x‖`` (`gradlab.fit`'s
default: ``eps^(3/4)``) and the decrease it predicts is below that share of
``‖r‖²`` or the rounding of ``‖r‖²`` (a data offset of 1e4 makes ``‖D·x‖`` so
large that any step looks small next to it); the radius shrank below
``eps·‖D·x‖`` and the last step did not halve ‖r‖² (MINPACK sets Δ to twice a good step,
so the quadratic steps of a zero-residual fit shrink it while ‖r‖² still falls by
orders); or, at the rounding floor of ``‖r‖²`` (where the actual decrease
is noise), steps stopped shrinking — there, steps whose actual and predicted
changes are both below the rounding of ``‖r‖²`` (estimated from the sizes of
the terms each residual is a difference of: `stopping.rounding_of_squares`) are
taken while they keep shrinking, since the model still improves ``x`` where
``‖r‖²`` cannot tell; and such a step held by the region while the Gauss–Newton
step promises a decrease far above that rounding widens the region fourfold
(`_step`: the region is too small to see, not the point at rest). With ``ftol``
or ``gtol`` of your own the loop also stops once the decrease the Gauss–Newton
step predicts, or the gradient, falls below them (MINPACK's tests). A trial with
NaN/inf residuals is refused like any bad step. Every such stop is a
`stopping.Stop.STALL`: whatever stopped it, the `Status` is
`stopping.verdict` at the last point, judged by `stopping.stationary` with
``JᵀJ`` in the scaled parameters, or, where it has no negative curvature, with the
Hessian of ½‖r‖², ``JᵀJ + Σ rᵢ·∇²rᵢ``, in the parameters scaled by its own diagonal
(``JᵀJ`` alone sees no curvature where ``J`` is singular, as it can be at a minimum
whose residuals do not vanish: Freudenstein and Roth's 48.98; an indefinite
``Σ rᵢ·∇²rᵢ`` makes that Hessian's step short far from any stationary point, and
unscaled, a parameter of 4e14 beside one of 2 has a curvature "lost in rounding")
(CONVERGED only where the point is stationary
at the problem's scale; SADDLE where it is but that Hessian has a curvature
negative beyond roundoff; else STALLED, or MAX_STEPS after ``steps`` trials, or
NONFINITE when the start itself is not finite). Its rounding floor adds, to the
noise of ``‖r‖²``, the ``‖r‖²`` that rounding the residuals leaves where they
vanish, ``NOISE·Σ (eps·(|Yᵢ|/σᵢ + (|J|·|x|)ᵢ))²``: a zero-residual minimum (the
Moré–Garbow–Hillstrom set's Helical valley, Powell singular, ...) is CONVERGED
once ``‖r‖²`` is below it, where it was STALLED before (2026-11-30).

Counts: ``nit`` trials (accepted or refused); each evaluates the residuals
and the Jacobian together, so ``nfev = njev = nit + 1``.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import jax
import jax.numpy as jnp

from gradlab import stopping
from gradlab._lm_algebra import (
    Factors,
    Spectrum,
    assess,
    factor,
    gauss_newton,
    in_region,
    lm_step,
    predict,
    regular,
    singular_values,
    tiny,
)
from gradlab.stopping import Stop, Tolerances

ACCEPT = 1e-4  # MINPACK: a step is taken when its actual decrease is this share of the predicted
FLAT = stopping.NOISE  # changes below FLAT × the rounding of ‖r‖² are noise


class Options(NamedTuple):
    """What the compiled loop is specialised on (static under jit).

    ``damped=False`` promises that every step is the Gauss–Newton one (`needs_svd` is
    false): the code for damped steps, and its SVD, is left out. ``vectorised``: the
    SVD and the triangular solves by `gradlab._linalg`'s kernels, vectorised over a
    batch, instead of one LAPACK call per matrix (`gradlab._lm_batch.run_many`); the
    caller then gives every run that needs a damped step the SVD of its ``R`` first
    (`gradlab._lm_batch.group_step`).
    """

    gauss_newton: bool = False
    damped: bool = True
    vectorised: bool = False


# -- residuals ---------------------------------------------------------------------------------
def residuals(objective, x, sigma):
    """``(model(x, X) − Y)/σ`` flattened to ``(N,)`` (no division when ``sigma`` is None)."""
    data = objective.data
    r = objective.fn.model(x, data.x) - data.y
    return (r if sigma is None else r / sigma).ravel()


def residuals_and_jacobian(objective, x, sigma):
    """``r (N,)`` and ``J (N, d)``: forward mode when ``N ≥ d``, reverse mode otherwise.

    Forward mode pushes ``d`` tangents through one evaluation of the model;
    reverse mode pulls ``N`` cotangents back, cheaper when the data are fewer
    than the parameters.
    """
    fn = lambda p: residuals(objective, p, sigma)
    d = x.shape[0]
    n = jax.eval_shape(fn, x).shape[0]
    if n >= d:
        r, columns = jax.vmap(lambda t: jax.jvp(fn, (x,), (t,)), out_axes=(None, 0))(
            jnp.eye(d, dtype=x.dtype))
        return r, columns.T
    r, pull = jax.vjp(fn, x)
    return r, jax.vmap(pull)(jnp.eye(n, dtype=r.dtype))[0]


def residual_unit(objective, sigma, x0):
    """The power of two a run divides its residuals by (`in_units`): about the data's size,
    ``max |Y/σ|``, raised where the start's residuals would overflow their squares.

    The same digits (a power of two changes none), but sums of squares that neither
    underflow (data of 1e-200) nor overflow (1e200, or tiny absolute σ). Sized by the
    data alone, a start far off them overflowed at once: float32 data of 1e-20 fitted
    from a model of size 1, residuals of 1e20 in the data's units, NONFINITE at the start
    of a finite problem (2026-12-01). So the unit rises until ``N`` squares of the start's
    largest residual stay 2⁸ below the largest float, but no further than the squares of
    the data's own rounding (``eps·max |Y/σ|``) stay 2⁸ above the smallest normal float
    (float32: 36 binary orders above the data's size): past that the data could not be
    resolved and the start's overflow (NONFINITE) is the truth. Data all zero set no
    such limit. A run's unit is its own (a batch: one per start and data set).
    """
    sizes = _sizes(objective, sigma)
    r0 = residuals(objective, x0, sigma)
    info = jnp.finfo(r0.dtype)
    data, start = jnp.max(sizes), jnp.max(jnp.abs(r0))
    data_known = (data > 0) & jnp.isfinite(data)
    _, data_exp = jnp.frexp(jnp.where(data_known, data, 1.0))
    _, start_exp = jnp.frexp(jnp.where(jnp.isfinite(start), start, 0.0))
    room = (info.maxexp - 8 - math.ceil(math.log2(max(r0.size, 1)))) // 2
    spare = (-info.minexp - 8) // 2 - info.nmant
    lifted = jnp.maximum(data_exp, start_exp - room)
    exponent = jnp.where(data_known, jnp.minimum(lifted, data_exp + spare), lifted)
    return jnp.ldexp(jnp.ones((), r0.dtype), exponent)


def in_units(sigma, unit):
    """The σ a run divides its residuals by: ``σ·unit`` (`residual_unit`; ``unit`` for no σ)."""
    return unit if sigma is None else sigma * unit


def _sizes(objective, sigma):
    """``|Y|/σ`` flattened: each residual is a difference of terms of about this size (the
    data and the prediction), so it is wrong by about ``eps`` times it."""
    y = jnp.abs(objective.data.y)
    return (y if sigma is None else y / sigma).ravel()


# -- the SVD a trial needs ---------------------------------------------------------------------
def needs_svd(c, options: Options):
    """Whether the next trial of a run needs the SVD of ``R`` (a damped or singular step)."""
    f = c.point.factors
    plain = regular(f) if options.gauss_newton else in_region(f, c.radius)
    return (c.stop == Stop.RUNNING) & (c.nit >= 0) & ~plain


def needs_fresh_svd(c, options: Options):
    """`needs_svd`, and the carry holds no SVD of the current ``R`` (`_Carry.spectrum_here`)."""
    return needs_svd(c, options) & ~c.spectrum_here


def refresh(c, vectorised: bool):
    """The carry with the SVD of its current ``R``: the one it holds when that is of this
    ``R`` (after a refused trial the point, and so ``R``, is unchanged), else a new one,
    by LAPACK or started from the last ``V`` (`singular_values`).

    The caller decides when to call it (`_propose`, `gradlab._lm_batch.run_many`). A
    ``V`` that is not finite is kept too: `gradlab._linalg.jacobi_svd` starts cold from it.
    """
    fresh = singular_values(c.point.factors, vectorised, c.spectrum.v if vectorised else None)
    spectrum = jax.tree.map(lambda a, b: jnp.where(c.spectrum_here, a, b), c.spectrum, fresh)
    return c._replace(spectrum=spectrum, spectrum_here=jnp.ones_like(c.spectrum_here))


# -- the loop ----------------------------------------------------------------------------------
class _Point(NamedTuple):
    """What the loop keeps of its current point, made by `_arrive` when a trial is accepted.

    Not the residuals and Jacobian themselves: `finish` evaluates them once more at
    the last point. A batch moves its carry in and out of groups at every step, and
    ``r`` and ``J`` were most of it (10⁴ data sets of 50 points: a pass of the groups'
    gathers and scatters took 10.8 ms with them, 2.8 ms without).
    """

    x: jax.Array  # (d,)
    rr: jax.Array  # ‖r‖²
    noise: jax.Array  # the rounding error of rr, relative to rr, times FLAT
    free: jax.Array  # (d,) parameters not held at a bound
    factors: Factors  # of [J·D⁻¹ | r] on the free columns
    scale: jax.Array  # (d,) D: running maximum of the column norms since `scale_rr`
    scale_rr: jax.Array  # ‖r‖² where D last started again from the columns' norms
    size: jax.Array  # ‖D·x‖
    rest: jax.Array  # the caller's tolerances stop the run at x


class _Carry(NamedTuple):
    point: _Point  # the current (last accepted) point
    radius: jax.Array  # Δ
    nit: jax.Array  # trials so far; −1 before the start is evaluated
    stop: jax.Array  # a stopping.Stop code; RUNNING while the run runs
    flat_step: jax.Array  # ‖D·p‖ of the last step taken at the rounding floor (inf: none)
    reach_limit: jax.Array  # ‖D·p‖ of the last step refused since one was accepted (inf: none)
    spectrum: Spectrum  # the last SVD of R (the identity's before any); V: the next one's start
    spectrum_here: jax.Array  # ... and it is that of the current point's R (`refresh`)
    rr0: jax.Array  # ‖r(x0)‖²
    x0: jax.Array
    unit: jax.Array  # the power of two the residuals are divided by (`residual_unit`)


def init(x0, unit) -> _Carry:
    """The carry before anything is evaluated: the first trial evaluates ``x0`` itself.
    The loop's functions take the caller's σ and divide by ``σ·unit`` (`in_units`)."""
    d, dtype = x0.shape[0], x0.dtype
    zero = jnp.zeros((), dtype)
    inf = jnp.asarray(jnp.inf, dtype)
    factors = Factors(jnp.eye(d, dtype=dtype), jnp.zeros(d, dtype), jnp.zeros(d, dtype))
    point = _Point(x=x0, rr=inf, noise=zero, free=jnp.ones(d, bool), factors=factors,
                   scale=jnp.ones(d, dtype), scale_rr=inf, size=zero, rest=jnp.asarray(False))
    return _Carry(point=point, radius=inf, nit=jnp.asarray(-1, jnp.int32),
                  stop=jnp.asarray(Stop.RUNNING, jnp.int32), flat_step=inf, reach_limit=inf,
                  spectrum=Spectrum.identity(d, dtype),
                  spectrum_here=jnp.asarray(False), rr0=inf, x0=x0, unit=unit)


def start(objective, sigma, x0) -> _Carry:
    """`init` with the run's own `residual_unit`: how every loop starts (one run, or each
    of a batch under ``vmap``)."""
    return init(x0, residual_unit(objective, sigma, x0))


def _propose(c: _Carry, box, options: Options):
    """The trial point, its scaled step ``D·p``, λ, the predicted relative decreases, and
    the carry's SVD of ``R`` after the trial (`lm_step`, `refresh`)."""
    pt = c.point
    f = pt.factors
    if not options.damped:
        z, lam = f.gn, jnp.zeros((), pt.rr.dtype)
    elif options.gauss_newton:
        z, lam = gauss_newton(f, options.vectorised), jnp.zeros((), pt.rr.dtype)
    else:
        # a batch refreshes a group at a time (`gradlab._lm_batch.run_many`)
        if not options.vectorised:
            c = jax.lax.cond(needs_fresh_svd(c, options), lambda: refresh(c, False), lambda: c)
        z, lam, _ = lm_step(f, c.radius, options.vectorised, c.spectrum)
    z = jnp.where(c.nit < 0, 0.0, z)  # the first trial is x0 itself
    x_new = pt.x + z / pt.scale
    projected = jnp.asarray(False)
    if box is not None:
        clipped = jnp.clip(x_new, box[0], box[1])
        projected = jnp.any(clipped != x_new)
        x_new = clipped
    z = jnp.where(projected, pt.scale * (x_new - pt.x), z)
    return (x_new, z, lam, *predict(f, z, lam, pt.rr, projected), c.spectrum, c.spectrum_here)


def _arrive(objective, sigma, scale, scale_rr, first, x, r, jac, rr, box, loop_tols,
            vectorised: bool) -> _Point:
    """The loop's view of a newly accepted point: its factors, scaling, rounding, and
    whether the caller's tolerances stop the run there."""
    g = jac.T @ r
    free = stopping.free_parameters(x, g, box)
    # the columns' norms, and ‖r‖ and ‖r ⊙ |Y|/σ‖ for the rounding of ‖r‖², in one
    # reduction (the same bits in a batch of any size)
    d, sizes = x.shape[0], _sizes(objective, sigma)
    norms = stopping.column_norms(jnp.concatenate([jac, r[:, None], (r * sizes)[:, None]], 1))
    norms, r_norms = norms[:d], norms[d:]
    # D, MINPACK's running maximum of the columns' norms, starts again from their norms
    # once ‖r‖² has fallen below eps of where it last started: the problem's scale has
    # changed. From a start 1e8 above the data the first step refits the amplitude, and
    # the rate's column falls with ‖r‖; held to its D from the start, the rate's steps
    # were 1e-8 of what it needed, below float32's resolution of the scaled triangle,
    # and the fit stopped STALLED after 3 trials (2026-12-01). (Letting each column that
    # fell below eps of its D start again instead sent Jennrich and Sampson's x₁, whose
    # column vanishes where it runs off to −∞, to −1e62.)
    restart = first | (rr < jnp.finfo(rr.dtype).eps * scale_rr)
    scale = jnp.where(restart, jnp.where(norms > 0, norms, 1.0), jnp.maximum(scale, norms))
    scale_rr = jnp.where(restart, rr, scale_rr)
    f = factor(jac, r, scale, free, box is not None, vectorised)
    size = stopping.vector_norm(scale * x)
    # the Gauss–Newton step from the point, the decrease it predicts (‖b‖² of ‖r‖²:
    # MINPACK's tests) or the gradient
    g = jnp.where(free, g, 0.0)
    rounding = stopping.rounding_of_squares(r, sizes, r_norms)  # of ‖r‖²
    noise = FLAT * rounding / jnp.maximum(rr, tiny(rr))
    # a small step stops the run only where what it would gain is small too (as in
    # `stopping.stationary`): a large parameter (a data offset) makes ‖D·x‖ large
    gain = f.b @ f.b
    small_step = ((stopping.vector_norm(f.gn) <= loop_tols.xtol * size)
                  & (gain <= jnp.maximum(loop_tols.xtol, noise) * rr))
    rest = (small_step | (gain <= loop_tols.ftol * rr)
            | stopping.small_gradient(stopping.norm(g), loop_tols))
    return _Point(x, rr, noise, free, f, scale, scale_rr, size, rest)


def _step(objective, sigma, c: _Carry, box, loop_tols: Tolerances, options: Options) -> _Carry:
    """One trial of MINPACK's loop: propose, evaluate, accept or refuse, update Δ; or,
    at ``nit = −1``, evaluate the start."""
    sigma = in_units(sigma, c.unit)
    eps = jnp.finfo(c.x0.dtype).eps
    rr = c.point.rr
    first = c.nit < 0
    x_new, z, lam, predicted, direction, spectrum, here = _propose(c, box, options)
    r_new, jac_new = residuals_and_jacobian(objective, x_new, sigma)
    rr_new = r_new @ r_new
    finite = jnp.isfinite(rr_new + jnp.sum(jac_new))  # NaN and inf survive the sum
    rr_new = jnp.where(finite, rr_new, jnp.inf)
    pnorm = stopping.vector_norm(z)
    actual, ratio, radius = assess(rr, rr_new, predicted, direction, pnorm, lam, c.radius,
                                   c.nit == 0)
    flat = finite & (predicted <= c.point.noise) & (jnp.abs(actual) <= c.point.noise)
    shrinking = pnorm < c.flat_step
    # A step held by the region (λ > 0) whose change is below ‖r‖²'s rounding where the
    # Gauss–Newton step predicts a decrease far above it (‖b‖² > sqrt(noise)·‖r‖²): the
    # region is too small for ‖r‖² to see, not the point at rest. Such a step is taken
    # and the region grows fourfold, but never to a step as long as the last refused one
    # (`_Carry.reach_limit`). Without it float32 fits of data of 1e8 from an amplitude of
    # 1 stopped STALLED after 2 trials: steps of the parameters' own size (Δ₀ = ‖D·x0‖)
    # changed ‖r‖² by 1e-8 of itself (2026-12-01).
    gn_gain = jnp.square(stopping.vector_norm(c.point.factors.b))
    reaching = (flat & ~first & (lam > 0) & (gn_gain > jnp.sqrt(c.point.noise) * rr)
                & (2 * pnorm < c.reach_limit))
    accept = first | (finite & jnp.where(flat, shrinking | reaching, ratio >= ACCEPT))
    radius = jnp.where(flat & shrinking, jnp.maximum(radius, 2 * pnorm), radius)
    radius = jnp.where(reaching, jnp.minimum(4 * jnp.maximum(radius, pnorm), c.reach_limit / 2),
                       radius)
    moved = accept & finite
    point = jax.lax.cond(
        moved,
        lambda: _arrive(objective, sigma, c.point.scale, c.point.scale_rr, first, x_new, r_new,
                        jac_new, rr_new, box, loop_tols, options.vectorised),
        lambda: c.point)
    radius = jnp.where(first, jnp.where(point.size > 0, point.size, 1.0), radius)
    # MINPACK sets Δ to twice a good step: Gauss–Newton steps of a zero-residual fit
    # shrink it below eps·‖D·x‖ while each still removes nearly all of ‖r‖² (y = 0: a
    # = 1e-47 from 1 in three steps, then STALLED with ‖r‖² = 5e-94). A run that halved
    # ‖r‖² on its last step is not stalled: it goes on to ‖r‖² = 0, or to its floor.
    halved = moved & (actual >= 0.5)
    stalled = ~first & (((radius <= eps * point.size) & ~halved)
                        | (flat & ~shrinking & ~reaching) | (options.gauss_newton & ~accept))
    code = stopping.first_of([first & ~finite, stalled | point.rest],
                             [Stop.NONFINITE, Stop.STALL], Stop.RUNNING)
    return c._replace(point=point, radius=radius, nit=c.nit + 1, stop=code.astype(jnp.int32),
                      spectrum=spectrum, spectrum_here=here & ~moved,
                      flat_step=jnp.where(flat, jnp.minimum(pnorm, c.flat_step), jnp.inf),
                      reach_limit=jnp.where(flat, c.reach_limit,
                                            jnp.where(accept, jnp.inf, pnorm)),
                      rr0=jnp.where(first, point.rr, c.rr0))


def step_running(objective, sigma, c: _Carry, box, loop_tols, options) -> _Carry:
    """`_step` for a member of a batch: one that has stopped stays as it is."""
    new = _step(objective, sigma, c, box, loop_tols, options)
    return jax.tree.map(lambda a, b: jnp.where(c.stop == Stop.RUNNING, a, b), new, c)


class Solution(NamedTuple):
    """What the loop returns for one run (a batch: each field with a leading axis)."""

    x: jax.Array
    r: jax.Array
    jac: jax.Array
    rr: jax.Array
    status: jax.Array
    nit: jax.Array
    free: jax.Array  # (d,) parameters not held at a bound
    factors: Factors  # of [J·D⁻¹ | r] at x (held parameters pinned)
    scale: jax.Array  # (d,) D


def finish(objective, sigma, c: _Carry, box, tols: Tolerances) -> Solution:
    """`stopping.verdict` at the last point, judged with JᵀJ or ½‖r‖²'s Hessian, and the
    residuals and Jacobian there (zero where no point was reached: a start not finite)."""
    sol, pending = judge(objective, sigma, c, box, tols)
    return sol._replace(status=stopping.settle(pending, probe(objective, sigma, c.unit), box))


def probe(objective, sigma, unit):
    """½‖r‖² of a batch of points (``(k, d) → (k,)``): what a verdict asks (`judge`)."""
    sigma = in_units(sigma, unit)
    return jax.vmap(lambda p: _half_rr(objective, p, sigma))


def judge(objective, sigma, c: _Carry, box, tols: Tolerances):
    """`finish`, its verdict left pending (`stopping.Pending`: a batch settles its runs'
    together), and the Solution's status the one without asking."""
    sigma = in_units(sigma, c.unit)
    pt = c.point
    r, jac = residuals_and_jacobian(objective, pt.x, sigma)
    reached = jnp.isfinite(pt.rr)
    r, full_jac = jnp.where(reached, r, 0.0), jnp.where(reached, jac, 0.0)
    jac = jnp.where(pt.free, full_jac, 0.0)
    # judged in the scaled parameters D·x (D: the columns' norms at x), as the loop
    # steps: the same test, but JᵀJ cannot overflow (parameters of 1e-200) or underflow
    norms, _ = norms_at(full_jac, r, pt.free)
    d = jnp.where(norms > 0, norms, 1.0)
    scaled = jac / d
    floor = _rounding_of_half_rr(objective, sigma, pt, r, full_jac)
    unscaled_box, box = box, None if box is None else tuple(b * d for b in box)
    at_rest = stopping.stationary(pt.x * d, c.x0 * d, 0.5 * pt.rr, scaled.T @ r,
                                  scaled.T @ scaled, tols, box, floor=floor)
    # ... or with ½‖r‖²'s own Hessian, JᵀJ + Σ rᵢ·∇²rᵢ, scaled by its own diagonal: at a
    # minimum where the residuals do not vanish J can be singular (Freudenstein and Roth's
    # 48.98, Jennrich and Sampson's 124.36), and JᵀJ alone sees no curvature along its null
    # space. (Not scaled by J's columns: a column of 1e-44 beside a second-order term of
    # 1e4 would make the scaled Hessian 1e41.) Only this Hessian can say the point is a
    # saddle: JᵀJ has no negative curvature. (Asked as one vmapped batch of two, the two
    # questions compiled 7% faster, but a batch of 1,000 fits over data sets then hung:
    # most likely jaxlib's deadlock of concurrent batched LAPACK calls, found a day later
    # (`gradlab._linalg.one_thread`); the batch of two was not tried again.)
    # In the parameters scaled by that Hessian's own diagonal, h = sqrt(|Hᵢᵢ|): unscaled, an
    # amplitude of 4e14 beside a rate of 2 had a curvature 1e-34 of the rate's, "lost in
    # rounding", and its slope times xtol of 4e14 passed for nothing (float32 data of 2e19:
    # CONVERGED at a rate of −2.4 where the data decay at 1.5)
    hessian = full_jac.T @ full_jac + _second_order(objective, sigma, pt.x, r)
    h = jnp.sqrt(jnp.abs(stopping.diagonal(hessian)))
    h = jnp.where((h > 0) & jnp.isfinite(h), h, 1.0)
    full_box = None if unscaled_box is None else tuple(b * h for b in unscaled_box)
    full, question = stopping.rest_asking(pt.x * h, c.x0 * h, 0.5 * pt.rr, (full_jac.T @ r) / h,
                                          hessian / h[:, None] / h, tols, full_box,
                                          floor=floor)
    question = question._replace(x=question.x / h, direction=question.direction / h)
    # The Hessian's own view counts for a point's stationarity only where it has no
    # negative curvature (a minimum with a singular J): its model's step, −|H|⁻¹g, is short
    # where Σ rᵢ·∇²rᵢ is large and indefinite, and its decrease then fell below f's rounding
    # far from any stationary point (data of 2e10 fitted from an amplitude of 1: "SADDLE"
    # at a = 2.16, every residual 2e10). A true saddle has g ≈ 0, and JᵀJ's view sees it.
    full_rests = full.stationary & ~(full.descends | question.asked)
    verdict = lambda descends: stopping.verdict(
        c.stop, at_rest | full_rests | (pt.rr == 0), pt.rr, c.rr0,
        descends & (pt.rr > 0)).astype(jnp.int32)
    pending = stopping.Pending(verdict(full.descends), verdict(True), question)
    return Solution(pt.x, r, full_jac, pt.rr, pending.status, jnp.maximum(c.nit, 0), pt.free,
                    pt.factors, pt.scale), pending


def _half_rr(objective, x, sigma):
    """½‖r‖² at ``x`` (the loop's ‖r‖², halved)."""
    r = residuals(objective, x, sigma)
    return 0.5 * (r @ r)


def _rounding_of_half_rr(objective, sigma, pt, r, jac):
    """The verdict's floor: the rounding of ½‖r‖² at the point ``pt`` with residuals ``r``
    and Jacobian ``jac`` there.

    The noise of ½‖r‖² (the point's `noise` is relative to ‖r‖²), and where r → 0 the
    ‖r‖² that rounding the residuals themselves leaves: each is wrong by about
    eps·(|Y|/σ + |J|·|x|) (the data, and the model's change when x is rounded), so a
    zero-residual minimum is reached once ‖r‖² is below their sum of squares. The
    model's own terms count in the noise too: with y = 0 (or small beside the model's
    terms) |Y|/σ alone says r is exact (Brown and Dennis: rr = 85822.2 wrong in its 14th
    digit, a decrease of 1e-14 of it called real), and so does each residual's rounding
    as measured (`_measured_sizes`), where larger. An estimate that overflows is left out.
    """
    finite_or_0 = lambda v: jnp.where(jnp.isfinite(v), v, 0.0)
    eps = jnp.finfo(r.dtype).eps
    sizes = jnp.maximum(_sizes(objective, sigma) + jnp.abs(jac) @ jnp.abs(pt.x),
                        finite_or_0(_measured_sizes(objective, sigma, pt.x, r, jac)))
    residual_floor = finite_or_0(
        FLAT * jnp.square(eps * stopping.column_norms(sizes[:, None])[0]))
    noise = finite_or_0(FLAT * stopping.rounding_of_squares(r, sizes))
    return 0.5 * (jnp.maximum(pt.noise * pt.rr, noise) + residual_floor)


def _measured_sizes(objective, sigma, x, r, jac):
    """Each residual's rounding error at ``x``, measured (`stopping.rounding_errors`), as
    the size of the terms it is the difference of (the error over eps).

    It sees what ``|Y|/σ`` and ``|J|·|x|`` do not: a constant inside the model (MGH's
    Trigonometric has n = 10 beside residuals of 1e-3; its fits ended STALLED at the
    minimum, a decrease of 1e-13 of ‖r‖² taken for real).
    """
    unexplained = stopping.rounding_errors(lambda p: residuals(objective, p, sigma), x, r, jac)
    return jnp.max(unexplained, axis=0) / jnp.finfo(x.dtype).eps


def _second_order(objective, sigma, x, r):
    """``Σ rᵢ·∇²rᵢ`` at ``x``: what ``JᵀJ`` leaves out of the Hessian of ½‖r‖², the
    derivative of ``J(x)ᵀ·r`` with ``r`` held fixed (0 where not finite)."""
    fn = lambda p: residuals(objective, p, sigma)
    second = jax.jacfwd(lambda p: jax.vjp(fn, p)[1](r)[0])(x)
    second = (second + second.T) / 2
    return jnp.where(jnp.isfinite(second), second, 0.0)


def norms_at(jac, r, free):
    """The norms of ``J``'s free columns (0 for held ones) and ``‖r‖``, in one reduction:
    `finish` and `gradlab._fit_record.statistics` ask for them with the same arguments, so
    XLA computes them once."""
    d = jac.shape[1]
    norms = stopping.column_norms(jnp.concatenate([jnp.where(free, jac, 0.0), r[:, None]], 1))
    return norms[:d], norms[d]


def running(c: _Carry, steps):
    return (c.stop == Stop.RUNNING) & (c.nit < steps)


def loop_one(objective, sigma, x0, steps, box, loop_tols: Tolerances, options: Options) -> _Carry:
    """One fit's loop from ``x0``, stopped by ``loop_tols``: its last state (`finish`
    judges it). ``steps`` (traced) bounds the number of trials."""
    return jax.lax.while_loop(
        lambda c: running(c, steps),
        lambda c: _step(objective, sigma, c, box, loop_tols, options),
        start(objective, sigma, x0))
