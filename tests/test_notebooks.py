"""The course notebooks: what their one source gives, and they run top to bottom.

examples/notebooks/build.py writes examples/curso.ipynb (es) and examples/course.ipynb
(en) from examples/notebooks/course_source.py. Here: the committed files are exactly
what the generator writes now (so an edit to the source without a rebuild fails), they
carry no outputs, and their code is the same but for the parameters cell. Then both run
in Jupyter kernels on this interpreter, one after the other, sharing a JAX compilation
cache (the second kernel reads back the programs the first compiled: the code is the
same), and the outputs the text relies on are checked: the gradient check catches the missing 2, the
hand loop and `descend` agree, the rate above 2/L diverges, the single descent on the
sine is trapped, the multistart finds w = 10 as the global minimum, and the fit's
intervals hold the true line.
"""

import asyncio
import importlib.util
import os
import re
import sys
import time
from pathlib import Path

import nbclient
import nbformat
import pytest
from ipykernel.kernelspec import write_kernel_spec
from jupyter_client import AsyncKernelManager
from jupyter_client.kernelspec import KernelSpecManager
from traitlets import default

ROOT = Path(__file__).resolve().parents[1]
SOURCE_DIR = ROOT / "examples" / "notebooks"


def _build_module():
    spec = importlib.util.spec_from_file_location("notebook_build", SOURCE_DIR / "build.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


build = _build_module()
LANGS = tuple(build.NOTEBOOKS)  # ("es", "en")


def _read(lang):
    return nbformat.read(build.NOTEBOOKS[lang], as_version=4)


def _code(nb):
    return [c for c in nb.cells if c.cell_type == "code"]


# -- the committed files ----------------------------------------------------------------------

@pytest.mark.parametrize("lang", LANGS)
def test_committed_notebook_is_what_the_source_gives(lang):
    committed = build.NOTEBOOKS[lang].read_text(encoding="utf-8")
    assert committed == build.render(lang), (
        f"{build.NOTEBOOKS[lang].name} is out of date with examples/notebooks/course_source.py;"
        " run: python examples/notebooks/build.py")


def test_the_generator_is_deterministic_and_check_writes_nothing(tmp_path, monkeypatch):
    assert build.render("es") == build.render("es")
    before = {lang: path.stat().st_mtime_ns for lang, path in build.NOTEBOOKS.items()}
    assert build.main(["--check"]) == 0
    assert {lang: p.stat().st_mtime_ns for lang, p in build.NOTEBOOKS.items()} == before
    stale = {"es": tmp_path / "curso.ipynb", "en": tmp_path / "course.ipynb"}
    stale["es"].write_text("{}", encoding="utf-8")
    monkeypatch.setattr(build, "NOTEBOOKS", stale)
    assert build.main(["--check"]) == 1  # one stale, one missing
    assert stale["es"].read_text(encoding="utf-8") == "{}" and not stale["en"].exists()


@pytest.mark.parametrize("lang", LANGS)
def test_committed_notebook_has_no_outputs(lang):
    nb = _read(lang)
    nbformat.validate(nb)
    for cell in _code(nb):
        assert cell.outputs == [] and cell.execution_count is None, cell.id


def test_the_two_notebooks_share_their_code_and_keep_their_text_in_step():
    es, en = _read("es"), _read("en")
    assert [c.cell_type for c in es.cells] == [c.cell_type for c in en.cells]
    assert [c.id for c in es.cells] == [c.id for c in en.cells]
    for a, b in zip(es.cells, en.cells, strict=True):
        if "parameters" in a.metadata.get("tags", []):
            assert (a.source, b.source) == ("LANG = 'es'", "LANG = 'en'")
            assert b.metadata == a.metadata
        elif a.cell_type == "code":
            assert a.source == b.source, a.id
        else:
            assert a.source != b.source, f"{a.id}: the same text in both languages"
            # the same formulas and code words, in the same order, in both languages
            # (a language named in a command, `--lang es`, is each notebook's own)
            words = lambda text: [re.sub(r"--lang (es|en)", "--lang LANG", w) for w in
                                  re.findall(r"\$\$?[^$]+\$\$?|`[^`]+`", text)]
            assert words(a.source) == words(b.source), a.id
    assert sum("parameters" in c.metadata.get("tags", []) for c in es.cells) == 1


# -- running them -----------------------------------------------------------------------------

# ipykernel's own backend: headless like Agg, and it puts each figure in the cell's outputs.
# Set here so a user's MPLBACKEND (a GUI backend, or Agg, which shows nothing) cannot leak in.
INLINE = "module://matplotlib_inline.backend_inline"
PROBE = "import sys\nprint(sys.prefix)"  # appended: which interpreter ran the kernel
KERNEL = "gradlab-test-python"


def _client(nb, kernels):
    """A client whose kernel runs on this interpreter, whatever kernelspecs the user has.

    The notebooks ask for ``python3``, which Jupyter finds in this environment
    (ipykernel installs it in ``sys.prefix/share/jupyter``) unless the user's own
    ``python3`` (``ipykernel install --user``, often another Python) comes first in
    Jupyter's search path. The tests name a spec of their own instead, written by
    ipykernel for ``sys.executable`` into ``kernels``, and look nowhere else.
    """

    class Manager(AsyncKernelManager):
        @default("kernel_spec_manager")
        def _kernel_spec_manager_default(self):
            return KernelSpecManager(kernel_dirs=[str(kernels)])

    return nbclient.NotebookClient(nb, kernel_name=KERNEL, kernel_manager_class=Manager,
                                   timeout=240,
                                   resources={"metadata": {"path": str(ROOT / "examples")}})


def _jax_cache_environment(folder) -> dict:
    """JAX's own settings (read from the environment when a kernel imports JAX) for a
    persistent cache of every program in ``folder``."""
    return {"JAX_COMPILATION_CACHE_DIR": str(folder),
            "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS": "0",
            "JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES": "-1"}


async def _execute(lang, kernels, jax_cache):
    nb = _read(lang)
    nb.cells.append(nbformat.v4.new_code_cell(PROBE))
    client = _client(nb, kernels)
    start = time.perf_counter()
    await client.async_execute(env={**os.environ, "MPLBACKEND": INLINE,
                                    **_jax_cache_environment(jax_cache)})
    return nb, time.perf_counter() - start


@pytest.fixture(scope="module")
def executed(tmp_path_factory):
    """Both notebooks, one after the other (a kernel each); {lang: (notebook, seconds)}.

    Not at the same time: the second reads back from the shared cache what the first
    compiled (measured: both at once took 59 s of CPU, 50 s on the clock, load 9).
    """
    kernels = tmp_path_factory.mktemp("kernels")
    write_kernel_spec(kernels / KERNEL)  # argv: sys.executable -m ipykernel_launcher
    jax_cache = tmp_path_factory.mktemp("jax-cache")

    start = time.perf_counter()
    runs = {lang: asyncio.run(_execute(lang, kernels, jax_cache)) for lang in LANGS}
    total = time.perf_counter() - start
    print("\nnotebooks: " + ", ".join(f"{lang} {s:.1f} s" for lang, (_, s) in runs.items())
          + f"; both, one after the other: {total:.1f} s")
    return runs


def _text(cell):
    """What a cell printed and displayed as text (stdout, markdown tables)."""
    parts = []
    for out in cell.outputs:
        if out.output_type == "stream":
            parts.append(out.text.rstrip("\n"))
        elif "text/markdown" in out.get("data", {}):
            parts.append(out.data["text/markdown"].rstrip("\n"))
    return "\n".join(parts)


def _output(nb, marker):
    """The text output of the one code cell whose source contains ``marker``."""
    cells = [c for c in _code(nb) if marker in c.source]
    assert len(cells) == 1, f"{len(cells)} code cells contain {marker!r}"
    return _text(cells[0])


def _value(text, name):
    match = re.search(rf"{re.escape(name)} = ([-+0-9.e]+|True|False)", text)
    assert match, f"no '{name} = ...' in {text!r}"
    return match.group(1)


@pytest.mark.slow
@pytest.mark.parametrize("lang", LANGS)
def test_notebook_runs_top_to_bottom_on_this_interpreter(executed, lang):
    nb, _ = executed[lang]
    cells = _code(nb)
    assert [c.execution_count for c in cells] == list(range(1, len(cells) + 1))
    for cell in cells:
        for out in cell.outputs:
            assert out.output_type != "error", (cell.id, out.get("ename"), out.get("evalue"))
            assert out.get("name") != "stderr", (cell.id, out.text)  # no warnings either
    assert cells[-1].outputs[0].text.strip() == sys.prefix
    for cell in cells:  # every figure is drawn inline, once
        images = sum("image/png" in out.get("data", {}) for out in cell.outputs)
        assert images == cell.source.count("plt.show()"), cell.id


@pytest.mark.slow
@pytest.mark.parametrize("lang", LANGS)
def test_the_outputs_say_what_the_text_says(executed, lang):
    nb, _ = executed[lang]
    # the mean squared error by hand and gl.fit_cost agree; not even the true line costs 0
    costs = []
    for line in _output(nb, "def mse(").splitlines():
        _, by_hand, by_gradlab = line.split("=")
        assert by_hand.strip() == by_gradlab.strip()
        costs.append(float(by_hand))
    assert len(costs) == 2 and 0.0 < costs[0] < costs[1]
    # the grid's best point lies within one spacing of the exact answer
    assert _output(nb, "exact = gl.solve_exact(line)").splitlines()[-1] == "True"
    # the hand-made gradient passes; forgetting the 2 fails with a relative error of exactly 1/2
    check = _output(nb, "check = gl.check_gradient")
    assert _value(check, "passed") == "True"
    errors = [[float(c) for c in r.strip("|").split("|")[-2:]] for r in check.splitlines()
              if r.startswith("| [")]
    assert len(errors) == 8  # the analytic one to rounding, finite differences coarser
    assert max(a for a, _ in errors) < 1e-12 < max(f for _, f in errors)
    wrong = _output(nb, "def forgot_the_two(")
    assert _value(wrong, "passed") == "False"
    assert float(_value(wrong, "analytic_rel_error")) == pytest.approx(0.5, abs=1e-6)
    # gl.descend ends where the hand-written loop does
    assert _value(_output(nb, "traj = gl.descend(bowl"), "np.allclose(traj.x, x)") == "True"
    # 5%, 30%, 90% of 2/L do not diverge; 105% does
    statuses = re.findall(r"α = [0-9.]+: (\w+)", _output(nb, "runs = [gl.descend(line"))
    assert len(statuses) == 4 and statuses[-1] == "DIVERGED"
    assert "DIVERGED" not in statuses[:-1]
    # one descent from w = 25 is trapped in a local minimum, with a higher cost than w = 10's
    one = _output(nb, "one = gl.descend(sine")
    assert abs(float(_value(one, "w")) - 10.0) > 1.0 and float(_value(one, "J")) > 0.1
    # the multistart finds w = 10 as the one global minimum, reached by only some starts
    table = _output(nb, "ms = gl.multistart(sine")
    rows = [[c.strip() for c in r.strip("|").split("|")] for r in table.splitlines()
            if r.startswith("| ") and not r.startswith("| w ")]
    assert len(rows) > 1, table
    global_rows = [r for r in rows if r[3] == "True"]
    assert len(global_rows) == 1 and float(global_rows[0][0]) == pytest.approx(10.0, abs=1e-3)
    assert float(global_rows[0][1]) == pytest.approx(0.0, abs=1e-6)
    assert 0.0 < float(global_rows[0][4].rstrip("%")) < 100.0
    assert "best = [10.]" in table
    # the fit's table names both parameters, and its 95% intervals hold the true line
    fit = _output(nb, "fit = gl.fit(line")
    assert "converged" in fit
    assert "| parameter | value | stderr | 95% low | 95% high |" in fit
    assert re.search(r"^\| m \| ", fit, re.M) and re.search(r"^\| b \| ", fit, re.M)
    assert _output(nb, "truth = np.array").strip() == "low <= truth <= high: [ True  True]"
