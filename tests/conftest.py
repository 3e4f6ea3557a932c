"""Test settings: float64 everywhere precision matters, shared helpers, and the problem table."""

import contextlib

import jax

jax.config.update("jax_enable_x64", True)

import jax.monitoring  # noqa: E402
import matplotlib  # noqa: E402
import pytest  # noqa: E402

matplotlib.use("Agg")

_compiles = []
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
    """``with count_compiles() as c: ...`` then ``c["n"]`` is the number of XLA compilations."""
    return _count
