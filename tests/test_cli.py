"""The command line, in process: every subcommand, and every class of user mistake.

Each mistake must be one line on stderr, exit status 2, refused before anything
is computed (the solvers are replaced by a trap while the table runs) and
before anything is written (the output folder is compared before and after).
`tests/test_cli_script.py` runs the installed console script for what only a
real process shows (aborts, exits, signals).
"""

import os
import re
import signal
import textwrap

import pytest
from in_process import run

import gradlab as gl
from gradlab._cli_checks import to_cli_words

COSTS = '''
import jax.numpy as jnp
import gradlab as gl

square = lambda p: jnp.sum(p ** 2)
bowl3 = gl.Cost("bowl3", square, bounds=[(-1, 1)] * 3)
free = gl.Cost("free", square, names=("a", "b"))               # no bounds
markup = gl.Cost("[/]", square, bounds=[(-1, 1)] * 2)
link = gl.Cost("[link=https://evil.example]click[/link]", square, bounds=[(-1, 1)] * 2)
up = gl.Cost("../escape", square, bounds=[(-1, 1)] * 2)
absolute = gl.Cost("/tmp/gradlab-absolute-escape", square, bounds=[(-1, 1)] * 2)
nan_grad = gl.Cost("nan-grad", square, bounds=[(-1, 1)] * 2, grad=lambda p: p * jnp.nan)
bad_grad = gl.Cost("bad", square, bounds=[(-1, 1)] * 2, grad=lambda p: 2.1 * p)
number = 42


def plain():
    return bowl3


@gl.cost_factory
def made():
    return bowl3


@gl.cost_factory
def fails():
    raise RuntimeError("no data here")


@gl.cost_factory
def wrong():
    return 42


@gl.cost_factory
def exits():
    raise SystemExit(3)
'''
BROKEN = {  # modules that fail as they are imported
    "clisyntax": "def broken(:\n",
    "cliraises": "raise RuntimeError('boom at import')\n",
    "cliexits": "import sys\nsys.exit(0)\n",
    "climissing": "import no_such_dependency_xyz\n",
}


@pytest.fixture(scope="module")
def costs_dir(tmp_path_factory):
    """A folder holding the user's cost modules (found as the current folder, like python -m)."""
    folder = tmp_path_factory.mktemp("usercosts")
    (folder / "clicosts.py").write_text(textwrap.dedent(COSTS))
    for name, text in BROKEN.items():
        (folder / f"{name}.py").write_text(text)
    return folder


@pytest.fixture
def in_costs_dir(costs_dir, monkeypatch):
    monkeypatch.chdir(costs_dir)
    return costs_dir


# -- what works --------------------------------------------------------------------------------
def test_list(capsys):
    code, out, _ = run(capsys, "list", "--dim", "1")
    assert code == 0 and "sine" in out and "rosenbrock" not in out


@pytest.mark.parametrize("before, after", [
    ([], []), (["--float32"], []), ([], ["--float32"]), (["--no-cache"], []), ([], ["--no-cache"]),
    (["--cache-dir", "D"], []), ([], ["--cache-dir", "D"]), (["--float32"], ["--no-cache"]),
])
def test_common_options_are_the_same_before_or_after_the_command(before, after, monkeypatch):
    from gradlab._cli_parser import parse

    args = parse([*before, "list", *after])
    given = before + after
    assert args.float32 == ("--float32" in given) and args.no_cache == ("--no-cache" in given)
    assert args.cache_dir == ("D" if "D" in given else None)


@pytest.mark.parametrize("argv", [["--no-cache", "list", "--cache-dir", "D"],
                                  ["--cache-dir", "D", "list", "--no-cache"],
                                  ["list", "--no-cache", "--cache-dir", "D"]])
def test_no_cache_and_a_cache_folder_conflict_wherever_they_are(capsys, argv):
    code, out, err = run(capsys, *argv)
    assert code == 2 and not out and "not allowed with" in err and err.count("\n") == 1


def test_check_passes_and_fails(capsys, in_costs_dir):
    code, out, _ = run(capsys, "check", "bowl", "--points", "3")
    assert code == 0 and "passed" in out
    code, out, _ = run(capsys, "check", "--cost", "clicosts:bad_grad")
    assert code == 1 and "FAILED" in out


@pytest.mark.parametrize(("method", "extra"), [("grid", ["--num", "300"]),
                                               ("descent", ["--steps", "400"]),
                                               ("multistart", ["--starts", "200"])])
def test_progress_bars_are_fed_from_inside_the_compiled_loop(capsys, monkeypatch, method, extra):
    from rich.progress import Progress

    updates = []
    original = Progress.update
    monkeypatch.setattr(Progress, "update", lambda self, task, **kw: (
        updates.append(kw), original(self, task, **kw))[1])
    code, _, err = run(capsys, "minimize", "bowl", "--method", method, *extra, "--progress")
    assert code == 0 and "Traceback" not in err
    assert updates and updates[-1]["completed"] == updates[-1]["total"]


@pytest.mark.parametrize(("method", "extra", "expect"), [
    ("exact", [], "2.0182"), ("grid", ["--num", "50"], "grid (2500 points)"),
    ("descent", ["--steps", "50"], "converged"),
    ("multistart", ["--starts", "50"], "distinct minima")])
def test_minimize_methods(capsys, method, extra, expect):
    code, out, _ = run(capsys, "minimize", "line", "--method", method, *extra)
    assert code == 0 and expect in out


def test_minimize_with_an_optimizer_and_a_plot(capsys, tmp_path):
    figure = tmp_path / "path.png"
    code, _, _ = run(capsys, "minimize", "rosenbrock", "--optimizer", "adam", "--lr", "0.05",
                     "--steps", "100", "--x0", "-1.2", "1", "--plot", figure)
    assert code == 0 and figure.stat().st_size > 1000
    code, _, err = run(capsys, "minimize", "rosenbrock", "--plot", figure)
    assert code == 2 and "exists; pass --overwrite" in err


@pytest.mark.parametrize(("argv", "written"), [
    (["minimize", "bowl", "--method", "grid", "--num", "20", "--plot", "{tmp}/q"], "q.png"),
    (["minimize", "sine", "--method", "grid", "--num", "50", "--plot", "{tmp}/s.svg"], "s.svg"),
    (["minimize", "bowl", "--method", "grid", "--num", "20", "--plot", "{tmp}/"],
     "bowl-grid.png"),
    (["minimize", "--cost", "clicosts:bowl3", "--steps", "20", "--plot", "{tmp}/h.pdf"],
     "h.pdf"),
    (["landscape", "bowl", "--num", "20", "--out", "{tmp}/"], "bowl.png"),
    (["landscape", "bowl", "--num", "20", "--out", "{tmp}/land"], "land.png"),
])
def test_outputs_get_their_final_name_first(capsys, in_costs_dir, tmp_path, argv, written):
    code, out, err = run(capsys, *[a.replace("{tmp}", str(tmp_path)) for a in argv])
    assert code == 0, err
    assert sorted(p.name for p in tmp_path.iterdir()) == [written]
    assert written in out


def test_landscape_writes_png_and_gif_together(capsys, tmp_path):
    out_file = tmp_path / "h.png"
    code, _, _ = run(capsys, "landscape", "himmelblau", "--num", "40", "--out", out_file,
                     "--animate")
    assert code == 0 and out_file.exists() and out_file.with_suffix(".gif").exists()
    out_file.with_suffix(".gif").unlink()
    code, _, err = run(capsys, "landscape", "himmelblau", "--num", "40", "--out", out_file,
                       "--animate")
    assert code == 2 and "h.png exists" in err and not out_file.with_suffix(".gif").exists()


@pytest.mark.parametrize("cost", ["up", "absolute"])
def test_landscape_names_its_output_safely_after_any_cost(capsys, costs_dir, tmp_path,
                                                          monkeypatch, cost):
    monkeypatch.syspath_prepend(str(costs_dir))
    (tmp_path / "work").mkdir()
    monkeypatch.chdir(tmp_path / "work")
    code, _, err = run(capsys, "landscape", "--cost", f"clicosts:{cost}", "--num", "10")
    assert code == 0, err
    made = os.listdir(tmp_path / "work")
    assert len(made) == 1 and made[0].endswith(".png") and "/" not in made[0]
    assert sorted(os.listdir(tmp_path)) == ["work"]
    assert not os.path.exists("/tmp/gradlab-absolute-escape.png")


def test_overwrite_replaces_a_symlink_never_its_target(capsys, tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    (tmp_path / "fig.png").symlink_to(victim)
    code, _, err = run(capsys, "minimize", "bowl", "--method", "grid", "--num", "20", "--plot",
                       tmp_path / "fig.png", "--overwrite")
    assert code == 0, err
    assert victim.read_text() == "precious" and not (tmp_path / "fig.png").is_symlink()
    assert (tmp_path / "fig.png").read_bytes()[:4] == b"\x89PNG"


def test_printed_values_are_text_not_markup(capsys, in_costs_dir, monkeypatch):
    monkeypatch.setenv("COLUMNS", "300")  # long names on one line of the table
    for name in ("markup", "link"):
        gl.register(getattr(__import__("clicosts"), name))
    try:
        code, out, _ = run(capsys, "list", "--dim", "2")
    finally:
        gl.unregister("[/]")
        gl.unregister("[link=https://evil.example]click[/link]")
    assert code == 0
    assert "[/]" in out and "[link=https://evil.example]click[/link]" in out
    code, out, _ = run(capsys, "check", "--cost", "clicosts:markup", "--points", "2")
    assert code == 0 and "gradient check: [/]" in out
    code, out, _ = run(capsys, "check", "--cost", "clicosts:nan_grad", "--points", "2")
    assert code == 1 and "[nan, nan]" in out  # a NaN gradient is shown, not swallowed as markup


def test_a_marked_cost_factory_is_called(capsys, in_costs_dir):
    code, out, _ = run(capsys, "minimize", "--cost", "clicosts:made", "--method", "exact")
    assert code == 0 and "exact: x = [0, 0, 0]" in out


def test_a_long_gradient_check_prints_its_first_rows(capsys):
    code, out, _ = run(capsys, "check", "bowl", "--points", "100")
    assert code == 0 and "the first 30 of 100 rows" in out


def test_signal_handlers_are_restored(capsys):
    before = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)
    run(capsys, "list", "--dim", "1")
    run(capsys, "check", "nope")
    assert (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)) == before
    assert signal.set_wakeup_fd(-1) == -1  # no wake-up pipe left behind


# -- every class of mistake: one line, exit 2, nothing computed, nothing written -----------------
class ComputedBeforeRefusing(BaseException):
    """Raised by the trapped solvers: the CLI must refuse before it computes."""


SOLVERS = ("solve_exact", "grid_search", "descend", "multistart", "basin_map", "check_gradient")
LIBRARY_WORDS = re.compile(r"(?<![-\w])(n_starts|keep_values|memory_budget|max_points|batch_size|"
                           r"learning_rate|record_every|x0|num=|overwrite=True|gl\.)")

NAMES = [
    (["check", "nope"], "unknown cost 'nope'; known costs: ackley"),
    (["landscape", "levy-x"], "unknown cost"),
    (["minimize", "bowl", "--optimizer", "adagrad"], "choose one of sgd, momentum, adam, lbfgs"),
    (["minimize", "bowl", "--method", "magic"], "argument --method: invalid choice: 'magic'"),
    (["minimize", "bowl", "--cost", "clicosts:bowl3"], "give a cost NAME or --cost, not both"),
    (["check"], "name a cost"),
    (["frobnicate"], "invalid choice: 'frobnicate'"),
]
COST_MODULES = [
    (["check", "--cost", "os:abort"], "--cost os:abort is a built-in function, not a "
     "gradlab.Cost or a function marked @gradlab.cost_factory"),
    (["check", "--cost", "sys:exit"], "is a built-in function"),
    (["check", "--cost", "gradlab:Cost"], "is a class (Cost)"),
    (["check", "--cost", "gradlab:plot"], "is a module"),
    (["check", "--cost", "clicosts:number"], "is an int"),
    (["check", "--cost", "clicosts:plain"], "is a function, not a gradlab.Cost"),
    (["check", "--cost", "clicosts:fails"], "the cost factory raised RuntimeError: no data here"),
    (["check", "--cost", "clicosts:wrong"], "the cost factory returned an int"),
    (["check", "--cost", "clicosts:exits"], "the cost factory raised SystemExit"),
    (["check", "--cost", "clisyntax:c"], "importing 'clisyntax' raised SyntaxError"),
    (["check", "--cost", "cliraises:c"], "raised RuntimeError: boom at import"),
    (["check", "--cost", "cliexits:c"], "importing 'cliexits' raised SystemExit"),
    (["check", "--cost", "climissing:c"], "failed: ModuleNotFoundError"),
    (["check", "--cost", "no_such_module_xyz:cost"], "no module named 'no_such_module_xyz'"),
    (["check", "--cost", "gradlab"], "must look like module:attribute"),
    (["check", "--cost", "../evil:x"], "must look like module:attribute"),
    (["check", "--cost", "gradlab.suite:nothing"], "has no attribute 'nothing'"),
]
NUMBERS = [
    (["minimize", "bowl", "--steps", "0"], "argument --steps: must be at least 1; got 0"),
    (["minimize", "bowl", "--steps", "-5"], "argument --steps: must be at least 1"),
    (["minimize", "bowl", "--steps", "2.5"], "argument --steps: expected a whole number"),
    (["minimize", "bowl", "--steps", "lots"], "argument --steps: expected a number"),
    (["minimize", "bowl", "--method", "multistart", "--starts", "0"], "--starts: must be at least"),
    (["minimize", "bowl", "--method", "grid", "--num", "1"], "argument --num: must be at least 2"),
    (["check", "bowl", "--points", "0"], "argument --points: must be at least 1"),
    (["list", "--dim", "0"], "argument --dim: must be at least 1"),
    (["check", "bowl", "--seed", "-1"], "argument --seed: must be from 0 to 4294967295"),
    (["minimize", "sine", "--method", "multistart", "--seed", str(2**64)], "argument --seed"),
    (["minimize", "sine", "--method", "multistart", "--seed", "1.5"], "argument --seed"),
    (["minimize", "bowl", "--x0", "nan", "1"], "argument --x0: must be finite; got nan"),
    (["minimize", "bowl", "--x0", "1", "inf"], "argument --x0: must be finite"),
    (["minimize", "bowl", "--x0", "1", "2", "3"], "--x0 needs 2 values (one per parameter"),
] + [
    (["minimize", "bowl", *optimizer, "--lr", lr], "argument --lr: must be positive and finite")
    for optimizer in ([], ["--optimizer", "sgd"], ["--optimizer", "momentum"],
                      ["--optimizer", "adam"], ["--optimizer", "lbfgs"])
    for lr in ("-1", "0", "nan", "inf")
]
CONFLICTS = [
    (["minimize", "bowl", "--method", method, *option],
     f"{option[0]} is not used by --method {method}")
    for method, option in [
        ("exact", ["--x0", "1", "2"]), ("grid", ["--x0", "1", "2"]),
        ("multistart", ["--x0", "1", "2"]), ("exact", ["--optimizer", "adam"]),
        ("grid", ["--optimizer", "sgd"]), ("exact", ["--lr", "0.1"]), ("grid", ["--lr", "0.1"]),
        ("grid", ["--steps", "10"]), ("exact", ["--steps", "10"]), ("descent", ["--starts", "9"]),
        ("grid", ["--starts", "9"]), ("descent", ["--num", "9"]), ("multistart", ["--num", "9"]),
        ("descent", ["--polish"]), ("descent", ["--seed", "1"]), ("grid", ["--seed", "1"]),
        ("exact", ["--plot", "x.png"])]
] + [(["minimize", "bowl", "--overwrite"], "--overwrite goes with --plot")]
NEEDS = [  # what a command or method needs of the cost
    (["minimize", "sine", "--method", "exact"], "no closed-form minimum"),
    (["minimize", "--cost", "clicosts:free", "--method", "grid"],
     "--method grid needs a cost with bounds; 'free' has none"),
    (["minimize", "--cost", "clicosts:free", "--method", "multistart"], "needs a cost with bounds"),
    (["minimize", "--cost", "clicosts:free"], "--x0 is needed: 'free' has no bounds"),
    (["check", "--cost", "clicosts:free"], "gradlab check (random points are drawn inside them)"),
    (["minimize", "--cost", "clicosts:bowl3", "--method", "grid", "--num", "5", "--plot", "x.png"],
     "--plot: --method grid draws costs of 1 or 2 parameters; 'bowl3' has 3"),
    (["minimize", "--cost", "clicosts:bowl3", "--method", "multistart", "--plot", "x.png"],
     "draws costs of 1 or 2 parameters"),
    (["landscape", "--cost", "clicosts:bowl3"], "landscape draws costs of 1 or 2 parameters"),
    (["landscape", "sine", "--animate"], "--animate needs a 2-parameter cost; 'sine' has 1"),
    (["list", "--tag", "smoth"], "--tag: no registered cost is tagged 'smoth'; the tags are bowl,"),
    (["list", "--dim", "7"], "--dim: no registered cost has 7 parameters; they have 1, 2"),
    (["list", "--dim", "1", "--tag", "valley"],
     "--dim: no registered cost tagged 'valley' has 1 parameter; those have 2"),
]
SIZES = [
    (["check", "bowl", "--points", "100000000"], "--points 100000000 needs about"),
    (["check", "line", "--points", "1e6"], "--points 1000000 needs about"),
    (["minimize", "sine", "--method", "multistart", "--starts", str(10**9)],
     "--starts 1000000000 needs about"),
    (["minimize", "bowl", "--method", "grid", "--num", str(10**6)], "a grid of 1e+12 points"),
    (["minimize", "--cost", "clicosts:bowl3", "--method", "grid", "--num", "2000"],
     "grid of 8e+09 points"),
    (["minimize", "bowl", "--method", "grid", "--num", "20000", "--plot", "x.png"],
     "--num 20000 needs about"),
    (["minimize", "bowl", "--steps", str(10**9)], "--steps 1000000000 needs about"),
    (["landscape", "bowl", "--num", "5000"], "--num 5000 needs about"),
    (["landscape", "bowl", "--num", "100000"], "grid of 1e+10 points"),
]
OUTPUTS = [
    (["--plot", "{tmp}/missing/x.png"], "--plot: folder {tmp}/missing does not exist"),
    (["--plot", "{tmp}/file/x.png"], "Not a directory"),
    (["--plot", "/proc/gradlab-x.png"], "cannot write in folder /proc"),
    (["--plot", "/proc/self/gradlab-x.png"], "cannot write in folder /proc/self"),
    (["--plot", "/sys/gradlab-x.png"], "cannot write in folder /sys"),
    (["--plot", "{tmp}/" + "x" * 300 + ".png"], "File name too long"),
    (["--plot", "{tmp}/mine.png"], "--plot: {tmp}/mine.png exists; pass --overwrite"),
    (["--plot", "{tmp}/mine"], "{tmp}/mine.png exists"),   # checked after completion
    (["--plot", "{tmp}/link.png"], "(a symbolic link); pass --overwrite to replace the link"),
    (["--plot", "{tmp}/dangling.png"], "symbolic link"),
    (["--plot", "{tmp}/folder", "--overwrite"], "{tmp}/folder.png is a folder"),  # completed
    (["--plot", "{tmp}/x.v2"], ".v2 is not a format gradlab writes here"),
    (["--plot", "{tmp}/x.gif"], ".gif is not a format"),
    (["--plot", ""], "the output path is empty"),
]
OUTPUT_COMMANDS = [
    (["minimize", "sine", "--method", "multistart", "--starts", "50000", *o], m)
    for o, m in OUTPUTS
] + [
    (["landscape", "bowl", "--out", "{tmp}/mine"], "{tmp}/mine.png exists"),
    (["landscape", "himmelblau", "--animate", "--out", "{tmp}/anim"], "{tmp}/anim.gif exists"),
    (["landscape", "bowl", "--out", "{tmp}/file/"], "Not a directory"),
    (["tour", "--out", "{tmp}/file"], "{tmp}/file exists and is not a folder"),
    (["tour", "--out", "{tmp}/linked"], "{tmp}/linked is a symbolic link; pass --overwrite"),
    (["tour", "--out", "{tmp}/missing/tour"], "folder {tmp}/missing does not exist"),
    (["tour", "--out", "{tmp}"], "holds files gradlab did not write"),
    (["tour", "--out", ""], "the output folder's path is empty"),
    (["bench", "--out", "{tmp}/file"], "--out: {tmp}/file exists and is not a folder"),
]
MISTAKES = NAMES + COST_MODULES + NUMBERS + CONFLICTS + NEEDS + SIZES + OUTPUT_COMMANDS
COMPUTES_FIRST = {"no closed-form minimum"}  # found by the solver itself, as it starts


def _plant(folder):
    """What a user may have in the output folder: a file, symlinks, a folder, a GIF."""
    (folder / "mine.png").write_text("mine")
    (folder / "link.png").symlink_to(folder / "mine.png")
    (folder / "dangling.png").symlink_to(folder / "elsewhere.png")
    (folder / "folder.png").mkdir()
    (folder / "file").write_text("a file, not a folder")
    (folder / "anim.gif").write_text("mine")
    (folder / "linked").symlink_to(folder / "folder.png")


def _listing(folder):
    return sorted((p.name, p.is_symlink(), p.is_file() and p.read_bytes())
                  for p in folder.iterdir())


@pytest.mark.parametrize(("argv", "message"), MISTAKES,
                         ids=[" ".join(a)[:60] for a, _ in MISTAKES])
def test_every_mistake_is_one_line_exit_2_before_any_work(capsys, in_costs_dir, tmp_path,
                                                          monkeypatch, argv, message):
    argv = [a.replace("{tmp}", str(tmp_path)) for a in argv]
    message = message.replace("{tmp}", str(tmp_path))
    if any(a.startswith("/sys/") for a in argv) and not os.path.isdir("/sys"):
        pytest.skip("no /sys on this system")
    _plant(tmp_path)
    before = _listing(tmp_path)
    if message not in COMPUTES_FIRST:
        def trap(*args, **kwargs):
            raise ComputedBeforeRefusing(f"{argv}: computed before refusing")
        for name in SOLVERS:
            monkeypatch.setattr(gl, name, trap)
    code, out, err = run(capsys, *argv)
    assert code == 2, (out, err)
    assert message in err
    assert len(err.splitlines()) == 1 and err.startswith("gradlab") and "Traceback" not in err
    assert not LIBRARY_WORDS.search(err), f"a library keyword in {err!r}"
    assert _listing(tmp_path) == before
    assert not os.path.exists("/tmp/gradlab-absolute-escape.png")


# -- library messages, in the command line's words ---------------------------------------------
@pytest.mark.parametrize(("command", "library", "cli"), [
    ("minimize", "n_starts must be at least 1; got 0", "--starts must be at least 1; got 0"),
    ("minimize", "x0 must have 2 entries per point", "--x0 must have 2 entries per point"),
    ("minimize", "learning_rate must be positive and finite; got -1",
     "--lr must be positive and finite; got -1"),
    ("minimize", "num must be at least 2 on every axis; got 1",
     "--num must be at least 2 on every axis; got 1"),
    ("check", "n must be at least 1; got 0", "--points must be at least 1; got 0"),
    ("minimize", "out.png exists; pass overwrite=True to replace it",
     "out.png exists; pass --overwrite to replace it"),
    ("minimize", "cost 'sine' has no closed-form minimum. Use gl.grid_search(cost) or "
     "gl.descend(cost, x0, ...) instead.",
     "cost 'sine' has no closed-form minimum. Use --method grid or --method descent instead."),
    ("minimize", "keeping the table of 1e+12 values needs 7629395 MiB, over 4 x memory_budget "
     "(256 MiB): pass keep_values=False (the best point is still found) or raise memory_budget",
     "keeping the table of 1e+12 values needs 7629395 MiB, over 4 x the library's memory "
     "budget (256 MiB)"),
])
def test_library_messages_are_said_in_flags(command, library, cli):
    said = to_cli_words(library, command)
    assert said == cli and not LIBRARY_WORDS.search(said)



@pytest.mark.parametrize("argv", [["landscape", "bowl"], ["landscape", "bowl", "--out", "x.png"],
                                  ["minimize", "bowl", "--plot", "p.png"],
                                  ["tour", "--quick"], ["fit", "d.csv", "--model", "linear",
                                                        "--plot", "f.png"]])
def test_processes_other_than_0_write_only_in_a_scratch_folder(argv, tmp_path, monkeypatch):
    # several processes compute; only process 0 writes where the user asked (README)
    import contextlib
    from pathlib import Path

    from gradlab import cli
    from gradlab._cli_parser import parse

    monkeypatch.chdir(tmp_path)
    args = parse(argv)
    with contextlib.ExitStack() as stack:
        cli._hide_output(args, stack)
        outputs = [getattr(args, name, None) for name in ("out", "plot")]
        outputs = [Path(o) for o in outputs if o is not None]
        assert outputs and all(tmp_path not in [o, *o.parents] for o in outputs)
