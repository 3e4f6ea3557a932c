"""Shared fixtures: both float widths, and counting XLA compilations and traces.

The whole run shares one JAX persistent compilation cache, in a temporary
folder made for the run and removed after it: the test files run in two or
more worker processes, and a program one worker compiled (the same program,
the same devices, the same options: JAX's key) is read back by the others
instead of compiled again, which cut the suite's time by about an eighth.
It never hides a recompilation: JAX times a program read back from that
cache as a compilation, and `count_compiles` counts it as one.
"""

import contextlib
import os
import shutil
import tempfile
from typing import NamedTuple

import jax
import jax.monitoring
import numpy as np
import pytest

from gradlab import _cache

_CACHE_VARIABLE = "GRADLAB_TESTS_XLA_CACHE"  # the run's folder, made by the first process

_compiles = []
# JAX times a program read back from the persistent cache as a compilation too
jax.monitoring.register_event_duration_secs_listener(
    lambda name, *_, **__: _compiles.append(name)
    if name == "/jax/core/compile/backend_compile_duration" else None
)


def pytest_configure(config):
    if _CACHE_VARIABLE not in os.environ:  # the controller (or a run without workers)
        os.environ[_CACHE_VARIABLE] = tempfile.mkdtemp(prefix="gradlab-tests-xla-")
        config._gradlab_cache_owner = True  # workers, started after this, inherit the folder
    # gradlab's cache: entries written whole (renamed into place), so a worker never reads
    # one another worker is still writing
    _cache.install(os.environ[_CACHE_VARIABLE])


def pytest_unconfigure(config):
    if getattr(config, "_gradlab_cache_owner", False):
        shutil.rmtree(os.environ.pop(_CACHE_VARIABLE), ignore_errors=True)


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
