"""The command line's compilation cache: where it lives, off when asked, safe when shared or
unwritable, and never turned on by the library."""

import os
import stat
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import jax
import jax.monitoring
import jax.numpy as jnp
import numpy as np
import pytest

from gradlab import _cache
from gradlab.cli import main

ROOT = hasattr(os, "geteuid") and os.geteuid() == 0
_hits = []  # programs read from the persistent cache (JAX counts their compile time too)
jax.monitoring.register_event_listener(
    lambda name, **_: _hits.append(name) if name == "/jax/compilation_cache/cache_hits" else None)
SCRIPT = Path(sys.executable).with_name("gradlab")
needs_script = pytest.mark.skipif(not SCRIPT.exists(), reason="the gradlab console script is "
                                  "not installed (pip install -e '.[dev]')")


def _env(**changes):
    env = {k: v for k, v in os.environ.items()
           if k not in ("GRADLAB_CACHE_DIR", "GRADLAB_NO_CACHE", "JAX_COMPILATION_CACHE_DIR",
                        "XDG_CACHE_HOME")}
    return env | {"PYTHONDONTWRITEBYTECODE": "1", **changes}


def _entries(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.name.endswith(_cache.ENTRY_SUFFIX))


# -- where -----------------------------------------------------------------------------------
@pytest.mark.parametrize("platform, environ, expected", [
    ("linux", {"HOME": "/h"}, "/h/.cache/gradlab/jax"),
    ("linux", {"HOME": "/h", "XDG_CACHE_HOME": "/x"}, "/x/gradlab/jax"),
    ("linux", {"HOME": "/h", "XDG_CACHE_HOME": "rel"}, "/h/.cache/gradlab/jax"),  # XDG: ignored
    ("freebsd14", {"HOME": "/h"}, "/h/.cache/gradlab/jax"),
    ("darwin", {"HOME": "/Users/a"}, "/Users/a/Library/Caches/gradlab/jax"),
    ("win32", {"LOCALAPPDATA": "C:/Users/a/AppData/Local"},
     "C:/Users/a/AppData/Local/gradlab/Cache/jax"),
    ("win32", {"USERPROFILE": "C:/Users/a"}, "C:/Users/a/AppData/Local/gradlab/Cache/jax"),
])
def test_the_default_folder_follows_the_platform(platform, environ, expected):
    assert _cache.default_folder(environ=environ, platform=platform) == Path(expected)


@pytest.mark.parametrize("options, environ, expected", [
    ({}, {"HOME": "/h"}, "/h/.cache/gradlab/jax"),
    ({"no_cache": True}, {"HOME": "/h", "GRADLAB_CACHE_DIR": "/e"}, None),
    ({"cache_dir": "/f"}, {"HOME": "/h", "GRADLAB_NO_CACHE": "1"}, "/f"),  # a flag beats the env
    ({}, {"HOME": "/h", "GRADLAB_NO_CACHE": "1"}, None),
    ({}, {"HOME": "/h", "GRADLAB_NO_CACHE": "0"}, "/h/.cache/gradlab/jax"),
    ({}, {"HOME": "/h", "GRADLAB_CACHE_DIR": "OFF"}, None),
    ({}, {"HOME": "/h", "GRADLAB_CACHE_DIR": "/e"}, "/e"),
    ({}, {"HOME": "/h", "GRADLAB_CACHE_DIR": ""}, "/h/.cache/gradlab/jax"),
    ({"jax_folder": "/j"}, {"HOME": "/h"}, "/j"),  # JAX_COMPILATION_CACHE_DIR is respected
    ({"jax_folder": "/j"}, {"HOME": "/h", "GRADLAB_CACHE_DIR": "/e"}, "/e"),
])
def test_flags_then_environment_then_jax_then_the_platform(options, environ, expected):
    folder = _cache.choose_folder(environ=environ, platform="linux", **options)
    assert folder == (None if expected is None else Path(expected))


def test_a_relative_folder_is_made_absolute_once(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert _cache.choose_folder(cache_dir="c", environ={}) == tmp_path / "c"


# -- what it refuses -------------------------------------------------------------------------
def test_prepare_makes_a_private_folder(tmp_path):
    folder = _cache.prepare(tmp_path / "a" / "b")
    assert folder.is_dir() and stat.S_IMODE(folder.stat().st_mode) & 0o077 == 0
    assert list(folder.iterdir()) == []  # the probe is gone


@pytest.mark.parametrize("plant, message", [
    ("file", "cannot create"), ("proc", "cannot create"), ("world", "writable by every user"),
    ("read-only", "cannot write in"), ("other user", "belongs to another user")])
def test_prepare_refuses_a_folder_that_cannot_hold_the_cache(tmp_path, plant, message):
    folder = tmp_path / "cache"
    if plant == "file":
        folder.write_text("mine")
    elif plant == "proc":
        folder = Path("/proc/gradlab-cache")
    elif plant == "world":
        folder.mkdir()
        folder.chmod(0o777)
    elif plant == "read-only":
        if ROOT:
            folder = Path("/sys/gradlab-cache")  # root ignores permission bits
            message = "cannot create"
        else:
            folder.mkdir()
            folder.chmod(0o555)
    elif not ROOT:
        pytest.skip("only root can give a folder to another user")
    else:
        folder.mkdir(mode=0o700)
        os.chown(folder, 65534, -1)
    try:
        with pytest.raises(_cache.CacheUnavailable, match=message):
            _cache.prepare(folder)
    finally:
        if folder.is_dir() and folder.is_relative_to(tmp_path):
            folder.chmod(0o700)


@pytest.mark.parametrize("argv, words", [
    (["--cache-dir", "/proc/gradlab-cache"], "cannot create /proc/gradlab-cache"),
    (["--cache-dir", "{file}"], "cannot create"),
])
def test_the_command_runs_without_a_cache_it_cannot_use_and_says_so_once(tmp_path, capsys,
                                                                          argv, words):
    (tmp_path / "file").write_text("mine")
    argv = [a.replace("{file}", str(tmp_path / "file")) for a in argv]
    assert main([*argv, "minimize", "bowl", "--method", "exact"]) == 0
    captured = capsys.readouterr()
    assert "exact: x = [2, -3]" in captured.out
    lines = captured.err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("gradlab: running without the compilation "
                                                   "cache: ") and words in lines[0]


@pytest.mark.parametrize("argv", [["--no-cache", "--cache-dir", "x"], ["--cache-dir", " "]])
def test_conflicting_or_empty_cache_options_are_a_mistake(capsys, argv):
    with pytest.raises(SystemExit) as end:
        main([*argv, "list"])
    assert end.value.code == 2 and len(capsys.readouterr().err.splitlines()) == 1


# -- how it writes ---------------------------------------------------------------------------
def _new_program(seed: float):
    """A function no other test compiles (its constant is in the program)."""
    return jax.jit(lambda x: jnp.sin(x) * seed + seed ** 2)


def test_the_cache_is_on_inside_the_block_only_and_jax_is_left_as_found(tmp_path):
    before = {name: jax.config.values[name] for name in _cache._SETTINGS}
    outer = _cache._jax_cache_object()  # the test run's own (conftest: `_cache.install`)
    with _cache.persistent_cache(tmp_path / "c") as folder:
        assert folder == tmp_path / "c"
        assert jax.config.values["jax_compilation_cache_dir"] == str(folder)
        _new_program(1.2345)(jnp.ones(3)).block_until_ready()
    written = _entries(folder)
    assert [p for p in written if p.name.startswith("jit__lambda-")]
    assert {name: jax.config.values[name] for name in _cache._SETTINGS} == before
    assert _cache._jax_cache_object() is outer
    _new_program(2.3456)(jnp.ones(3)).block_until_ready()  # after the block: not cached
    assert _entries(folder) == written


def test_a_process_wide_cache_is_put_back_after_a_command_in_it(tmp_path):
    code = ("import sys, jax, jax.numpy as jnp\n"
            "from gradlab import _cache\n"
            "assert _cache.install(sys.argv[1] + '/run')\n"
            "jax.jit(lambda x: x * 1.25)(jnp.ones(2))\n"
            "with _cache.persistent_cache(sys.argv[1] + '/command'):\n"
            "    jax.jit(lambda x: x * 2.5)(jnp.ones(2))\n"
            "jax.jit(lambda x: x * 3.75)(jnp.ones(2))\n"
            "print(jax.config.values['jax_compilation_cache_dir'])\n")
    run = subprocess.run([sys.executable, "-c", code, str(tmp_path)], capture_output=True,
                         text=True, env=_env(), timeout=300, check=True)
    assert run.stdout.strip() == str(tmp_path / "run") and run.stderr == ""
    programs = lambda name: [p for p in _entries(tmp_path / name)
                             if p.name.startswith("jit__lambda-")]
    assert len(programs("run")) == 2 and len(programs("command")) == 1


def test_jax_still_has_the_place_the_atomic_cache_goes_into():
    # If a JAX upgrade moves it, gradlab falls back to JAX's own (non-atomic) file cache:
    # this test says so before users meet half-written entries.
    from jax._src import compilation_cache as jax_cache

    outer = jax_cache._cache
    with _cache.persistent_cache(Path(os.environ["GRADLAB_CACHE_DIR"])):
        assert type(jax_cache._cache).__name__ == "AtomicFileCache"
        assert jax_cache._cache is not outer
    assert jax_cache._cache is outer


def test_an_entry_jax_cannot_read_is_recompiled_and_replaced_silently(tmp_path):
    x = jnp.ones(3)
    with _cache.persistent_cache(tmp_path) as folder:
        expected = np.asarray(_new_program(3.4567)(x))
    (entry,) = [p for p in _entries(folder) if p.name.startswith("jit__lambda-")]
    whole = entry.read_bytes()
    entry.write_bytes(whole[: len(whole) // 2])  # a writer killed half-way (JAX's own cache)
    hits = len(_hits)
    with _cache.persistent_cache(tmp_path):  # a new function object: the same program, read
        np.testing.assert_array_equal(_new_program(3.4567)(x), expected)  # (warnings: errors)
    assert len(_hits) == hits  # not read: compiled again, and written again
    with _cache.persistent_cache(tmp_path):
        np.testing.assert_array_equal(_new_program(3.4567)(x), expected)
    assert len(_hits) == hits + 1  # now whole
    assert folder.iterdir() and all(p.name.endswith(_cache.ENTRY_SUFFIX)  # no temporary left
                                    for p in folder.iterdir())


def test_a_failed_write_is_said_once_and_writing_stops(tmp_path, monkeypatch):
    said = []
    cache = _cache._atomic_file_cache(tmp_path, said.append)

    def full_disk(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(_cache._files, "write_atomically", full_disk)
    cache.put("a", b"1")
    cache.put("b", b"2")
    assert said == [f"compilation cache: stopped writing in {tmp_path}: No space left on device"]
    assert cache.get("a") is None and list(tmp_path.iterdir()) == []


# -- as users run it ---------------------------------------------------------------------------
def test_the_library_never_turns_the_cache_on(tmp_path):
    code = ("import jax, gradlab as gl\n"
            "gl.descend(gl.get_cost('bowl'), [0.0, 0.0], learning_rate=0.1, steps=20)\n"
            "gl.grid_search('bowl', num=20)\n"
            "print(jax.config.values['jax_compilation_cache_dir'])\n")
    home = tmp_path / "home"
    home.mkdir()
    run = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True,
                         text=True, env=_env(HOME=str(home)), timeout=300, check=True)
    assert run.stdout.strip() == "None"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["home"] and not any(home.iterdir())


@needs_script
def test_the_command_line_caches_in_the_users_cache_folder_never_the_working_one(tmp_path):
    home, work = tmp_path / "home", tmp_path / "work"
    home.mkdir()
    work.mkdir()
    run = lambda: subprocess.run([str(SCRIPT), "minimize", "bowl", "--method", "descent"],
                                 cwd=work, capture_output=True, text=True, timeout=300,
                                 env=_env(HOME=str(home)))
    first, second = run(), run()
    for done in (first, second):
        assert done.returncode == 0 and done.stderr == ""
    assert first.stdout.splitlines()[0] == second.stdout.splitlines()[0]
    folder = home / ".cache" / "gradlab" / "jax"
    assert _entries(folder) and stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert list(work.iterdir()) == []


@needs_script
@pytest.mark.slow
def test_two_commands_filling_one_empty_cache_at_once_both_succeed(tmp_path):
    folder = tmp_path / "shared"
    argv = [str(SCRIPT), "minimize", "sine", "--method", "multistart", "--starts", "64"]
    env = _env(GRADLAB_CACHE_DIR=str(folder))
    run = lambda _: subprocess.run(argv, capture_output=True, text=True, env=env, timeout=300)
    with ThreadPoolExecutor(2) as pool:
        runs = list(pool.map(run, range(2)))
    for done in runs:
        assert done.returncode == 0 and done.stderr == "", done.stderr
    assert runs[0].stdout.splitlines()[:4] == runs[1].stdout.splitlines()[:4]
    assert not [p for p in folder.iterdir() if not p.name.endswith(_cache.ENTRY_SUFFIX)]
    # every entry is whole: JAX reads each one (and would raise on a broken one)
    again = subprocess.run(argv, capture_output=True, text=True, timeout=300,
                           env=env | {"JAX_RAISE_PERSISTENT_CACHE_ERRORS": "true"})
    assert again.returncode == 0 and again.stderr == "", again.stderr
