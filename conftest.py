"""Settings for the whole test run (tests/ and the doctests in gradlab/).

No global float64 switch: float32 is JAX's default and a first-class width, so
the doctests run in it, and tests choose their width with the ``width``
fixture (tests/conftest.py) or ``jax.enable_x64``.

Compiled programs are freed after each test module (`_free_compiled_programs`):
the suite compiles thousands of distinct programs, and XLA maps memory for
each one; kept for the whole run they exceed Linux's limit on a process's
memory maps (``vm.max_map_count``, 65530) and XLA crashes while compiling.

The command line keeps compiled programs in the user's cache folder; a test
run keeps them in a folder of its own, shared by the commands it runs (in
process and in subprocesses), and deleted at the end.
"""

import os
import shutil
import tempfile

import jax
import matplotlib
import pytest

matplotlib.use("Agg")

_CACHE_VARIABLES = ("GRADLAB_CACHE_DIR", "GRADLAB_NO_CACHE")
_saved_environment = {}


@pytest.fixture(autouse=True, scope="module")
def _free_compiled_programs():
    yield
    jax.clear_caches()


def pytest_configure(config):
    _saved_environment.update({k: os.environ.get(k) for k in _CACHE_VARIABLES})
    os.environ.pop("GRADLAB_NO_CACHE", None)
    os.environ["GRADLAB_CACHE_DIR"] = tempfile.mkdtemp(prefix="gradlab-test-cache-")


def pytest_unconfigure(config):
    shutil.rmtree(os.environ["GRADLAB_CACHE_DIR"], ignore_errors=True)
    for name, value in _saved_environment.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
