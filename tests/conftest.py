"""Shared fixtures: both float widths, and counting XLA compilations and traces.

The whole run shares one JAX persistent compilation cache (the root
conftest.py): `count_compiles` counts a program read back from it as a
compilation, as JAX times it.
"""

import contextlib
from typing import NamedTuple

import jax
import jax.monitoring
import numpy as np
import pytest

_compiles = []
# JAX times a program read back from the persistent cache as a compilation too
jax.monitoring.register_event_duration_secs_listener(
    lambda name, *_, **__: _compiles.append(name)
    if name == "/jax/core/compile/backend_compile_duration" else None
)


@contextlib.contextmanager
def _count():
    start = len(_compiles)
    box = {}
    yield box
    box["n"] = len(_compiles) - start


@pytest.fixture
def count_compiles():
    """``with count_compiles() as c: ...`` then ``c["n"]`` is the number of XLA compilations
    (programs read back from the run's persistent cache included)."""
    return _count


class Width(NamedTuple):
    """The float width a test runs in, and the tolerances it explains."""

    dtype: type
    eps: float

    @property
    def x64(self) -> bool:
        return self.dtype is np.float64

    @property
    def sqrt_eps(self) -> float:
        return float(np.sqrt(self.eps))


@pytest.fixture(params=["float32", "float64"])
def width(request):
    """Runs the test once in float32 (JAX's default) and once in float64."""
    dtype = np.float32 if request.param == "float32" else np.float64
    with jax.enable_x64(dtype is np.float64):
        yield Width(dtype, float(np.finfo(dtype).eps))


@pytest.fixture
def x64():
    """Runs the test in float64 only (references that need the digits)."""
    with jax.enable_x64(True):
        yield Width(np.float64, float(np.finfo(np.float64).eps))
