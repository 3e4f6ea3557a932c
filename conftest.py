"""Settings for the whole test run (tests/ and the doctests in gradlab/).

No global float64 switch: float32 is JAX's default and a first-class width, so
the doctests run in it, and tests choose their width with the ``width``
fixture (tests/conftest.py) or ``jax.enable_x64``.

Compiled programs are freed after a test module once the process holds more
than half the memory maps Linux allows it, or half its default limit
(`_free_compiled_programs`): the suite compiles thousands of distinct
programs, and XLA maps memory for each one; kept for the whole run they exceed
the limit (``vm.max_map_count``, 65530) and XLA crashes while compiling. The
module that maps most adds about 11,000. Freed after every module instead, a
program that several modules use was traced and lowered again in each (and
read back from the cache): the suite took 860 s against 822 s, 1,597 s of CPU
against 1,519 (2026-11-30, one run each, quiet 2-core machine).

**One compilation cache for the whole run**, in a temporary folder made by
the first process and removed by it at the end (never the user's own cache
folder: a run must neither write in the user's home nor depend on what an
earlier run left there). The test files run in two or more worker
processes; every process of the run uses that folder: as JAX's persistent
cache for everything it compiles (`gradlab._cache.install`) and as the
command line's folder (``GRADLAB_CACHE_DIR``), in process and in the
``gradlab`` subprocesses the tests start. A program one process compiled
(the same program, devices and options: JAX's key) is read back by the
others instead of compiled again. It never hides a recompilation: JAX times
a program read back from the cache as a compilation, and the tests'
``count_compiles`` counts it as one. Tests of the cache itself name folders
of their own.
"""

import os
import shutil
import sys
import tempfile

import jax
import matplotlib
import pytest

from gradlab import _cache

matplotlib.use("Agg")

_RUN_FOLDER = "GRADLAB_TESTS_CACHE"  # the run's folder, made by the first process
_saved_environment = {}


_DEFAULT_MAP_LIMIT = 65530  # Linux's default vm.max_map_count


def _memory_maps() -> tuple[int, int]:
    """The memory maps this process holds, and Linux's limit on them (0, 0 elsewhere)."""
    if not sys.platform.startswith("linux"):  # no such limit to keep under
        return 0, 0
    with open("/proc/self/maps") as maps, open("/proc/sys/vm/max_map_count") as limit:
        return sum(1 for _ in maps), int(limit.read())


@pytest.fixture(autouse=True, scope="module")
def _free_compiled_programs():
    yield
    held, limit = _memory_maps()
    if held > min(limit, _DEFAULT_MAP_LIMIT) // 2:  # a higher limit is no reason to hold more
        jax.clear_caches()


def pytest_configure(config):
    _saved_environment.update({k: os.environ.get(k) for k in
                               (_cache.FOLDER_VARIABLE, _cache.OFF_VARIABLE)})
    if _RUN_FOLDER not in os.environ:  # the controller (or a run without workers)
        os.environ[_RUN_FOLDER] = tempfile.mkdtemp(prefix="gradlab-tests-cache-")
        config._gradlab_cache_owner = True  # workers, started after this, inherit the folder
    os.environ.pop(_cache.OFF_VARIABLE, None)
    os.environ[_cache.FOLDER_VARIABLE] = os.environ[_RUN_FOLDER]
    # gradlab's cache: entries written whole (renamed into place), so a process never
    # reads one that another is still writing
    _cache.install(os.environ[_RUN_FOLDER])


def pytest_unconfigure(config):
    if getattr(config, "_gradlab_cache_owner", False):
        shutil.rmtree(os.environ.pop(_RUN_FOLDER), ignore_errors=True)
    for name, value in _saved_environment.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
