"""The installed ``gradlab`` console script, run in a subprocess as a user runs it.

What only a real process shows: ``--cost os:abort`` must not abort it and
``--cost sys:exit`` must not exit 0; a module in the current folder is found;
symlinks, unwritable folders and completed names end to end; Ctrl-C and
SIGTERM on a long computation. The quick cases run concurrently, once per
module, since each process spends seconds importing JAX.
"""

import os
import shutil
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

SCRIPT = (shutil.which("gradlab", path=os.path.dirname(sys.executable))
          or shutil.which("gradlab"))
pytestmark = pytest.mark.skipif(SCRIPT is None, reason="the gradlab console script is not "
                                "installed (pip install -e '.[dev]')")
ROOT = hasattr(os, "geteuid") and os.geteuid() == 0
ENV = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1", "COLUMNS": "200"}

USER_FILES = {
    "mycost.py": "import jax.numpy as jnp, gradlab as gl\n"
                 "c = gl.Cost('mine', lambda p: jnp.sum(p ** 2), bounds=[(-1, 1)] * 2)\n",
    "broken.py": "def c(:\n",
    "exits.py": "import sys\nsys.exit(0)\n",
    "hostile.py": "import jax.numpy as jnp, gradlab as gl\n"
                  "c = gl.Cost('../../escape', lambda p: jnp.sum(p ** 2), bounds=[(-1, 1)] * 2)\n",
    "mine.png": "mine",
    "victim.txt": "precious",
    "old-tour/.gradlab-tour": "written by gradlab tour\n",
    "old-tour/report.md": "# an earlier tour\n",
}
LINKS = {"link.png": "victim.txt", "link2.png": "victim.txt", "dangling.png": "nowhere.png",
         "old-tour/01_data.png": "../victim.txt"}

# (id, argv, what stderr must say); every one: exit 2, exactly one line, no traceback.
# The other classes of mistake are in test_cli.py's table, run in process.
MISTAKES = [
    ("abort", ["check", "--cost", "os:abort"], "--cost os:abort is a built-in function, not a "
     "gradlab.Cost or a function marked @gradlab.cost_factory"),
    ("exit", ["check", "--cost", "sys:exit"], "--cost sys:exit is a built-in function"),
    ("_exit", ["check", "--cost", "os:_exit"], "is a built-in function"),
    ("syntax error", ["check", "--cost", "broken:c"], "importing 'broken' raised SyntaxError"),
    ("exit at import", ["check", "--cost", "exits:c"], "importing 'exits' raised SystemExit"),
    ("argparse", ["minimize", "bowl", "--steps", "abc"], "argument --steps: expected a number"),
    ("ascent", ["minimize", "bowl", "--optimizer", "adam", "--lr", "-1"],
     "argument --lr: must be positive and finite; got -1"),
    ("proc", ["minimize", "bowl", "--method", "grid", "--plot", "/proc/x.png"],
     "cannot write in folder /proc"),
    ("read-only", ["minimize", "bowl", "--method", "grid", "--plot", "{ro}/x.png"],
     "cannot write in folder"),
    ("symlink", ["minimize", "bowl", "--method", "grid", "--num", "10", "--plot", "link.png"],
     "link.png exists (a symbolic link); pass --overwrite"),
    ("dangling", ["minimize", "bowl", "--method", "grid", "--num", "10", "--plot",
                  "dangling.png"], "dangling.png exists (a symbolic link)"),
    ("completed", ["landscape", "bowl", "--num", "10", "--out", "mine"], "mine.png exists"),
    ("tour symlink", ["tour", "--quick", "--out", "old-tour"], "did not write"),
    ("fit a folder", ["fit", "old-tour", "--model", "linear"], "old-tour is a folder, not a CSV "
     "file"),
]
# (id, argv, a file it must write)
SUCCESSES = [
    ("current folder", ["check", "--cost", "mycost:c", "--points", "2"], None),
    ("overwrite a symlink", ["minimize", "bowl", "--method", "grid", "--num", "10", "--plot",
                             "link2.png", "--overwrite"], "link2.png"),
    ("extension", ["landscape", "bowl", "--num", "10", "--out", "q"], "q.png"),
    ("safe default name", ["landscape", "--cost", "hostile:c", "--num", "10"], "_escape.png"),
]


def gradlab(argv, cwd, **kwargs):
    return subprocess.run([SCRIPT, *argv], cwd=cwd, env=ENV, capture_output=True, text=True,
                          timeout=300, **kwargs)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    """The user's folder: their modules, a file, symlinks, an earlier tour with a planted link."""
    folder = tmp_path_factory.mktemp("user")
    for name, text in USER_FILES.items():
        (folder / name).parent.mkdir(exist_ok=True)
        (folder / name).write_text(text)
    for name, target in LINKS.items():
        (folder / name).symlink_to(target)
    read_only = folder / "ro"
    read_only.mkdir()
    read_only.chmod(0o555)
    return folder


@pytest.fixture(scope="module")
def runs(workdir):
    """Every quick case, run concurrently: {id: CompletedProcess}."""
    read_only = "/sys" if ROOT else str(workdir / "ro")  # root ignores permission bits
    cases = {i: [a.replace("{ro}", read_only) for a in argv]
             for i, argv, _ in MISTAKES + SUCCESSES}
    with ThreadPoolExecutor(max_workers=4) as pool:
        futures = {i: pool.submit(gradlab, argv, workdir) for i, argv in cases.items()}
        return {i: f.result() for i, f in futures.items()}


@pytest.mark.parametrize(("case", "message"), [(i, m) for i, _, m in MISTAKES],
                         ids=[i for i, _, _ in MISTAKES])
def test_a_mistake_is_one_line_and_exit_2(runs, case, message):
    result = runs[case]
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert message in result.stderr
    assert len(result.stderr.splitlines()) == 1 and result.stderr.startswith("gradlab")
    assert "Traceback" not in result.stderr and result.stdout == ""


@pytest.mark.parametrize(("case", "written"), [(i, w) for i, _, w in SUCCESSES],
                         ids=[i for i, _, _ in SUCCESSES])
def test_what_a_user_runs_works(runs, workdir, case, written):
    result = runs[case]
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    if written:
        path = workdir / written
        assert path.read_bytes()[:4] == b"\x89PNG" and not path.is_symlink()


def test_nothing_was_written_through_a_link_or_outside_the_folder(runs, workdir):
    assert (workdir / "victim.txt").read_text() == "precious"
    assert (workdir / "mine.png").read_text() == "mine"
    assert (workdir / "link.png").is_symlink() and (workdir / "old-tour/01_data.png").is_symlink()
    assert not (workdir / "nowhere.png").exists()
    assert not (workdir.parent / "escape.png").exists()
    assert not (workdir.parent.parent / "escape.png").exists()
    assert not [p for p in workdir.rglob("*") if ".part" in p.name or "probe" in p.name]
    assert sorted(p.name for p in (workdir / "old-tour").iterdir()) == [
        ".gradlab-tour", "01_data.png", "report.md"]


def _handles(pid: int, signum: int) -> bool:
    """Whether process ``pid`` has a handler for ``signum`` (Linux's /proc/PID/status)."""
    with open(f"/proc/{pid}/status") as status:
        caught = next(line for line in status if line.startswith("SigCgt:")).split()[1]
    return bool(int(caught, 16) >> (signum - 1) & 1)


# A multistart that computes for about a minute (plain descent, tiny steps: no start converges)
LONG_RUN = ["minimize", "himmelblau", "--method", "multistart", "--starts", "200000",
            "--optimizer", "sgd", "--lr", "1e-7", "--steps", "1000", "--plot", "out.png"]


@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="reads /proc/PID/status")
@pytest.mark.parametrize(("signum", "code", "line"), [
    (signal.SIGINT, 130, "gradlab: interrupted"), (signal.SIGTERM, 143, "gradlab: terminated")])
def test_a_signal_while_the_command_line_loads_is_one_line(tmp_path, signum, code, line):
    proc = subprocess.Popen([SCRIPT, "list"], cwd=tmp_path, env=ENV, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while not _handles(proc.pid, signal.SIGTERM):  # the console script's first lines ran
            assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
            time.sleep(0.002)
        proc.send_signal(signum)  # while gradlab and JAX are still being imported
        _, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == code and err == line + "\n"


@pytest.mark.slow
@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="reads /proc/PID/status")
@pytest.mark.parametrize(("signum", "code", "line"), [
    (signal.SIGINT, 130, "gradlab: interrupted"), (signal.SIGTERM, 143, "gradlab: terminated")])
def test_a_signal_ends_a_long_run_at_once_leaving_nothing(tmp_path, signum, code, line):
    proc = subprocess.Popen([SCRIPT, *LONG_RUN], cwd=tmp_path, env=ENV, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while not _handles(proc.pid, signal.SIGTERM):  # main() is running: its watcher is set
            assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
            time.sleep(0.1)
        time.sleep(3)  # into the compiled descents
        assert proc.poll() is None, "the run ended before it could be interrupted"
        sent = time.monotonic()
        proc.send_signal(signum)
        _, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert time.monotonic() - sent < 10  # at once, not when the computation ends
    assert proc.returncode == code and err == line + "\n"
    assert list(tmp_path.iterdir()) == []  # no figure, no temporary file
    rerun = gradlab([*LONG_RUN[:5], "100", "--plot", "out.png"], tmp_path)
    assert rerun.returncode == 0, rerun.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.png"]
