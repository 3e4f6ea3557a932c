"""``gradlab fit``: the built-in curves recover known parameters from their own starts, the CSV
rules hold, every mistake in a file or an option is one line and exit status 2, and what the
command prints is what `gl.fit` computes.

Every fit runs in float64 on 80 points, so each curve compiles once for the whole file.
"""

import json
import sys
import textwrap

import jax
import numpy as np
import pytest
from in_process import run

import gradlab as gl
from gradlab import curves

N = 80
X = np.linspace(0.0, 5.0, N)
XPOS = np.linspace(0.5, 5.0, N)  # power: x > 0

# (curve, true parameters); noise is 1% of the clean curve's range
CASES = [
    ("linear", (2.0, -3.0)), ("linear", (-0.5, 10.0)), ("linear", (1e3, 1e-3)),
    ("poly3", (1.0, -2.0, 0.5, 0.1)), ("poly3", (-4.0, 0.0, 3.0, 0.0)),
    ("exp", (3.0, 0.7, 1.0)), ("exp", (-2.0, 2.0, 0.5)), ("exp", (5.0, 0.1, 0.0)),
    ("exp", (1.0, -0.3, 2.0)), ("exp", (100.0, 8.0, -1.0)),
    ("gaussian", (2.0, 2.5, 0.5, 1.0)), ("gaussian", (-1.0, 1.0, 0.2, 0.0)),
    ("gaussian", (5.0, 4.0, 1.5, -2.0)), ("gaussian", (1.0, 2.5, 0.08, 0.1)),
    ("gaussian0", (2.0, 2.5, 0.7)), ("gaussian0", (-3.0, 1.0, 1.2)),
    ("logistic", (2.0, 3.0, 2.5, 1.0)), ("logistic", (-1.0, 10.0, 1.0, 0.0)),
    ("logistic", (3.0, 1.0, 4.0, -1.0)), ("logistic", (-1.0, 2.0, 2.0, 1.0)),
    ("sine", (2.0, 4.0, 1.0, 1.0)), ("sine", (0.5, 15.0, -2.0, 0.0)),
    ("sine", (1.0, 1.5, 0.3, 3.0)), ("sine", (3.0, 30.0, 2.0, -1.0)),
    ("power", (2.0, 1.5)), ("power", (0.5, -0.7)), ("power", (-3.0, 0.5)), ("power", (10.0, 3.0)),
]


def synthetic(name, true, seed=0):
    curve = curves.get_curve(name)
    x = XPOS if curve.positive_x else X
    clean = np.asarray(curve.model(np.asarray(true), x))
    noise = 0.01 * np.ptp(clean) * np.random.default_rng(seed).standard_normal(N)
    return curve, x, clean + noise


@pytest.fixture(autouse=True)
def _x64():
    with jax.enable_x64(True):
        yield


@pytest.mark.parametrize(("name", "true"), CASES, ids=[f"{n}{t}" for n, t in CASES])
def test_each_curve_recovers_known_parameters_from_its_own_start(name, true):
    curve, x, y = synthetic(name, true)
    p0 = curve.start(x, y)
    fit = curves.tidy_fit(curve, gl.fit(gl.fit_cost(curve.model, (x, y)), p0))
    assert bool(fit.success), fit.message
    error = np.abs(np.asarray(fit.x) - np.asarray(true))
    assert np.all(error <= 6 * np.asarray(fit.stderr) + 1e-9 * np.abs(true)), (fit.x, true)


def test_the_sine_is_tidied_to_one_form_with_its_covariance():
    curve, x, y = synthetic("sine", (2.0, 4.0, 1.0, 1.0))
    fit = gl.fit(gl.fit_cost(curve.model, (x, y)), [-2.0, -4.0, -1.0 + 6 * np.pi, 1.0])
    tidy = curves.tidy_fit(curve, fit)
    a, w, phi, _ = np.asarray(tidy.x)
    assert a > 0 and w > 0 and -np.pi < phi <= np.pi
    np.testing.assert_allclose(tidy.x, [2.0, 4.0, 1.0, 1.0], atol=0.05)
    np.testing.assert_allclose(tidy.stderr, fit.stderr)  # the same uncertainties
    np.testing.assert_allclose(curve.model(tidy.x, x), curve.model(fit.x, x), atol=1e-9)


# -- the command line ---------------------------------------------------------------------------
def write_csv(path, x, y, *, header="x,y", sep=",", extra=None):
    rows = [header] if header else []
    for i, (a, b) in enumerate(zip(x, y)):
        cells = [repr(float(a)), repr(float(b))] + ([repr(float(extra[i]))] if extra is not None
                                                     else [])
        rows.append(sep.join(cells))
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    folder = tmp_path_factory.mktemp("fitdata")
    _, x, y = synthetic("exp", (3.0, 0.7, 1.0))
    sigma = np.full(N, 0.03)
    write_csv(folder / "decay.csv", x, y, header="time,signal,dy", extra=sigma)
    write_csv(folder / "bare.csv", x, y, header=None)
    return folder, x, y, sigma


@pytest.mark.parametrize("name", ["linear", "poly3", "exp", "gaussian", "gaussian0", "logistic",
                                  "sine", "power"])
def test_the_command_recovers_each_built_in_curve(capsys, tmp_path, name):
    true = next(t for n, t in CASES if n == name)
    curve, x, y = synthetic(name, true)
    code, out, err = run(capsys, "fit", write_csv(tmp_path / "d.csv", x, y), "--model", name,
                         "--json")
    assert code == 0, err
    report = json.loads(out)
    assert [p["name"] for p in report["parameters"]] == list(curve.names)
    for p, t in zip(report["parameters"], true):
        assert abs(p["value"] - t) <= 6 * p["stderr"] + 1e-9 * abs(t)


def test_json_is_the_library_fit_and_only_json(capsys, data):
    folder, x, y, _ = data
    code, out, err = run(capsys, "fit", folder / "decay.csv", "--model", "exp", "--json")
    assert code == 0 and err == ""
    report = json.loads(out)  # nothing else on stdout
    curve = curves.get_curve("exp")
    fit = gl.fit(gl.fit_cost(curve.model, (x, y)), curve.start(x, y))
    np.testing.assert_allclose([p["value"] for p in report["parameters"]], fit.x, rtol=1e-9)
    np.testing.assert_allclose([p["stderr"] for p in report["parameters"]], fit.stderr,
                               rtol=1e-6)
    np.testing.assert_allclose([[p["ci_low"], p["ci_high"]] for p in report["parameters"]],
                               fit.conf_int(0.95), rtol=1e-6)
    assert report["rss"] == pytest.approx(float(fit.rss), rel=1e-9)
    assert report["dof"] == N - 3 and report["n_points"] == N
    assert report["status"] == "CONVERGED" and report["success"] is True
    assert report["columns"] == {"x": "time", "y": "signal", "sigma": None}


def test_sigma_column_weights_the_fit_as_the_library_does(capsys, data):
    folder, x, y, sigma = data
    curve = curves.get_curve("exp")
    for extra, absolute in (([], False), (["--absolute-sigma"], True)):
        code, out, err = run(capsys, "fit", folder / "decay.csv", "--model", "exp", "--x",
                             "time", "--y", "signal", "--sigma", "dy", *extra, "--json")
        assert code == 0, err
        report = json.loads(out)
        fit = gl.fit(gl.fit_cost(curve.model, (x, y)), curve.start(x, y), sigma=sigma,
                     absolute_sigma=absolute)
        np.testing.assert_allclose([p["stderr"] for p in report["parameters"]], fit.stderr,
                                   rtol=1e-6)
        assert report["absolute_sigma"] is absolute and report["columns"]["sigma"] == "dy"


@pytest.mark.parametrize("columns", [[], ["--x", "1", "--y", "2"], ["--x", "time", "--y", "2"]])
def test_header_or_not_columns_by_name_or_number_give_one_fit(capsys, data, columns):
    folder = data[0]
    values = []
    for file in ("decay.csv", "bare.csv"):
        if file == "bare.csv" and "time" in columns:
            continue
        code, out, err = run(capsys, "fit", folder / file, "--model", "exp", *columns, "--json")
        assert code == 0, err
        values.append([p["value"] for p in json.loads(out)["parameters"]])
    assert all(v == values[0] for v in values)


def test_the_table_is_printed_in_english_or_spanish(capsys, data):
    code, out, _ = run(capsys, "fit", data[0] / "decay.csv", "--model", "exp")
    assert code == 0
    for word in ("parameter", "± stderr", "95% low", "RSS", "degrees of freedom", "converged",
                 "y = a·exp(−k·x) + c", "the point is stationary at the problem's scale"):
        assert word in out
    code, out, _ = run(capsys, "fit", data[0] / "decay.csv", "--model", "exp", "--lang", "es")
    assert code == 0 and "parámetro" in out and "grados de libertad" in out and "convergió" in out
    assert "estacionario a la escala del problema" in out and "stationary" not in out


def test_every_status_and_note_has_its_sentence_in_each_language():
    from gradlab import _i18n
    from gradlab._fit_record import notes  # noqa: F401  (the keys it returns are these)

    keys = [f"status.detail.{s.name}" for s in gl.Status]
    keys += [f"fit.note.{k}" for k in ("held", "rank", "nonfinite", "dof")]
    values = {"params": "0", "rank": 1, "free": 2, "dof": 0}
    for key in keys:
        for lang in _i18n.LANGUAGES:
            assert _i18n.text(lang, key, **values).strip()
        assert _i18n.text("en", key, **values) != _i18n.text("es", key, **values)


def test_parameters_the_curve_ignores_are_reported_and_exit_1(capsys, user_dir, data):
    x = data[1]
    write_csv(user_dir / "line.csv", x, 2 * x + 1)
    code, out, _ = run(capsys, "fit", "line.csv", "--model", "fitmodels:ignores_b",
                       "--p0", "1,1", "--json")
    report = json.loads(out)
    assert code == 1 and [k for k, _ in report["notes"]] == ["rank"]
    code, out, _ = run(capsys, "fit", "line.csv", "--model", "fitmodels:ignores_b", "--p0", "1,1",
                       "--lang", "es")
    assert code == 1 and "no todos los parámetros cambian la curva" in out


def test_plot_writes_a_png_and_keeps_the_output_rules(capsys, data, tmp_path):
    figure = tmp_path / "fit.png"
    argv = ["fit", data[0] / "decay.csv", "--model", "exp", "--sigma", "3", "--plot", figure]
    code, out, err = run(capsys, *argv)
    assert code == 0, err
    assert figure.read_bytes()[:4] == b"\x89PNG" and "figure written to" in out
    code, _, err = run(capsys, *argv)
    assert code == 2 and "exists; pass --overwrite" in err
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    (tmp_path / "link.png").symlink_to(victim)
    code, _, err = run(capsys, *argv[:-1], tmp_path / "link.png", "--overwrite")
    assert code == 0, err
    assert victim.read_text() == "precious" and not (tmp_path / "link.png").is_symlink()


# -- a user's model -----------------------------------------------------------------------------
USER = '''
import jax.numpy as jnp
from gradlab.curves import Curve


def sat(p, x):
    return p[0] * (1 - jnp.exp(-p[1] * x))


saturation = Curve("saturation", sat, ("ymax", "rate"), "y = ymax·(1 − exp(−rate·x))",
                   p0=lambda x, y: [y.max(), 1.0 / (x.max() - x.min())])
no_start = Curve("no-start", sat, ("ymax", "rate"))
bad_start = Curve("bad-start", sat, ("ymax", "rate"), p0=lambda x, y: [1.0])


def kinked(p, x):  # slope 2 or more: on data of slope 1.9 its best is a kink (it stalls)
    return (2 + 3 * jnp.abs(p[0] - 0.3)) * x + p[1]


def wrong_shape(p, x):
    return jnp.ones(3)


def raises(p, x):
    raise RuntimeError("my bug")


def exits(p, x):
    raise SystemExit(3)


def complex_valued(p, x):
    return p[0] * x + 1j * p[1]


def ignores_b(p, x):  # b never reaches the curve: not identifiable
    return p[0] * x + 0.0 * p[1]


number = 3
'''


@pytest.fixture
def user_dir(tmp_path, monkeypatch):
    (tmp_path / "fitmodels.py").write_text(textwrap.dedent(USER))
    monkeypatch.chdir(tmp_path)  # the current folder is searched first, as python -m does
    monkeypatch.delitem(sys.modules, "fitmodels", raising=False)
    yield tmp_path
    sys.modules.pop("fitmodels", None)


def test_a_user_curve_and_a_user_function(capsys, user_dir):
    x = np.linspace(0.0, 4.0, N)
    y = 2.0 * (1 - np.exp(-1.3 * x)) + 0.01 * np.random.default_rng(1).standard_normal(N)
    write_csv(user_dir / "sat.csv", x, y)
    code, out, err = run(capsys, "fit", "sat.csv", "--model", "fitmodels:saturation", "--json")
    assert code == 0, err
    report = json.loads(out)
    assert [p["name"] for p in report["parameters"]] == ["ymax", "rate"]
    np.testing.assert_allclose([p["value"] for p in report["parameters"]], [2.0, 1.3], rtol=0.02)
    code, out, err = run(capsys, "fit", "sat.csv", "--model", "fitmodels:sat", "--p0", "1,1",
                         "--json")
    assert code == 0, err
    plain = json.loads(out)
    assert [p["name"] for p in plain["parameters"]] == ["p[0]", "p[1]"]
    np.testing.assert_allclose([p["value"] for p in plain["parameters"]],
                               [p["value"] for p in report["parameters"]], rtol=1e-7)


def test_a_fit_that_does_not_converge_says_so_and_exits_1(capsys, user_dir, data):
    x = data[1]
    y = 1.9 * x + 1 + 0.1 * np.random.default_rng(0).standard_normal(x.size)  # slope < 2
    write_csv(user_dir / "line.csv", x, y)
    code, out, _ = run(capsys, "fit", "line.csv", "--model", "fitmodels:kinked", "--p0", "1,1")
    assert code == 1 and "did not converge" in out and "stalled" in out
    code, out, _ = run(capsys, "fit", "line.csv", "--model", "fitmodels:kinked", "--p0=1,1",
                       "--json")
    report = json.loads(out)
    assert code == 1 and report["success"] is False and report["status"] == "STALLED"


# -- every mistake: one line, exit 2, nothing fitted ----------------------------------------------
LINE = "x,y\n1,2\n2,4.1\n3,5.9\n4,8.2\n"
MISTAKES = [  # (file name, its content or None, options, what stderr says)
    ("d.csv", LINE, ["--model", "fitmodels:exits", "--p0", "1,1"],
     "--model fitmodels:exits: calling it as model(params, x) raised SystemExit: 3"),
    ("d.csv", LINE, ["--model", "fitmodels:complex_valued", "--p0", "1,1"],
     "--model fitmodels:complex_valued returned values of dtype complex"),
    ("u.csv", "x,y\n1,1_000\n2,2\n3,3\n", [], "u.csv, line 2, column 'y' (2): '1_000' is not "
     "a number"),
    ("w.csv", "x,y\n1,\uff12\n2,2\n3,3\n", [], "w.csv, line 2, column 'y' (2): "),
    ("m.csv", "x,y\n1,\u22122\n2,2\n3,3\n", [], "m.csv, line 2, column 'y' (2): "),
    ("missing.csv", None, [], "missing.csv: no such file"),
    ("folder", "<dir>", [], "folder is a folder, not a CSV file"),
    ("empty.csv", "", [], "empty.csv is empty"),
    ("blank.csv", "\n\n  \n", [], "blank.csv is empty"),
    ("header.csv", "x,y\n", [], "header.csv has a header but no rows of data"),
    ("one.csv", "x\n1\n2\n", [], "one.csv has one column; gradlab fit needs two or more"),
    ("d.csv", LINE, ["--y", "z"], "d.csv has no column named 'z'; its columns are 'x', 'y' "
     "(or numbers 1 to 2)"),
    ("d.csv", LINE, ["--y", "3"], "d.csv has 2 columns, numbered from 1 to 2; got column 3"),
    ("d.csv", LINE, ["--x", "0"], "got column 0"),
    ("bare.csv", "1,2\n2,4\n3,6\n4,8\n", ["--y", "y"], "bare.csv has no header row, so columns "
     "are chosen by number, 1 to 2; got 'y'"),
    ("dup.csv", "t,y,y\n1,2,2\n2,3,3\n3,4,4\n", ["--y", "y"], "column name 'y' is ambiguous: "
     "columns 2 and 3 are both named 'y'; choose one by its number"),
    ("text.csv", "x,y\n1,2\n2,abc\n3,4\n4,5\n", [], "text.csv, line 3, column 'y' (2): 'abc' "
     "is not a number"),
    ("comma.csv", 'x,y\n1,"2,5"\n2,3\n3,4\n', [], "'2,5' is not a number (a decimal comma? "
     "then separate the columns with ';')"),
    ("nan.csv", "x,y\n1,2\n2,nan\n3,\n4,inf\n5,6\n6,7\n", [], "nan.csv: 3 rows with an empty, "
     "NaN or inf cell in 'y' (lines 3, 4, 5); fix them, or pass --drop-nan"),
    ("allnan.csv", "x,y\n1,nan\n2,nan\n", ["--drop-nan"], "every row has an empty, NaN or inf"),
    ("ragged.csv", "x,y\n1,2\n2,3,4\n3,5\n", [], "ragged.csv, line 3: 3 fields, but the header "
     "has 2 (separated by commas); every row needs the same number of columns"),
    ("two.csv", "x,y\n1,2\n2,4\n", [], "--model linear has 2 parameters and needs at least 3 "
     "points"),
    ("flat.csv", "x,y\n3,1\n3,2\n3,3\n3,4\n", [], "x ('x') takes only 1 distinct value (3); "
     "--model linear has 2 parameters and needs at least 2 different x"),
    ("s.csv", "x,y,s\n1,2,0.1\n2,4,0\n3,6,0.1\n4,8,-1\n", ["--sigma", "s"], "--sigma column "
     "'s' must be positive; s.csv has zero or negative values at lines 3, 5"),
    ("bin.csv", b"\x89PNG\x00\x00", [], "bin.csv holds NUL bytes: a binary file, not CSV text"),
    ("latin.csv", "x,año\n1,2\n".encode("latin-1"), [], "latin.csv, line 1: not UTF-8 text "
     "(byte 0xf1)"),
    ("z.csv", "x,y\n0,1\n1,2\n2,3\n3,4\n", ["--model", "power"], "--model power (y = a·x^b) "
     "needs x > 0; x ('x') is 0 at line 2"),
    ("d.csv", LINE, ["--model", "poly11"], "unknown --model 'poly11'; built-in models: linear, "
     "exp, gaussian, gaussian0, logistic, sine, power, polyK (K from 1 to 10)"),
    ("d.csv", LINE, ["--model", "cubic"], "unknown --model 'cubic'"),
    ("d.csv", LINE, ["--p0", "1,2,3"], "--p0 needs 2 values (one per parameter: m, b); got 3"),
    ("d.csv", LINE, ["--p0", "1,nan"], "argument --p0: must be finite; got nan"),
    ("d.csv", LINE, ["--p0", "1,x"], "argument --p0: expected a number; got 'x'"),
    ("d.csv", LINE, ["--absolute-sigma"], "--absolute-sigma goes with --sigma"),
    ("d.csv", LINE, ["--overwrite"], "--overwrite goes with --plot"),
    ("d.csv", LINE, ["--plot", "d.gif"], ".gif is not a format gradlab writes here"),
    ("d.csv", LINE, ["--plot", "mine.png"], "mine.png exists; pass "
     "--overwrite"),
    ("d.csv", LINE, ["--lang", "fr"], "argument --lang: invalid choice: 'fr'"),
    # a user's model
    ("d.csv", LINE, ["--model", "fitmodels:sat"], "--model fitmodels:sat is a plain function: "
     "give its start with --p0"),
    ("d.csv", LINE, ["--model", "fitmodels:no_start"], "--model fitmodels:no_start declares no "
     "starting point (p0): give one with --p0 (2 values: ymax, rate)"),
    ("d.csv", LINE, ["--model", "fitmodels:bad_start"], "its starting point p0(x, y) raised "
     "ValueError: curve 'bad-start': p0(x, y) returned 1 values"),
    ("d.csv", LINE, ["--model", "fitmodels:wrong_shape", "--p0", "1,1"], "returned a prediction "
     "of shape (3,) for 4 points; it must return one value per x"),
    ("d.csv", LINE, ["--model", "fitmodels:raises", "--p0", "1,1"], "--model fitmodels:raises: "
     "calling it as model(params, x) raised RuntimeError: my bug"),
    ("d.csv", LINE, ["--model", "fitmodels:number"], "--model fitmodels:number is an int, not a "
     "gradlab.curves.Curve or a Python function model(params, x)"),
    ("d.csv", LINE, ["--model", "os:abort"], "--model os:abort is a built-in function"),
    ("d.csv", LINE, ["--model", "fitmodels:nothing"], "--model: module 'fitmodels' has no "
     "attribute 'nothing'"),
    ("d.csv", LINE, ["--model", "no_such_module_xyz:f"], "--model: no module named "
     "'no_such_module_xyz'"),
    ("d.csv", LINE, ["--model", "fitmodels:sat", "--p0", "1,-1000"], "is not finite at the "
     "start"),
]


@pytest.mark.parametrize(("name", "content", "options", "message"), MISTAKES,
                         ids=[f"{n}{' '.join(o)}"[:50] for n, _, o, _ in MISTAKES])
def test_every_mistake_is_one_line_exit_2_before_any_fit(capsys, user_dir, monkeypatch, name,
                                                         content, options, message):
    if content == "<dir>":
        (user_dir / name).mkdir()
    elif isinstance(content, bytes):
        (user_dir / name).write_bytes(content)
    elif content is not None:
        (user_dir / name).write_text(content, encoding="utf-8")
    (user_dir / "mine.png").write_text("mine")
    monkeypatch.setattr(gl, "fit", lambda *a, **k: pytest.fail("fitted before refusing"))
    model = [] if "--model" in options else ["--model", "linear"]
    code, out, err = run(capsys, "fit", name, *model, *options)
    assert code == 2, (out, err)
    assert message in err
    assert len(err.splitlines()) == 1 and err.startswith("gradlab") and "Traceback" not in err
    assert (user_dir / "mine.png").read_text() == "mine"


# -- what careless files get: a correct fit --------------------------------------------------------
LINE_X = np.round(np.linspace(1.0, 8.0, N), 4)  # N points: the linear fit compiled above
LINE_Y = np.round(2.0 * LINE_X - 3.0 + 0.01 * np.random.default_rng(2).standard_normal(N), 6)
ASCII = "".join(f"{a},{b}\n" for a, b in zip(LINE_X.tolist(), LINE_Y.tolist()))
FILES = {
    "crlf": ("x,y\r\n" + ASCII.replace("\n", "\r\n")).encode(),
    "bom": b"\xef\xbb\xbf" + ("x,y\n" + ASCII).encode(),
    "utf16 tabs": ("x\ty\n" + ASCII.replace(",", "\t")).encode("utf-16"),
    "semicolons, decimal commas": ("x;y\n" + ASCII.replace(",", ";").replace(".", ",")).encode(),
    "spaces": ("# measured today\nx  y\n" + ASCII.replace(",", "   ")).encode(),
    "quoted": ('"x","y"\n' + "".join(f'"{a}","{b}"\n' for a, b in zip(LINE_X.tolist(),
                                                                     LINE_Y.tolist()))).encode(),
    "blank lines at the end": ("x,y\n" + ASCII + "\n\n   \n").encode(),
    "unicode names": ("tiempo (s),señal µV\n" + ASCII).encode(),
    "a text column": ("x,y,label\n" + "".join(f"{a},{b},p{i}\n" for i, (a, b) in
                                               enumerate(zip(LINE_X.tolist(),
                                                             LINE_Y.tolist())))).encode(),
}


@pytest.mark.parametrize("kind", list(FILES))
def test_careless_files_give_the_right_fit(capsys, tmp_path, kind):
    (tmp_path / "d.csv").write_bytes(FILES[kind])
    extra = ["--y", "señal µV"] if kind == "unicode names" else []
    code, out, err = run(capsys, "fit", tmp_path / "d.csv", "--model", "linear", *extra,
                         "--json")
    assert code == 0, err
    m, b = np.polyfit(LINE_X, LINE_Y, 1)
    np.testing.assert_allclose([p["value"] for p in json.loads(out)["parameters"]], [m, b],
                               rtol=1e-9)


def test_drop_nan_leaves_rows_out_with_a_warning(capsys, tmp_path):
    (tmp_path / "d.csv").write_text("x,y\n" + ASCII + "9,nan\n10,\n")
    code, out, err = run(capsys, "fit", tmp_path / "d.csv", "--model", "linear", "--drop-nan",
                         "--json")
    assert code == 0 and "warning: left out 2 row(s)" in err and f"line(s) {N + 2}, {N + 3}" in err
    report = json.loads(out)
    assert report["n_points"] == N and report["dropped_lines"] == [N + 2, N + 3]


def test_a_column_name_like_a_flag_is_not_rewritten(capsys, tmp_path):
    (tmp_path / "d.csv").write_text("x0,y\n1,2\n2,3\n")
    code, _, err = run(capsys, "fit", tmp_path / "d.csv", "--model", "linear", "--y", "q")
    assert code == 2 and "its columns are 'x0', 'y'" in err


def test_float32_on_request_without_warnings(capsys, data):
    code, out, err = run(capsys, "--float32", "fit", data[0] / "decay.csv", "--model", "linear",
                         "--json")  # (warnings are errors in this suite)
    assert code == 0 and err == ""
    assert json.loads(out)["success"] is True
