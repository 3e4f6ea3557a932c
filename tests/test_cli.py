"""The command line: every subcommand, and its error paths with their exit codes."""

import pytest

from gradlab.cli import main


def run(capsys, *argv):
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_list(capsys):
    code, out, _ = run(capsys, "list", "--dim", "1")
    assert code == 0 and "sine" in out and "rosenbrock" not in out


def test_check_passes_and_fails(capsys, tmp_path, monkeypatch):
    code, out, _ = run(capsys, "check", "bowl", "--points", "3")
    assert code == 0 and "passed" in out
    (tmp_path / "mycosts.py").write_text(
        "import jax.numpy as jnp, gradlab as gl\n"
        "bad = gl.Cost('bad', lambda p: jnp.sum(p**2), bounds=[(-1, 1)] * 2,\n"
        "              grad=lambda p: 2.1 * p)\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    code, out, _ = run(capsys, "check", "--cost", "mycosts:bad")
    assert code == 1 and "FAILED" in out


@pytest.mark.parametrize(("method", "expect"), [
    ("exact", "2.0182"), ("grid", "grid (2500 points)"), ("descent", "converged"),
    ("multistart", "distinct minima")])
def test_minimize_methods(capsys, method, expect):
    extra = ["--starts", "50"] if method == "multistart" else ["--num", "50"]
    code, out, _ = run(capsys, "minimize", "line", "--method", method, *extra)
    assert code == 0 and expect in out


def test_minimize_with_an_optimizer_and_a_plot(capsys, tmp_path):
    figure = tmp_path / "path.png"
    code, _, _ = run(capsys, "minimize", "rosenbrock", "--optimizer", "adam", "--lr", "0.05",
                       "--steps", "100", "--x0", "-1.2", "1", "--plot", str(figure))
    assert code == 0 and figure.stat().st_size > 1000
    code, _, err = run(capsys, "minimize", "rosenbrock", "--plot", str(figure))
    assert code == 2 and "exists" in err


def test_landscape_and_animation(capsys, tmp_path):
    out_file = tmp_path / "h.png"
    code, _, _ = run(capsys, "landscape", "himmelblau", "--num", "40", "--out", str(out_file),
                       "--animate")
    assert code == 0 and out_file.exists() and out_file.with_suffix(".gif").exists()


@pytest.mark.parametrize(("argv", "message"), [
    (["check", "nope"], "unknown cost 'nope'; known costs: ackley"),
    (["minimize", "bowl", "--optimizer", "adagrad"], "choose one of sgd, momentum, adam, lbfgs"),
    (["minimize", "sine", "--method", "exact"], "no closed-form minimum"),
    (["minimize", "bowl", "--method", "grid", "--num", "1"], "num must be at least 2"),
    (["minimize", "bowl", "--steps", "0"], "steps must be at least 1"),
    (["minimize", "bowl", "--method", "multistart", "--starts", "0"],
     "n_starts must be at least 1"),
    (["check", "--cost", "no_such_module_xyz:cost"], "cannot import"),
    (["check", "--cost", "gradlab"], "package.module:attribute"),
    (["check", "--cost", "gradlab.suite:nothing"], "has no attribute"),
    (["check"], "name a cost"),
    (["landscape", "levy-x"], "unknown cost"),
    (["minimize", "bowl", "--x0", "1", "2", "3"], "x0 must have 2 entries"),
])
def test_user_mistakes_are_one_line_and_exit_2(capsys, argv, message):
    code, _, err = run(capsys, *argv)
    assert code == 2 and message in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_unknown_method_is_argparse_exit_2(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["minimize", "bowl", "--method", "magic"])
    assert exc.value.code == 2
