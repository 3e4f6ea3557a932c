"""Shared fixtures: counting XLA compilations."""

import contextlib

import jax.monitoring
import pytest

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
