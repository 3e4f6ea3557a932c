"""Small dense factorisations in `jax.numpy`, for the least-squares loop's batches.

Contract: `jacobi_svd` (the SVD of a small square matrix), `back_substitute`
(an upper-triangular solve) and `symmetric_eigh` (the eigenvalues and vectors
of a symmetric matrix) take one matrix and return what LAPACK's ``gesdd``,
``trsm`` and ``syevd`` would, to the same accuracy class; under ``vmap`` they
become a few fused elementwise operations per rotation round (or row) over the
whole batch. Matrices with more than `SMALL` columns (`symmetric_eigh`: more
than 2) go to LAPACK.

Why: on CPU a batched LAPACK call loops over the batch and pays a fixed cost
per matrix, which for the tiny matrices of a fit dwarfs the arithmetic: an SVD
of a 7 × 7 triangle costs about 16 µs (one-sided Jacobi on 32 at once: about
10 µs each, 3–7 µs from a nearby ``V``; on 313 triangles of 3 × 3, 1.2 µs against
5 µs). LAPACK's QR (``geqrf``, 1–2.5 µs for 50 × 4 and 37 × 8) stays: a
Householder QR written in `jax.numpy` took 2–4 µs per matrix, vectorised or not
(measured on 2 CPU cores; again on 2026-11-29, fastest of 30: 32 matrices of
37 × 8 in 104 µs against LAPACK's 76, in 301 µs with the batch on the minor
axis and the columns unrolled; 313 of 50 × 4 in 265–307 µs against 367, under a
tenth of a data-set step's time, and slower on the starts).

* `jacobi_svd`: one-sided (Hestenes) Jacobi: plane rotations of the columns
  until every pair is orthogonal to working precision. It gives the singular
  values of a triangle ``R`` to high *relative* accuracy (Demmel & Veselić 1992)
  — better than bidiagonalisation — and never forms ``RᵀR``. The pairs of each
  sweep are rotated ``d/2`` at a time (the round-robin ordering). Given the ``V``
  of a nearby matrix (a fit's previous triangle) it starts from ``A·V`` and needs
  about half the sweeps, to LAPACK's (normwise) accuracy.
* `symmetric_eigh`: of a 1 × 1 or 2 × 2 matrix, one Jacobi rotation (Golub & Van
  Loan, ``symSchur2``), exact to rounding. The course's costs have one or two
  parameters, and every descent ends with this decomposition of its Hessian
  (`gradlab.stopping`); on CPU, JAX reaches LAPACK's ``syevd`` through scipy,
  whose import alone cost a command line 0.2–0.3 s.
* `back_substitute`: ``R⁻¹·b`` row by row from the bottom; a zero on the
  diagonal gives inf/NaN, as ``trsm`` does.
* `qr_r`, `eigh`, `eigvalsh`, `svd`, `upper_solve`: LAPACK itself, made by
  `one_thread` so that a batch never deadlocks jaxlib 0.10's thread pool (every
  LAPACK call gradlab makes goes through them; `tests/test_linalg.py` checks the
  compiled batches).

Example:
  >>> import jax.numpy as jnp
  >>> from gradlab import _linalg
  >>> sv, v, av = _linalg.jacobi_svd(jnp.array([[3.0, 4.0], [0.0, 5.0]]))
  >>> sorted(round(float(s), 6) for s in sv)
  [2.236068, 6.708204]
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp

SMALL = 16  # the most columns factored here; wider matrices go to LAPACK
JACOBI_SWEEPS = 30  # one-sided Jacobi converges quadratically: 5–8 sweeps in float64


# jaxlib 0.10's LAPACK kernels (`jnp.linalg.qr`, `eigh`, `svd`, ...) spread a batch whose
# work passes about 2e5 flops over XLA:CPU's intra-op thread pool, and block the pool thread
# they run on until every chunk is done. Two such calls ready at once (a batch's QR and its
# eigh) take both threads of a 2-core machine, each waiting for chunks queued behind the
# other: the program never returns (gl.fit over 10⁴ data sets hung in 1 run of 3, 2026-12-01;
# gdb: both `tf_XLAEigen` threads in `jax::ParallelBatchMap`'s `BlockingCounter::Wait`,
# every other thread idle). jaxlib 0.11 no longer does this, but needs Python 3.12. So a
# batch of LAPACK calls under vmap is made as a sequence of batches small enough for jaxlib
# to run on the calling thread (`one_thread`).
_LAPACK_PARALLEL_FLOPS = 200_000  # jaxlib 0.10's kMinWorkPerTask (lapack_kernels.cc)


def one_thread(fn, flops):
    """``fn`` (one matrix per argument, to LAPACK), which under ``vmap`` calls LAPACK on
    batches whose work jaxlib estimates below `_LAPACK_PARALLEL_FLOPS`, one after another
    (``lax.map``): jaxlib then runs each on the calling thread. ``flops(*args)``: jaxlib's
    estimate for one matrix (its ``cost_per_matrix``). Each batch is made by `one_thread`
    again, so a vmap around this one splits its own axis too (a vmap of a vmap stays
    below the estimate as a whole)."""
    split = jax.custom_batching.custom_vmap(fn)

    @split.def_vmap
    def _batched(axis_size, in_batched, *args):
        one = [a[0] if batched else a for a, batched in zip(args, in_batched)]
        size = min(axis_size, max(1, (_LAPACK_PARALLEL_FLOPS - 1) // max(1, flops(*one))))
        chunk = one_thread(jax.vmap(fn, in_axes=[0 if b else None for b in in_batched]),
                           lambda *_: size * flops(*one))
        n = -(-axis_size // size)

        def rows(a):  # (n, size, ...): the last batch filled with copies of the first row
            a = jnp.concatenate([a, jnp.broadcast_to(a[:1], (n * size - axis_size, *a.shape[1:]))])
            return a.reshape((n, size, *a.shape[1:]))

        def each(batch_rows):
            it = iter(batch_rows)
            return chunk(*[next(it) if batched else a for a, batched in zip(args, in_batched)])

        batches = [rows(a) for a, batched in zip(args, in_batched) if batched]
        out = (jax.tree.map(lambda o: o[None], each([b[0] for b in batches])) if n == 1
               else jax.lax.map(each, batches))
        out = jax.tree.map(lambda o: o.reshape((n * size, *o.shape[2:]))[:axis_size], out)
        return out, jax.tree.map(lambda _: True, out)

    return split


def _qr_flops(m):  # the larger of jaxlib's estimates for geqrf and orgqr (Q, when asked)
    rows, cols = m.shape
    k = min(rows, cols)
    geqrf = 2 * rows * cols * k - (2 * k ** 3) // 3
    orgqr = 4 * k * rows * cols - 2 * k * k * (rows + cols) + (4 * k ** 3) // 3
    return max(geqrf, orgqr)


def _syevd_flops(h):
    return 5 * h.shape[0] ** 3


def _gesdd_flops(a):
    rows, cols = a.shape
    return 10 * rows * cols * min(rows, cols)


qr_r = one_thread(lambda m: jnp.linalg.qr(m, mode="r"), _qr_flops)  # R of m = Q·R
eigh = one_thread(lambda h: jnp.linalg.eigh(h), _syevd_flops)  # of a symmetric matrix
eigvalsh = one_thread(lambda h: jnp.linalg.eigvalsh(h), _syevd_flops)
svd = one_thread(lambda a: jnp.linalg.svd(a), _gesdd_flops)


def _upper_solve(tri, b):
    # imported when traced: jax.scipy.linalg took 0.01-0.03 s of every command's start
    from jax.scipy.linalg import solve_triangular

    return solve_triangular(tri, b)


# R⁻¹·b for an upper-triangular R (trsm; jaxlib's estimate: d² per column of b)
upper_solve = one_thread(_upper_solve, lambda tri, b: tri.shape[0] ** 2 * (
    b.shape[1] if b.ndim > 1 else 1))


def jacobi_svd(a, v0=None):
    """``(σ, V, A·V)`` with ``a = U·diag(σ)·Vᵀ`` (``a``: ``d × d``), ``A·V = U·diag(σ)``.

    ``σ`` are not sorted (``V``'s columns and ``A·V``'s follow them); they are the
    column norms of ``A·V``. Returning ``A·V`` rather than ``U`` spares a division
    where ``σ`` is tiny: ``Uᵀ·b·σ = (A·V)ᵀ·b``.

    ``v0``: an orthogonal ``d × d`` guess at ``V`` (the last ``V`` of a matrix that
    changed little): the rotations start from ``A·v0`` and take fewer sweeps (3
    instead of 6–7 on a fit's consecutive triangles). ``v0`` is first made orthogonal
    to working precision (one Newton–Schulz step), so a guess carried through many
    factorisations does not drift; one further than ``√eps`` from orthogonal is
    replaced by the identity (a cold start). The result is then as accurate as
    LAPACK's (errors of order ``eps·‖A‖``), not to the high relative accuracy of a
    cold start.
    """
    d = a.shape[0]
    if d > SMALL:
        u, sv, vt = svd(a)
        return sv, vt.T, u * sv
    m = (d + 1) // 2  # pairs per round; an odd d gets a zero column, never rotated
    if v0 is None:
        x = jnp.concatenate([a, jnp.eye(d, dtype=a.dtype)])  # [A; V], rotated together
    else:
        dot = functools.partial(jnp.dot, precision=jax.lax.Precision.HIGHEST)
        eye = jnp.eye(d, dtype=a.dtype)
        error = dot(v0.T, v0) - eye
        # Newton–Schulz squares the error: from √eps it reaches rounding; a guess further
        # from orthogonal (or not finite) is dropped for the identity
        usable = jnp.all(jnp.abs(error) <= jnp.sqrt(jnp.finfo(a.dtype).eps))
        v0 = jnp.where(usable, dot(v0, eye - 0.5 * error), eye)
        x = jnp.concatenate([dot(a, v0), v0])
    x = jnp.pad(x, ((0, 0), (0, 2 * m - d)))
    tol = jnp.finfo(a.dtype).eps * d
    tiny = jnp.finfo(a.dtype).tiny

    def rotate(p, q):
        """Rotate each column pair (p[:, i], q[:, i]) to orthogonality; the largest cosine."""
        alpha, beta = jnp.sum(p[:d] * p[:d], 0), jnp.sum(q[:d] * q[:d], 0)
        gamma = jnp.sum(p[:d] * q[:d], 0)
        off = jnp.abs(gamma) / jnp.sqrt(jnp.maximum(alpha * beta, tiny))
        turn = off > tol
        zeta = (beta - alpha) / (2 * jnp.where(turn, gamma, 1.0))
        t = jnp.where(zeta >= 0, 1.0, -1.0) / (jnp.abs(zeta) + jnp.sqrt(1 + zeta * zeta))
        c = jnp.where(turn, 1 / jnp.sqrt(1 + t * t), 1.0)
        s = jnp.where(turn, c * t, 0.0)
        return c * p - s * q, s * p + c * q, jnp.max(jnp.where(turn, off, 0.0))

    def sweep(state):
        """2m − 1 rounds of m disjoint pairs: every pair meets once (the circle method:
        column 0 of p stays, the others turn one place)."""
        p, q, _, k = state
        worst = jnp.zeros((), a.dtype)
        for _ in range(2 * m - 1):
            p, q, off = rotate(p, q)
            worst = jnp.maximum(worst, off)
            if m > 1:
                p, q = (jnp.concatenate([p[:, :1], q[:, :1], p[:, 1:-1]], axis=1),
                        jnp.concatenate([q[:, 1:], p[:, -1:]], axis=1))
        return p, q, worst, k + 1

    # a sweep whose pairs were all within √tol of orthogonal leaves them within about tol
    # (Jacobi converges quadratically): a warm start skips the sweep that would only check
    done = tol if v0 is None else jnp.sqrt(tol)
    p, q, _, _ = jax.lax.while_loop(lambda s: (s[2] > done) & (s[3] < JACOBI_SWEEPS), sweep,
                                    (x[:, 0::2], x[:, 1::2], jnp.asarray(jnp.inf, a.dtype), 0))
    x = jnp.stack([p, q], axis=2).reshape(2 * d, 2 * m)[:, :d]  # a sweep ends where it began
    av, v = x[:d], x[d:]
    return jnp.sqrt(jnp.sum(av * av, 0)), v, av


def back_substitute(tri, b):
    """``tri⁻¹·b`` for an upper-triangular ``tri`` (``d × d``)."""
    d = tri.shape[0]
    if d > SMALL:
        return upper_solve(tri, b)

    def row(k, x):
        i = d - 1 - k
        t = jax.lax.dynamic_index_in_dim(tri, i, keepdims=False)
        done = jnp.arange(d) > i
        value = (jax.lax.dynamic_index_in_dim(b, i, keepdims=False)
                 - jnp.sum(jnp.where(done, t * x, 0.0))) / t[i]
        return x.at[i].set(value)

    return jax.lax.fori_loop(0, d, row, jnp.zeros_like(b))


def symmetric_eigh(h):
    """``(λ, V)`` of the symmetric part of ``h`` (``d × d``): ``λ`` ascending, ``V``'s columns
    the orthonormal eigenvectors, as ``jnp.linalg.eigh``. A 2 × 2 with a NaN or inf
    gives NaN throughout (LAPACK's answer then is partly NaN, partly arbitrary)."""
    h = (h + h.T) / 2
    d = h.shape[0]
    if d == 1:
        return h[0], jnp.ones_like(h)
    if d > 2:
        return eigh(h)
    a, b, c = h[0, 0], h[0, 1], h[1, 1]
    turn = b != 0
    zeta = (c - a) / (2 * jnp.where(turn, b, 1.0))
    # past |zeta| ~ 1e154 the square overflows and t = 0: h is diagonal to working precision
    root = jnp.sqrt(1 + zeta * zeta)
    t = jnp.where(turn, jnp.where(zeta >= 0, 1.0, -1.0) / (jnp.abs(zeta) + root), 0.0)
    cos = 1 / jnp.sqrt(1 + t * t)
    sin = cos * t
    low, high = a - t * b, c + t * b  # [[cos, sin], [-sin, cos]] turns h into diag(low, high)
    swap = low > high
    values = jnp.where(swap, jnp.stack([high, low]), jnp.stack([low, high]))
    first, second = jnp.stack([cos, -sin]), jnp.stack([sin, cos])
    vectors = jnp.where(swap, jnp.stack([second, first]), jnp.stack([first, second])).T
    known = jnp.all(jnp.isfinite(h))
    return jnp.where(known, values, jnp.nan), jnp.where(known, vectors, jnp.nan)
