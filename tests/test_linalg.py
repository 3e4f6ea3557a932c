"""gradlab._linalg's small factorisations, against numpy's LAPACK (an independent
reference)."""

import importlib
import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gradlab import _linalg
from gradlab._linalg import back_substitute, jacobi_svd, symmetric_eigh


def _matrices(d, dtype, n=300):
    """Symmetric matrices over many scales, with near-equal eigenvalues and tiny couplings."""
    rng = np.random.default_rng(d)
    out = []
    for k in range(n):
        h = rng.normal(size=(d, d)) * 10.0 ** rng.uniform(-15, 15)
        if d > 1 and k % 3 == 0:
            h[0, 1] *= 10.0 ** rng.uniform(-12, 0)
        if d > 1 and k % 5 == 0:
            h[1, 1] = h[0, 0] * (1 + 10.0 ** rng.uniform(-10, 0))
        out.append(((h + h.T) / 2).astype(dtype))
    out += [np.zeros((d, d), dtype), np.eye(d, dtype=dtype)]
    if d == 2:
        out += [np.array([[0.0, 1.0], [1.0, 0.0]], dtype),  # a saddle, and a diagonal
                np.array([[2.0, 0.0], [0.0, -1.0]], dtype)]
    return out


@pytest.mark.parametrize("d", [1, 2, 3])
def test_eigenpairs_match_lapack_to_rounding(width, d):
    eigh = jax.jit(symmetric_eigh)
    for h in _matrices(d, width.dtype):
        values, vectors = (np.asarray(a, np.float64) for a in eigh(jnp.asarray(h)))
        reference = np.linalg.eigvalsh(h.astype(np.float64))
        scale = max(np.abs(reference).max(), np.finfo(np.float64).tiny)
        assert np.all(np.diff(values) >= 0), values  # ascending, as eigh
        np.testing.assert_allclose(values, reference, rtol=0, atol=8 * width.eps * scale)
        np.testing.assert_allclose(vectors.T @ vectors, np.eye(d), atol=8 * width.eps)
        np.testing.assert_allclose(h @ vectors, vectors * values, rtol=0,
                                   atol=8 * width.eps * scale)


def test_a_nan_or_inf_leaves_nothing_known():
    for h in ([[np.nan, 1.0], [1.0, 2.0]], [[np.inf, 0.0], [0.0, 1.0]],
              [[1.0, -np.inf], [-np.inf, 2.0]]):
        values, vectors = symmetric_eigh(jnp.array(h))
        assert np.all(np.isnan(values)) and np.all(np.isnan(vectors))


def test_batches_under_vmap_are_each_their_own():
    hs = jnp.array([[[2.0, 1.0], [1.0, 2.0]], [[0.0, 3.0], [3.0, 0.0]], [[5.0, 0.0], [0.0, -4.0]]])
    values = jax.vmap(symmetric_eigh)(hs)[0]
    np.testing.assert_allclose(values, [[1.0, 3.0], [-3.0, 3.0], [-4.0, 5.0]], rtol=1e-6)


# -- jacobi_svd: the SVD of a fit's triangle, cold and started from a guess ---------------------
def _triangles(d, dtype, n=60):
    """Upper triangles as a QR makes them: random, with badly scaled columns, rank-deficient
    (a column repeated, a zero column), graded over many orders, and near-equal values."""
    rng = np.random.default_rng(100 + d)
    out = []
    for k in range(n):
        a = rng.normal(size=(d + 5, d))
        if k % 4 == 1:
            a *= 10.0 ** rng.uniform(-6, 6, d)  # columns of very different sizes
        if k % 4 == 2 and d > 1:
            a[:, -1] = a[:, 0]  # rank d - 1
        if k % 4 == 3 and d > 1:
            a[:, 0] = 0.0
        if k % 7 == 0:
            a = a @ np.diag(1 + 10.0 ** rng.uniform(-9, -3, d))
        out.append(np.linalg.qr(a, mode="r").astype(dtype))
    return [*out, np.zeros((d, d), dtype), np.eye(d, dtype=dtype)]


def _check_svd(tri, sv, v, av, eps, d):
    tri, sv, v, av = (np.asarray(a, np.float64) for a in (tri, sv, v, av))
    reference = np.linalg.svd(tri, compute_uv=False)
    scale = max(reference[0], np.finfo(np.float64).tiny)
    np.testing.assert_allclose(np.sort(sv)[::-1], reference, rtol=0, atol=8 * d * eps * scale)
    np.testing.assert_allclose(v.T @ v, np.eye(d), atol=8 * d * eps)
    np.testing.assert_allclose(tri @ v, av, rtol=0, atol=8 * d * eps * scale)
    np.testing.assert_allclose(np.linalg.norm(av, axis=0), sv, rtol=0, atol=8 * d * eps * scale)
    gram = av.T @ av  # U·diag(σ): orthogonal columns
    np.testing.assert_allclose(gram - np.diag(np.diag(gram)), 0.0, atol=8 * d * eps * scale ** 2)


@pytest.mark.parametrize("d", [1, 2, 3, 4, 7])
def test_jacobi_svd_matches_lapack_cold_and_warm(width, d):
    svd = jax.jit(jacobi_svd)
    rng = np.random.default_rng(d)
    last = np.eye(d, dtype=width.dtype)
    for tri in _triangles(d, width.dtype):
        sv, v, av = svd(jnp.asarray(tri))
        _check_svd(tri, sv, v, av, width.eps, d)
        # started from the V of a nearby triangle, of a far one, and of a drifted guess
        near = tri + (1e-3 * rng.normal(size=tri.shape) * np.abs(tri).max()).astype(tri.dtype)
        guess = np.asarray(svd(jnp.asarray(np.triu(near)))[1])
        # a guess carried through many factorisations drifts from orthogonal; one too far
        # gone, or not finite, must be dropped, not trusted
        drifted = [(guess * (1 + size * rng.normal(size=guess.shape))).astype(tri.dtype)
                   for size in (30 * width.eps, 1e-2)]
        for v0 in (guess, last, *drifted, np.full_like(guess, np.nan)):
            _check_svd(tri, *svd(jnp.asarray(tri), jnp.asarray(v0)), width.eps, d)
        last = np.asarray(v)


def test_jacobi_svd_from_a_nearby_guess_takes_fewer_sweeps():
    """What the guess is for: a fit's consecutive triangles differ little."""
    from gradlab import _linalg

    sweeps = []
    real = _linalg.jax.lax.while_loop

    def counting(cond, body, init):
        out = real(cond, body, init)
        sweeps.append(int(out[3]))
        return out

    rng = np.random.default_rng(0)
    tri = np.linalg.qr(rng.normal(size=(12, 7)), mode="r")
    near = tri + 1e-6 * np.triu(rng.normal(size=tri.shape))
    try:
        _linalg.jax.lax.while_loop = counting
        v = _linalg.jacobi_svd(jnp.asarray(tri))[1]
        _linalg.jacobi_svd(jnp.asarray(near), v)
    finally:
        _linalg.jax.lax.while_loop = real
    cold, warm = sweeps
    assert warm <= cold - 3, sweeps


@pytest.mark.parametrize("d", [1, 3, 7])
def test_back_substitute_is_backward_stable(width, d):
    solve = jax.jit(back_substitute)
    rng = np.random.default_rng(d)
    for tri in _triangles(d, width.dtype):
        diagonal = np.abs(np.diag(tri)).astype(np.float64)
        if np.any(diagonal <= 1e-3 * np.abs(tri).max()) or not diagonal.all():
            continue  # singular to working precision: inf/NaN as trsm, not compared
        b = rng.normal(size=d).astype(width.dtype)
        x = np.asarray(solve(jnp.asarray(tri), jnp.asarray(b)), np.float64)
        # backward stable: the residual is of the order of eps·‖R‖·‖x‖
        np.testing.assert_allclose(tri.astype(np.float64) @ x, b, rtol=0,
                                   atol=8 * d * width.eps * np.abs(tri).max() * np.abs(x).max())
        assert np.all(np.isfinite(x))



# -- the damped step of a Levenberg–Marquardt trial (gradlab._lm_algebra.lm_step) ---------------
# A triangle with a singular value of 2.6e-16 beside one of 1 (a fit's parameter whose
# column had all but vanished) overflowed float32 in Moré's iteration for λ (‖z‖² over
# σ² = 7e-32): λ and the radius became NaN, a fit leapt to b = 5e18 and a batch of one ran
# to its step limit (2026-12-01).
@pytest.mark.parametrize("vectorised", [False, True])
@pytest.mark.parametrize("smallest", [1e-3, 1e-8, 2.6e-16, 1e-30, 1e-150])
def test_the_damped_step_fills_its_region_whatever_the_smallest_singular_value(
        width, vectorised, smallest):
    from gradlab._lm_algebra import Factors, lm_step

    if smallest < 1e3 * np.finfo(width.dtype).tiny:
        pytest.skip("below the width's range")
    rng = np.random.default_rng(7)
    # singular values near 1, 1e-2 and `smallest` (the last row's coupling is below it)
    tri = np.array([[1.0, 0.3, -0.2], [0.0, 1e-2, 3e-3], [0.0, 0.0, smallest]], width.dtype)
    b = rng.normal(size=3).astype(width.dtype)
    gn = np.linalg.solve(tri.astype(np.float64), -b.astype(np.float64))
    step = jax.jit(lm_step, static_argnums=2)
    for radius in (1e-3, 0.5, 10.0):
        f = Factors(jnp.asarray(tri), jnp.asarray(b), jnp.asarray(gn, width.dtype))
        z, lam, _ = step(f, jnp.asarray(radius, width.dtype), vectorised)
        z, lam = np.asarray(z, np.float64), float(lam)
        assert np.all(np.isfinite(z)) and np.isfinite(lam) and lam > 0, (radius, z, lam)
        # the region is filled to MINPACK's 10%
        assert abs(np.linalg.norm(z) - radius) <= 0.1 * radius * (1 + 1e3 * width.eps), (
            radius, np.linalg.norm(z))
        # and z is the damped solution for its λ, by float64 SVD (the step's own accuracy)
        u, sv, vt = np.linalg.svd(tri.astype(np.float64))
        reference = -vt.T @ (sv / (sv**2 + lam) * (u.T @ b.astype(np.float64)))
        np.testing.assert_allclose(z, reference, rtol=1e3 * width.eps,
                                   atol=1e3 * width.eps * radius)
    # a region of radius 0 has only the step 0 (and λ finite: the predicted decrease uses it)
    z, lam, _ = step(f, jnp.asarray(0.0, width.dtype), vectorised)
    assert not np.any(np.asarray(z)) and np.isfinite(float(lam))


# -- jaxlib 0.10's batched LAPACK calls, kept on the calling thread ---------------------------
# Above jaxlib 0.10.2's estimate of 2e5 flops, a batched LAPACK call spreads its batch over
# XLA:CPU's intra-op pool and blocks its own pool thread until the pieces are done; two such
# calls at once deadlock a 2-core machine (gl.fit over 10⁴ data sets hung in about one run of
# three). Every LAPACK call gradlab compiles must stay below it, whatever the batch. The
# estimates are jaxlib's own (jaxlib/cpu/lapack_kernels.cc at jax-v0.10.2, real types).
_JAXLIB_PARALLEL_FLOPS = 200_000


def _jaxlib_flops(target: str, shape: tuple) -> int:
    *_, rows, cols = shape
    k = min(rows, cols)
    kind = target.split("_")[1][1:]  # lapack_dgeqrf_ffi -> geqrf
    return {"geqrf": 2 * rows * cols * k - (2 * k ** 3) // 3,
            "orgqr": 4 * rows * cols * k - 2 * k * k * (rows + cols) + (4 * k ** 3) // 3,
            "syevd": 5 * cols ** 3,
            "gesdd": 10 * rows * cols * k,
            "trsm": rows * cols * rows,  # of the right-hand side, solved from the left
            }.get(kind, 10 * rows * cols * k)


def _lapack_batches(text: str) -> list[tuple[str, int, int]]:
    """(target, batch, flops per matrix) of every LAPACK call in a lowered program."""
    out = []
    for target, operands in re.findall(r"custom_call @(lapack_\w+)\(.*?\).*?: \(([^)]*)\)", text):
        shapes = [tuple(int(v) for v in dims.split("x") if v)
                  for dims in re.findall(r"tensor<([\dx]*?)x?f(?:32|64)>", operands)]
        # trsm's cost is counted on its right-hand side, the second operand
        shape = shapes[1] if "trsm" in target else shapes[0]
        if "trsm" in target and len(shape) < len(shapes[0]):
            shape = (*shape, 1)
        batch = int(np.prod(shape[:-2])) if len(shape) > 2 else 1
        out.append((target, batch, _jaxlib_flops(target, shape[-2:])))
    return out


def _programs_of_big_batches():
    """Lowered programs that batch every LAPACK call gradlab makes, 10⁴ runs at a time."""
    import gradlab as gl
    from gradlab import costs, descent, nist

    multistart = importlib.import_module("gradlab.multistart")  # gl.multistart is the function
    sweep = importlib.import_module("gradlab.sweep")
    t = np.linspace(0.0, 4.0, 50)
    decay = gl.fit_cost(lambda p, x: p[0] * jnp.exp(-p[1] * x) + p[2], (t, np.exp(-t)))
    ys = np.exp(-np.linspace(0.5, 2.0, 10_000)[:, None] * t)
    thurber = nist.load("Thurber")
    seven = gl.fit_cost(thurber.model, thurber.data())
    starts7 = jnp.ones((10_000, 7)) * jnp.asarray(thurber.starts[0])
    quartic = lambda p: jnp.sum((p - jnp.arange(4.0)) ** 4) + jnp.sum(p) ** 2
    starts4 = jnp.ones((10_000, 4))
    yield "fit over data sets", jax.jit(lambda ys: gl.fit(
        decay, [1.0, 1.0, 0.0], datasets=gl.Data(np.broadcast_to(t, ys.shape), ys))).lower(ys)
    yield "fit from starts", jax.jit(lambda s: gl.fit(seven, s)).lower(starts7)
    yield "single fits under vmap", jax.jit(jax.vmap(lambda s: gl.fit(seven, s))).lower(starts7)
    for name in ("qr_r", "eigh", "svd"):  # a vmap of a vmap: each axis split in turn
        yield f"{name} under two vmaps", jax.jit(jax.vmap(jax.vmap(getattr(_linalg, name)))).lower(
            jnp.ones((100, 100, 8, 8)))
    yield "descents under vmap", jax.jit(jax.vmap(lambda s: gl.descend(
        quartic, s, optimizer=gl.optimizers.trust_newton(), steps=5))).lower(starts4)
    cost4 = costs.as_cost(quartic, bounds=[(-5.0, 5.0)] * 4)
    method, radii = multistart._default_method(cost4, jnp.float64)  # trust-region Newton
    config, box, tols = descent.resolve_options(cost4, jnp.float64, steps=5, record_every=1,
                                                bounds=None)
    yield "multistart's batch", descent._descend_many.lower(
        cost4.objective, starts4, radii, box, tols, None, method=method, config=config)
    yield "multistart's minima", multistart._analyse_endpoints.lower(
        cost4.objective, starts4, None)
    yield "a sweep's curvatures", sweep._hessian_eigenvalues.lower(cost4.objective, starts4)


def test_no_lapack_call_is_spread_over_the_thread_pool(x64):
    seen = set()
    for what, lowered in _programs_of_big_batches():
        for target, batch, flops in _lapack_batches(lowered.as_text()):
            seen.add(target)
            assert batch * flops < _JAXLIB_PARALLEL_FLOPS, (what, target, batch, flops)
    assert {"lapack_dgeqrf_ffi", "lapack_dsyevd_ffi", "lapack_dgesdd_ffi"} <= seen, seen
