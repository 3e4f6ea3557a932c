"""Kept programs (`gradlab._programs`): a second run loads the executable instead of tracing;
any change the program depends on misses; a damaged entry, a folder that cannot be written
and two writers at once cost nothing but time; never a different answer."""

import os
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import jax
import numpy as np
import optax
import pytest

import gradlab as gl
from gradlab import _cache, _programs, descent
from gradlab.cli import main

SCRIPT = Path(sys.executable).with_name("gradlab")
needs_script = pytest.mark.skipif(not SCRIPT.exists(), reason="the gradlab console script is "
                                  "not installed (pip install -e '.[dev]')")
ROOT = hasattr(os, "geteuid") and os.geteuid() == 0
X0 = [0.0, -2.5]
PLAIN = {"learning_rate": 0.1, "steps": 10}  # a program quick to compile
CALL = {"optimizer": None, "lr": 0.1}


def _entries(folder: Path) -> list[Path]:
    programs = folder / _programs.SUBFOLDER
    return sorted(programs.iterdir()) if programs.is_dir() else []


def _same(a, b) -> bool:
    """Every field, bitwise."""
    return all(np.array_equal(np.asarray(x), np.asarray(y), equal_nan=True)
               for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True))


@pytest.fixture
def store(tmp_path, x64):
    """A kept-program store in an empty cache folder, the cache on, float64 (as the CLI)."""
    with _cache.persistent_cache(tmp_path / "cache") as folder:
        yield _programs.Store(folder)


@pytest.fixture
def traced(monkeypatch):
    """Counts the calls that trace `descend`'s program (a load traces nothing)."""
    calls = []
    original = descent._descend_one

    class Spy:
        def __call__(self, *args, **kwargs):
            calls.append("call")
            return original(*args, **kwargs)

        def lower(self, *args, **kwargs):
            calls.append("lower")
            return original.lower(*args, **kwargs)

    monkeypatch.setattr(descent, "_descend_one", Spy())
    return calls


def _descend(store, cost="bowl", *, call=CALL, **options):
    return _programs.descend(store, gl.get_cost(cost), X0, call=call, **(options or PLAIN))


# -- hit and miss ------------------------------------------------------------------------------
@pytest.mark.parametrize("options, call", [
    (PLAIN, CALL),
    ({"optimizer": optax.lbfgs(), "steps": 200}, {"optimizer": "lbfgs", "lr": None}),
])
def test_the_second_call_loads_the_program_and_answers_bit_for_bit_the_same(
        store, traced, options, call):
    expected = gl.descend("bowl", X0, **options)
    traced.clear()
    first = _descend(store, call=call, **options)
    assert traced == ["lower"] and len(_entries(store.folder.parent)) == 1  # compiled, kept
    second = _descend(store, call=call, **options)
    assert traced == ["lower"]  # loaded: nothing traced
    assert _same(first, expected) and _same(second, expected)
    assert type(second) is type(expected) and second.message == expected.message


def test_an_optimizer_made_on_request_is_made_only_when_the_program_is_traced(store, traced):
    # the command line's way: a second run loads its program without building the optimiser
    made = []

    def make():
        made.append("made")
        return optax.lbfgs()

    lbfgs = {"optimizer": "lbfgs", "lr": None}
    expected = gl.descend("bowl", X0, optimizer=optax.lbfgs(), steps=200)
    traced.clear()
    first = _descend(store, call=lbfgs, make_optimizer=make, steps=200)
    second = _descend(store, call=lbfgs, make_optimizer=make, steps=200)
    given = _descend(store, call=lbfgs, optimizer=optax.lbfgs(), steps=200)  # the same key
    assert made == ["made"] and traced == ["lower"]
    assert _same(first, expected) and _same(second, expected) and _same(given, expected)
    with pytest.raises(TypeError, match="not both"):
        _descend(store, call=lbfgs, make_optimizer=make, learning_rate=0.1, steps=200)


@needs_script
def test_a_second_run_imports_neither_optax_nor_the_loop(tmp_path):
    # what a second run of `gradlab minimize NAME --method descent` saves (0.2 s of 1 s)
    env = {k: v for k, v in os.environ.items() if k not in ("GRADLAB_NO_CACHE",
                                                            "JAX_COMPILATION_CACHE_DIR")}
    env["GRADLAB_CACHE_DIR"] = str(tmp_path)
    code = ("import sys\nfrom gradlab.cli import main\n"
            "main(['minimize', 'bowl', '--method', 'descent'])\n"
            "print(sorted({'optax', 'gradlab._loop', 'jax.extend'} & set(sys.modules)))")
    runs = [subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                           env=env, timeout=300, check=False) for _ in range(2)]
    for done in runs:
        assert done.returncode == 0 and done.stderr == "", done.stderr
    assert runs[0].stdout.splitlines()[-1] != "[]"  # the first run traced the loop
    assert runs[1].stdout.splitlines()[-1] == "[]"
    assert runs[0].stdout.splitlines()[0] == runs[1].stdout.splitlines()[0]


def test_float32_is_another_program_with_its_own_entry(tmp_path, traced):
    with _cache.persistent_cache(tmp_path) as folder:
        store = _programs.Store(folder)
        for x64 in (True, False, True, False):
            with jax.enable_x64(x64):
                got = _descend(store)
                assert _same(got, gl.descend("bowl", X0, **PLAIN))
                assert got.x.dtype == (np.float64 if x64 else np.float32)
    assert traced.count("lower") == 2 and len(_entries(tmp_path)) == 2


# -- the key: whatever the program depends on ---------------------------------------------------
def _key(store, monkeypatch=None, *, call=CALL, x0=X0, cost="bowl", **options):
    args, static = descent.plan(gl.get_cost(cost), x0, **(options or PLAIN))
    return store.key({"cost": cost, **call}, args, static, jax.devices()[0])


def test_the_key_is_the_same_in_every_process(store, tmp_path):
    code = ("import jax; jax.config.update('jax_enable_x64', True)\n"
            "from gradlab import _cache, _programs, descent\nimport gradlab as gl\n"
            f"with _cache.persistent_cache({str(tmp_path / 'cache')!r}) as folder:\n"
            f"    args, static = descent.plan(gl.get_cost('bowl'), {X0}, **{PLAIN})\n"
            "    print(_programs.Store(folder).key({'cost': 'bowl', **" + repr(CALL) + "}, args,"
            " static, jax.devices()[0]))\n")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=300, check=True)
    assert run.stdout.strip() == _key(store)


@pytest.mark.parametrize("change", [
    "source", "optimizer", "lr", "steps", "cost", "x0 shape", "float32", "jax setting",
    "XLA_FLAGS", "package version"])
def test_any_change_the_program_depends_on_changes_the_key(store, monkeypatch, change):
    before = _key(store)
    if change == "source":  # an edit of gradlab's code
        monkeypatch.setattr(_programs, "source_digest", lambda: "edited")
        after = _key(store)
    elif change == "optimizer":
        after = _key(store, call={"optimizer": "sgd", "lr": 0.1})
    elif change == "lr":
        after = _key(store, call={"optimizer": None, "lr": 0.2}, learning_rate=0.2, steps=10)
    elif change == "steps":
        after = _key(store, learning_rate=0.1, steps=20)
    elif change == "cost":
        after = _key(store, cost="booth")
    elif change == "x0 shape":  # (the call names the same cost: the arguments differ)
        args, static = descent.plan(gl.get_cost("bowl"), X0, **PLAIN)
        args = (args[0], np.zeros(3), *args[2:])
        after = store.key({"cost": "bowl", **CALL}, args, static, jax.devices()[0])
    elif change == "float32":
        with jax.enable_x64(False):
            after = _key(store)
    elif change == "jax setting":
        with jax.default_matmul_precision("highest"):
            after = _key(store)
    elif change == "XLA_FLAGS":
        monkeypatch.setenv("XLA_FLAGS", "--xla_cpu_enable_fast_math=true")
        after = _key(store)
    else:
        _programs._version.cache_clear()
        monkeypatch.setattr(_programs, "_version", lambda name: f"{name}-99")
        after = _key(store)
    assert after != before


def test_an_edited_source_misses_and_keeps_a_new_entry(store, traced, monkeypatch):
    expected = _descend(store)
    monkeypatch.setattr(_programs, "source_digest", lambda: "edited")
    assert _same(_descend(store), expected)
    assert traced == ["lower", "lower"] and len(_entries(store.folder.parent)) == 2


# -- damaged entries ---------------------------------------------------------------------------
@pytest.mark.parametrize("damage", ["empty", "cut short", "a byte changed", "garbage",
                                    "another key's entry", "unloadable payload"])
def test_a_damaged_entry_is_ignored_and_replaced(store, traced, damage):
    expected = _descend(store)
    (entry,) = _entries(store.folder.parent)
    whole = entry.read_bytes()
    key = entry.name.removesuffix(_programs.SUFFIX)
    damaged = {
        "empty": b"",
        "cut short": whole[: len(whole) // 2],
        "a byte changed": whole[:-100] + bytes([whole[-100] ^ 1]) + whole[-99:],
        "garbage": os.urandom(len(whole)),
        "another key's entry": _programs._pack("0" * 64, b"whatever"),
        "unloadable payload": _programs._pack(key, b"not a pickled executable"),
    }[damage]
    entry.write_bytes(damaged)
    assert _same(_descend(store), expected)
    assert traced == ["lower", "lower"]  # compiled again,
    assert entry.read_bytes() != damaged and _programs._unpack(entry.read_bytes(), key)
    assert _same(_descend(store), expected) and traced == ["lower", "lower"]  # and whole again


def test_a_kept_program_that_does_not_run_is_dropped(store, traced, monkeypatch):
    expected = _descend(store)

    class Broken:
        def __call__(self, *args):
            raise RuntimeError("NOT_FOUND: Function multiply_pad_fusion not found")

    monkeypatch.setattr(store, "load", lambda *args: Broken())
    assert _same(_descend(store), expected)
    assert traced == ["lower", "lower"] and len(_entries(store.folder.parent)) == 1


def test_an_executable_read_back_from_jaxs_cache_is_never_what_is_kept(store, traced):
    # XLA:CPU serializes such an executable incompletely: kept, it failed when run
    expected = gl.descend("bowl", X0, **PLAIN)  # compiled, into JAX's cache
    jax.clear_caches()
    traced.clear()
    assert _same(_descend(store), expected)  # kept: compiled afresh, not read back
    jax.clear_caches()
    assert _same(_descend(store), expected)  # loaded, and it runs:
    assert traced == ["lower"]  # not dropped and compiled again


# -- folders that cannot be written, and writers at once ---------------------------------------
def test_a_failed_write_is_said_once_and_answers_stay_right(tmp_path, x64, monkeypatch):
    said = []

    def read_only(*args, **kwargs):
        raise OSError(30, "Read-only file system")

    monkeypatch.setattr(_programs._files, "write_atomically", read_only)
    with _cache.persistent_cache(tmp_path) as folder:
        store = _programs.Store(folder, say=said.append)
        expected = gl.descend("bowl", X0, **PLAIN)
        for options in (PLAIN, {"learning_rate": 0.1, "steps": 20}):
            got = _descend(store, **options)
            assert _same(got, gl.descend("bowl", X0, **options))
    assert said == [f"kept programs: stopped writing in {store.folder}: Read-only file system"]
    assert _entries(tmp_path) == [] and _same(_descend(store), expected)


def test_a_folder_that_cannot_be_made_is_said_once(tmp_path, x64):
    said = []
    with _cache.persistent_cache(tmp_path) as folder:
        (folder / _programs.SUBFOLDER).write_text("a file in its place")
        store = _programs.Store(folder, say=said.append)
        assert _same(_descend(store), gl.descend("bowl", X0, **PLAIN))
        _descend(store)
    assert len(said) == 1 and said[0].startswith("kept programs: stopped writing in ")


@pytest.mark.parametrize("plant", ["writable by every user", "a link", "another user's"])
def test_a_programs_folder_anyone_else_could_write_in_is_neither_read_nor_written(
        store, traced, plant):
    expected = _descend(store)
    programs = store.folder
    if plant == "writable by every user":
        programs.chmod(0o777)
    elif plant == "a link":
        programs.rename(programs.with_name("elsewhere"))
        programs.symlink_to(programs.with_name("elsewhere"))
    elif not ROOT:
        pytest.skip("only root can give a folder to another user")
    else:
        os.chown(programs, 65534, -1)
    said = []
    suspicious = _programs.Store(programs.parent, say=said.append)
    assert _same(_descend(suspicious), expected)
    assert traced == ["lower", "call"]  # not loaded; traced and compiled as usual, not kept
    assert len(said) == 1 and "only this user writes in" in said[0]


@pytest.mark.skipif(ROOT, reason="root writes in read-only folders")
def test_a_read_only_folder_is_still_read(store, traced):
    expected = _descend(store)
    store.folder.chmod(0o500)
    try:
        fresh = _programs.Store(store.folder.parent, say=pytest.fail)
        assert _same(_descend(fresh), expected) and traced == ["lower"]  # loaded
    finally:
        store.folder.chmod(0o700)


@needs_script
def test_two_commands_keeping_one_program_at_once_both_succeed(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("GRADLAB_NO_CACHE",
                                                            "JAX_COMPILATION_CACHE_DIR")}
    env["GRADLAB_CACHE_DIR"] = str(tmp_path)
    argv = [str(SCRIPT), "minimize", "bowl", "--method", "descent"]
    run = lambda _: subprocess.run(argv, capture_output=True, text=True, env=env, timeout=300)
    with ThreadPoolExecutor(2) as pool:
        runs = list(pool.map(run, range(2)))
    for done in runs:
        assert done.returncode == 0 and done.stderr == "", done.stderr
    (entry,) = _entries(tmp_path)  # one entry, whole; no temporary file left
    written = entry.stat().st_mtime_ns
    again = run(None)
    assert again.returncode == 0 and again.stderr == ""
    assert entry.stat().st_mtime_ns == written  # read, not written again
    lines = {done.stdout.splitlines()[0] for done in [*runs, again]}
    assert len(lines) == 1


# -- the command line ----------------------------------------------------------------------------
def test_the_command_line_answers_the_same_with_and_without_kept_programs(
        tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("GRADLAB_CACHE_DIR", str(tmp_path))
    argv = ["minimize", "bowl", "--method", "descent", "--lr", "0.1", "--steps", "10"]
    outputs = []
    for options in (["--no-cache"], [], []):  # off, then kept, then loaded
        assert main([*options, *argv]) == 0
        captured = capsys.readouterr()
        assert captured.err == ""
        outputs.append(captured.out.splitlines()[0])
    assert len(set(outputs)) == 1 and len(_entries(tmp_path)) == 1


@pytest.mark.parametrize("off", [["--no-cache"], ["--cache-dir", "{dir}", "--no-cache"]])
def test_no_cache_keeps_no_program(tmp_path, capsys, monkeypatch, off):
    monkeypatch.setenv("GRADLAB_CACHE_DIR", str(tmp_path))
    off = [a.replace("{dir}", str(tmp_path)) for a in off]
    if "--cache-dir" in off:  # the two together are a mistake, said before anything runs
        with pytest.raises(SystemExit):
            main([*off, "minimize", "bowl", "--method", "descent"])
    else:
        assert main([*off, "minimize", "bowl", "--method", "descent", "--steps", "10"]) == 0
    capsys.readouterr()
    assert not (tmp_path / _programs.SUBFOLDER).exists()


def test_a_users_cost_is_never_kept(tmp_path, capsys, monkeypatch):
    (tmp_path / "mycost.py").write_text(
        "import gradlab as gl\n"
        "bowl = gl.Cost('bowl', lambda p: (p[0] - 1) ** 2 + (p[1] + 1) ** 2,\n"
        "               bounds=[(-5, 5), (-5, 5)])\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("GRADLAB_CACHE_DIR", str(tmp_path / "cache"))
    assert main(["minimize", "--cost", "mycost:bowl", "--method", "descent"]) == 0
    assert "x = [1, -1]" in capsys.readouterr().out
    assert _entries(tmp_path / "cache") == []


def test_a_cost_registered_under_a_builtins_name_is_not_a_builtin(store):
    user = gl.Cost("bowl", lambda p: (p[0] - 1) ** 2 + p[1] ** 2, bounds=[(-5, 5), (-5, 5)])
    assert not gl.costs.is_builtin(user) and gl.costs.is_builtin(gl.get_cost("bowl"))
    got = _programs.descend(store, user, X0, call=CALL, **PLAIN)
    assert _same(got, gl.descend(user, X0, **PLAIN)) and _entries(store.folder.parent) == []


# -- a whole command: the tour's programs (`_programs.keeping`) ------------------------------------
TOUR_CALL = {"command": "a test", "option": 1}


def _block(store):
    """What a command might compute: a grid, an exact solution (LAPACK), the same descent twice."""
    with _programs.keeping(store, TOUR_CALL):
        bowl = gl.get_cost("bowl")
        return (gl.grid_search(bowl, num=20), gl.solve_exact("line"),
                gl.descend(bowl, X0, **PLAIN), gl.descend(bowl, X0, **PLAIN))


@pytest.fixture
def saves(monkeypatch):
    """The keys `Store.save` was given (a load saves nothing)."""
    keys = []
    original = _programs.Store.save

    def save(self, key, compiled):
        keys.append(key)
        return original(self, key, compiled)

    monkeypatch.setattr(_programs.Store, "save", save)
    return keys


def test_a_block_keeps_its_programs_and_the_next_block_loads_them(store, saves):
    expected = _block(None)
    first = _block(store)
    kept = len(_entries(store.folder.parent))
    # grid, combine, affine fit, one descent (its second call reuses the program)
    assert kept == len(saves) == 4
    second = _block(store)
    assert len(saves) == 4 and len(_entries(store.folder.parent)) == kept  # loaded
    assert _same(first, expected) and _same(second, expected)


def test_outside_a_block_nothing_is_kept(store, saves):
    bowl = gl.get_cost("bowl")
    gl.grid_search(bowl, num=20)
    gl.descend(bowl, X0, **PLAIN)
    assert saves == [] and _entries(store.folder.parent) == []


def test_a_program_that_cannot_be_serialized_is_marked_and_compiled_as_usual(
        store, monkeypatch):
    from jax.experimental import serialize_executable

    def refuse(compiled):
        raise RuntimeError("UNIMPLEMENTED: `LessThan` is not serializable.")

    monkeypatch.setattr(serialize_executable, "serialize", refuse)
    expected = _block(None)
    assert _same(_block(store), expected)
    marks = _entries(store.folder.parent)
    assert marks and all(m.suffix == _programs.UNKEPT_SUFFIX for m in marks)
    afresh = []
    monkeypatch.setattr(_cache, "compiling_afresh", lambda: afresh.append(1))
    assert _same(_block(store), expected)  # through JAX's cache, never compiled afresh again
    assert afresh == [] and _entries(store.folder.parent) == marks


def test_a_result_of_another_structure_is_returned_and_never_kept(store):
    kept = _programs.keepable(lambda args, static: (0, 0))(jax.jit(lambda x: x + 1))
    with _programs.keeping(store, TOUR_CALL):
        assert _same(kept(np.arange(3.0)), np.arange(1.0, 4.0))
    (mark,) = _entries(store.folder.parent)
    assert mark.suffix == _programs.UNKEPT_SUFFIX


def test_a_kept_program_that_calls_lapack_runs_in_a_fresh_process(tmp_path):
    """A loaded program is not lowered, and lowering is what gives jaxlib's LAPACK kernels
    their functions: without `_initialize_lapack` the exact solution crashed the process."""
    code = ("import jax; jax.config.update('jax_enable_x64', True)\n"
            "from gradlab import _cache, _programs\nimport gradlab as gl\n"
            f"with _cache.persistent_cache({str(tmp_path)!r}) as folder:\n"
            "    with _programs.keeping(_programs.Store(folder), {'command': 'test'}):\n"
            "        print(repr(gl.solve_exact('line').x.tolist()))\n")
    runs = [subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                           timeout=300) for _ in range(2)]
    for run in runs:
        assert run.returncode == 0, run.stderr[-2000:]
    assert runs[0].stdout == runs[1].stdout
    (entry,) = _entries(tmp_path)
    assert b'"lapack": true' in entry.read_bytes()[:400]


@needs_script
def test_the_tour_answers_the_same_from_its_kept_programs(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("GRADLAB_NO_CACHE",
                                                            "JAX_COMPILATION_CACHE_DIR")}
    env["GRADLAB_CACHE_DIR"] = str(tmp_path / "cache")
    outs = [tmp_path / "cold", tmp_path / "kept"]
    for out in outs:
        done = subprocess.run([str(SCRIPT), "tour", "--quick", "--out", str(out)],
                              capture_output=True, text=True, env=env, timeout=600)
        assert done.returncode == 0 and done.stderr == "", done.stderr[-2000:]
        if out == outs[0]:
            kept = {p: p.stat().st_mtime_ns for p in _entries(tmp_path / "cache")}
    assert kept == {p: p.stat().st_mtime_ns for p in _entries(tmp_path / "cache")}  # all read
    # every program kept, the multistart batch too (no sort in it: `_loop._running_first`)
    assert len(kept) >= 10 and all(p.suffix == _programs.SUFFIX for p in kept)
    for name in ("report.md", *(f for f in os.listdir(outs[0]) if f.endswith(".png"))):
        cold, warm = ((out / name).read_bytes() for out in outs)
        if name == "report.md":  # the same but for the times it measured
            untimed = lambda text: re.sub(rb"[0-9.]+ (ms|s)\b", b"", text)
            cold, warm = untimed(cold), untimed(warm)
        assert cold == warm, name


@pytest.mark.parametrize("own_bowl", [False, True])
def test_the_tour_keeps_its_programs_only_on_the_builtin_costs(tmp_path, monkeypatch, own_bowl):
    """A program that calls `main` may have registered a cost of its own under a name the
    tour computes with: its code is in no key, so nothing may be kept."""
    from gradlab import report, suite

    blocks = []

    def tour(out, **options):  # what the tour would see: the block it runs in
        blocks.append(_programs._keeping.get())
        return report.Tour(out=Path(out), sections=[], seconds=0.0)

    monkeypatch.setattr(report, "run_tour", tour)
    monkeypatch.setenv("GRADLAB_CACHE_DIR", str(tmp_path / "cache"))
    if own_bowl:
        gl.register(gl.Cost("bowl", lambda p: (p[0] - 1) ** 2 + p[1] ** 2,
                            bounds=[(-5, 5), (-5, 5)]), replace=True)
    try:
        assert main(["tour", "--out", str(tmp_path / "tour")]) == 0
    finally:
        gl.costs.register_factory("bowl", suite.BUILTINS["bowl"])
    assert gl.costs.is_builtin(gl.get_cost("bowl"))
    (block,) = blocks
    assert (block is None) == own_bowl
