"""Settings for the whole test run (tests/ and the doctests in gradlab/).

No global float64 switch: float32 is JAX's default and a first-class width, so
the doctests run in it, and tests choose their width with the ``width``
fixture (tests/conftest.py) or ``jax.enable_x64``.

Compiled programs are freed after a test module once the process holds more
than half the memory maps Linux allows it (or half its default limit), or more
than half its share of the machine's memory (`_free_compiled_programs`): the
suite compiles thousands of distinct programs, and XLA maps memory for each
one; kept for the whole run they exceed the map limit (``vm.max_map_count``,
65530) and XLA crashes while compiling. A worker holds about 100 KiB per map
(test_stopping, test_descent, test_costs and test_multistart in one process:
9,562 maps and 1.2 GB, then 17,172 and 1.7 GB, 21,238 and 2.3 GB, 31,965 and
2.9 GB); the module that maps most adds about 11,000. Freed after every module
instead, a program that several modules use was traced and lowered again in
each (and read back from the cache): the suite took 860 s against 822 s, 1,597
s of CPU against 1,519 (2026-11-30, one run each, quiet 2-core machine with 24
GB).

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


def _holds_too_much() -> bool:
    """Whether this process holds more than half the memory maps Linux allows a process
    (or half its default limit), or more than half its share of the machine's memory
    (the workers share it); never elsewhere than on Linux (no such limit to keep under)."""
    if not sys.platform.startswith("linux"):
        return False
    with open("/proc/self/maps") as maps:
        held_maps = sum(1 for _ in maps)
    with open("/proc/sys/vm/max_map_count") as limit:
        map_limit = min(int(limit.read()), _DEFAULT_MAP_LIMIT)
    resident, total = _kib("/proc/self/status", "VmRSS:"), _kib("/proc/meminfo", "MemTotal:")
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    return held_maps > map_limit // 2 or resident > total // (2 * workers)


def _kib(path: str, field: str) -> int:
    with open(path) as f:
        return next(int(line.split()[1]) for line in f if line.startswith(field))


@pytest.fixture(autouse=True, scope="module")
def _free_compiled_programs():
    yield
    if _holds_too_much():
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
