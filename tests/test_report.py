"""gradlab tour: every figure and both reports, and it never overwrites the user's files."""

import html
import re

import numpy as np
import pytest

import gradlab as gl
from gradlab import _i18n
from gradlab.cli import main
from gradlab.report import FIGURES, md_escape, run_tour


@pytest.fixture(scope="module")
def tour(tmp_path_factory):
    return run_tour(tmp_path_factory.mktemp("tour") / "out", quick=True)


def test_tour_writes_every_figure_and_both_reports(tour):
    assert len(tour.figures) == 11
    for name in tour.figures:
        assert (tour.out / name).stat().st_size > 5000
    md = (tour.out / "report.md").read_text()
    html = (tour.out / "report.html").read_text()
    for name in tour.figures:
        assert f"({name})" in md and f'src="{name}"' in html
    titles = [s.title for s in tour.sections]
    assert titles[0].endswith("The data") and titles[-1].endswith("Three ways to the minimum")


def test_tour_numbers_tell_the_course_story(tour):
    sections = {s.title.split(". ", 1)[1]: s for s in tour.sections}
    assert "(2.0000, -3.0000)" in sections["Gradient descent on the bowl"].text
    line = gl.get_cost("line")  # L: the Hessian's largest eigenvalue, by hand
    x = np.asarray(line.data.x)
    hessian = 2 * np.array([[np.mean(x * x), np.mean(x)], [np.mean(x), 1.0]])
    limit = 2 / np.linalg.eigvalsh(hessian).max()
    assert f"2/L = {limit:.4g}" in sections["How large can the learning rate be?"].text
    minima = sections["Many starts at once"].table
    assert minima[1][0] == "10.0000" and minima[1][3] == "yes"
    compare = sections["Three ways to the minimum"].table
    assert [row[0] for row in compare[1:]] == ["exact", "grid 120×120", "descent (L-BFGS)"]


def test_tour_gives_the_lines_standard_errors_of_textbook_regression(tour):
    # Independent reference: ordinary least squares by hand, s² = RSS/(N−2),
    # se(m) = s/√Sxx, se(b) = s·√(1/N + x̄²/Sxx); interval with Student's t (scipy).
    from scipy import stats

    sections = {s.title.split(". ", 1)[1]: s for s in tour.sections}
    table = sections["The exact solution"].table
    assert table[0] == ["parameter", "value", "standard error", "95% low", "95% high"]
    line = gl.get_cost("line")
    x, y = np.asarray(line.data.x, np.float64), np.asarray(line.data.y, np.float64)
    n, xbar = x.size, x.mean()
    sxx = np.sum((x - xbar) ** 2)
    m = np.sum((x - xbar) * (y - y.mean())) / sxx
    b = y.mean() - m * xbar
    s = np.sqrt(np.sum((y - m * x - b) ** 2) / (n - 2))
    t = stats.t.ppf(0.975, n - 2)
    for row, value, se in zip(table[1:], (m, b), (s / np.sqrt(sxx),
                                                   s * np.sqrt(1 / n + xbar**2 / sxx)),
                              strict=True):
        shown = [float(c) for c in row[1:]]
        # the table rounds to 6 significant digits (5e-6); the tour runs in float32
        # (JAX's default), whose rounding adds a few eps
        np.testing.assert_allclose(shown, [value, se, value - t * se, value + t * se],
                                   rtol=5e-6 + 64 * np.finfo(np.float32).eps)
    assert "(converged)" in sections["The exact solution"].text


def test_tour_refuses_a_folder_with_other_files(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(FileExistsError, match="did not write"):
        run_tour(tmp_path, quick=True)
    assert (tmp_path / "notes.txt").read_text() == "mine"


def test_tour_from_the_command_line_rewrites_its_own_folder(tour, capsys):
    # in the fixture's width (float32): the same programs, not compiled again (the float64
    # tour from the command line is test_programs')
    argv = ["tour", "--quick", "--float32", "--out", str(tour.out)]
    assert main(argv) == 0  # an earlier tour's folder
    assert "report.md and report.html written" in capsys.readouterr().out
    (tour.out / "mine.txt").write_text("mine")
    assert main(argv) == 2
    assert "did not write" in capsys.readouterr().err


def test_report_md_escapes_what_report_html_escapes(tmp_path):
    from gradlab.report import Section, Tour, write_html, write_markdown

    hostile = "a|b *bold* _it_ `code` [link](http://x) <script> & ~s~ \\\nnext"
    escaped = r"a\|b \*bold\* \_it\_ \`code\` \[link\](http://x) \<script\> \& \~s\~ \\ next"
    tour = Tour(out=tmp_path, seconds=1.0, sections=[
        Section(hostile, hostile, table=[["h|1", "h*2"], [hostile, "[x]"]]),
        Section("# title", "1. not a list"), Section("t", "- not a list either")])
    md = write_markdown(tour).read_text().splitlines()
    html = write_html(tour).read_text()
    assert "<script>" not in html
    assert f"## {escaped}" in md and escaped in md  # the title and the text, each one line
    assert rf"| {escaped} | \[x\] |" in md and r"| h\|1 | h\*2 |" in md
    assert "## # title" in md and r"1\. not a list" in md and r"\- not a list either" in md


def test_a_symlink_planted_in_an_earlier_tour_is_never_written_through(tour, tmp_path):
    import shutil

    import matplotlib.pyplot as plt

    from gradlab.report import _Writer

    out = tmp_path / "tour"
    shutil.copytree(tour.out, out)
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    (out / "01_data.png").unlink()
    (out / "01_data.png").symlink_to(victim)
    with pytest.raises(FileExistsError, match="did not write"):  # a plain rerun is refused
        run_tour(out, quick=True, progress=lambda title: pytest.fail("computed first"))
    _, ax = plt.subplots()  # with --overwrite each figure replaces the link, atomically
    ax.plot([0, 1])
    _Writer(out).figure(ax, "01_data.png")
    assert victim.read_text() == "precious"
    assert not (out / "01_data.png").is_symlink() and (out / "01_data.png").stat().st_size > 1000
    assert not [p for p in out.iterdir() if ".part" in p.name]  # no temporary left


@pytest.mark.parametrize("plant", ["symlinked folder", "folder in a file's place", "a file"])
def test_tour_refuses_before_computing(tmp_path, plant):
    out = tmp_path / "out"
    if plant == "symlinked folder":
        (tmp_path / "real").mkdir()
        out.symlink_to(tmp_path / "real")
        message = "symbolic link"
    elif plant == "folder in a file's place":
        (out / "report.md").mkdir(parents=True)
        message = "did not write|is a folder"
    else:
        out.write_text("mine")
        message = "not a folder"
    for overwrite in (False, True):
        if plant == "symlinked folder" and overwrite:
            continue  # then the link is replaced by a real folder (tested in test_files)
        with pytest.raises(OSError, match=message):
            run_tour(out, quick=True, overwrite=overwrite,
                     progress=lambda title: pytest.fail("computed before refusing"))


# -- the tour in Spanish (gradlab tour --lang es) --------------------------------------------
@pytest.fixture(scope="module")
def tour_es(tmp_path_factory):
    return run_tour(tmp_path_factory.mktemp("tour") / "es", quick=True, lang="es")


_NUMBER = re.compile(r"\d+(?:\.\d+)?(?:e[+-]\d+)?%?")


def _sentences(text: str) -> set[str]:
    """Runs of three words or more, cut at sentence and clause ends."""
    parts = re.split(r"[.;:!?()\[\]|\n]+|, ", text)
    return {p.strip() for p in parts if len(p.split()) >= 3}


def test_the_spanish_tour_has_no_english_sentence_of_the_english_tour(tour, tour_es):
    english = {s for s in _sentences((tour.out / "report.md").read_text())  # tables too
               if re.search("[a-z]{4}", s)}
    assert len(english) > 30
    spanish = (tour_es.out / "report.md").read_text() + (tour_es.out / "report.html").read_text()
    assert not {s for s in english if s in spanish}
    assert len(tour_es.sections) == len(tour.sections)
    assert tour_es.sections[6].title == "7. Descenso de gradiente en el tazón"


def test_the_spanish_tour_tells_the_same_numbers(tour, tour_es):
    for en, es in zip(tour.sections, tour_es.sections, strict=True):
        assert _NUMBER.findall(es.title) == _NUMBER.findall(en.title)
        assert _NUMBER.findall(es.text) == _NUMBER.findall(en.text), en.title
        if en.table and not en.title.startswith("11."):  # (11: timings differ run to run)
            numbers = lambda rows: [_NUMBER.findall(c) for r in rows[1:] for c in r[1:]]
            assert numbers(es.table) == numbers(en.table)


def test_the_spanish_report_declares_its_language_and_describes_each_figure(tour_es):
    page = (tour_es.out / "report.html").read_text()
    md = (tour_es.out / "report.md").read_text()
    assert page.startswith('<!doctype html><html lang="es">')
    assert "<title>El recorrido de gradlab</title>" in page
    assert md.startswith("# El recorrido de gradlab")
    for name in FIGURES:
        alt = _i18n.text("es", f"alt.{name}")
        assert f'alt="{html.escape(alt)}"' in page and f"![{md_escape(alt)}]({name})" in md
    assert "_Calculado en " in md


def test_the_english_report_stays_english(tour):
    page = (tour.out / "report.html").read_text()
    assert page.startswith('<!doctype html><html lang="en">')
    assert 'alt="The 100 noisy data points and the true line y = 2x − 3."' in page
