"""NIST StRD nonlinear regression: gl.fit against the certified values, float64, default options.

Digits are NIST's log relative error (`gradlab.nist.digits`). Each problem is
fitted from both official starts in one compiled call.
"""

import jax
import numpy as np
import pytest

import gradlab as gl
from gradlab import nist

CERTIFIED = 6.0  # digits on every parameter: "reaches the certified values"
STATISTICS = 3.0  # digits on standard errors, residual SD and RSS


def test_the_files_hold_all_27_problems_by_difficulty():
    assert len(nist.names()) == 27
    assert [len(nist.names(level)) for level in nist.DIFFICULTIES] == [8, 11, 8]
    p = nist.load("Nelson")  # two predictors, and a model of log(y)
    assert p.x.shape == (128, 2) and p.starts.shape == (2, 3)
    with pytest.raises(ValueError, match="unknown NIST problem"):
        nist.load("Longley")


@pytest.mark.parametrize("name", nist.names())
def test_the_certified_parameters_reproduce_the_certified_rss(name, x64):
    # an independent check of the vendored data, models and certified values (no solver)
    p = nist.load(name)
    r = np.asarray(p.model(jax.numpy.asarray(p.certified), jax.numpy.asarray(p.x))) - p.y
    if name == "Lanczos1":  # its RSS, 1.4e-25, is below the rounding of 11-digit parameters
        assert r @ r < 1e-20
        return
    assert nist.digits(r @ r, p.rss) >= 9


@pytest.mark.slow
@pytest.mark.parametrize("name", nist.names())
def test_fit_reaches_the_certified_values(name, x64):
    p = nist.load(name)
    cost = gl.fit_cost(p.model, p.data())
    # each start as a single fit, as users (and benchmarks/fitting.py) run them; a
    # batch of starts is tested equal to single fits in test_fit.py
    for k in range(2):
        f = gl.fit(cost, p.starts[k])
        run = f"{name} from start {k + 1}"
        assert f.dof == p.dof
        assert int(f.status) == gl.Status.CONVERGED, run
        assert nist.digits(f.x, p.certified).min() >= CERTIFIED, run
        if name == "Lanczos1":
            _check_lanczos1(p, f.x, f.rss, f.stderr)
            continue
        assert nist.digits(f.stderr, p.stderr).min() >= STATISTICS, run
        assert nist.digits(f.residual_sd, p.residual_sd) >= STATISTICS, run
        assert nist.digits(f.rss, p.rss) >= STATISTICS, run


def _check_lanczos1(p, x, rss, stderr):
    """Lanczos1's residuals (~1e-13) are differences of values near 2.5, rounded to
    ~5e-16 in float64: its RSS can only match to within that rounding, and its standard
    errors (which scale with sqrt(RSS)) up to the same factor."""
    eps = np.finfo(np.float64).eps
    y = np.abs(p.y)
    rounding = 4 * eps * np.sqrt(rss) * np.linalg.norm(y) + len(y) * (4 * eps * y.max()) ** 2
    assert abs(float(rss) - p.rss) <= rounding
    scale = np.sqrt(float(rss) / p.rss)
    np.testing.assert_allclose(np.asarray(stderr) / scale, p.stderr, rtol=1e-3)
