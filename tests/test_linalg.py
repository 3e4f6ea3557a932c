"""gradlab._linalg's small symmetric eigensolver, against numpy's LAPACK (an independent
reference)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gradlab._linalg import symmetric_eigh


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
