"""report.html in a real browser (headless Chromium, .ci/browser_check.py): the checker finds
what a person would see, and the report's page passes it at desktop and phone widths.

Skipped, with the reason, where no Chromium is installed; .ci/run installs it and also
checks the pages of a real tour, in both languages.
"""

import importlib.util
import sys
from pathlib import Path

import matplotlib.pyplot as plt
import pytest

from gradlab.report import FIGURES, Section, Tour, write_html

_spec = importlib.util.spec_from_file_location(
    "browser_check", Path(__file__).resolve().parents[1] / ".ci" / "browser_check.py")
browser_check = importlib.util.module_from_spec(_spec)
sys.modules["browser_check"] = browser_check  # (its dataclasses look their module up)
_spec.loader.exec_module(browser_check)

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(browser_check.find_browser() is None,
                       reason="no Chromium installed (apt-get install chromium); .ci/run "
                       "installs it and runs the browser check"),
]

GOOD = ('<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<link rel="icon" href="data:,"><style>img{{max-width:100%}}</style></head>'
        '<body><img src="a.png" alt="a figure">{extra}</body></html>')


@pytest.fixture(scope="module")
def browser():
    with browser_check.Chromium() as chromium:
        yield chromium


def _png(path: Path, width_in: float = 9.0) -> None:
    fig, ax = plt.subplots(figsize=(width_in, 3))  # 900 px at dpi 100: wider than a phone
    ax.plot([0, 1], [1, 0])
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _page(folder: Path, extra: str = "") -> Path:
    _png(folder / "a.png")
    page = folder / "page.html"
    page.write_text(GOOD.format(extra=extra), encoding="utf-8")
    return page


@pytest.mark.parametrize("viewport", list(browser_check.VIEWPORTS))
def test_a_good_page_passes_and_its_screenshot_is_saved(browser, tmp_path, viewport):
    shot = tmp_path / "shot.png"
    visit = browser_check.visit(browser, _page(tmp_path), viewport, shot)
    assert visit.problems == []
    assert visit.facts["images"][0]["naturalWidth"] == 900
    assert visit.facts["innerWidth"] == browser_check.VIEWPORTS[viewport][0]
    assert shot.read_bytes().startswith(b"\x89PNG")


@pytest.mark.parametrize("extra, problem", [
    ('<img src="missing.png" alt="gone">', "image missing.png did not load"),
    ("<script>console.error('boom')</script>", "console.error: boom"),
    ("<script>console.warn('careful')</script>", "console.warning: careful"),
    ("<script>undefined_function()</script>", "uncaught exception: ReferenceError"),
    ('<div style="width:2000px">wide</div>', "the page scrolls sideways"),
    ('<img src="a.png">', "image a.png has no alt text"),
])
def test_the_checker_sees_what_a_person_would(browser, tmp_path, extra, problem):
    visit = browser_check.visit(browser, _page(tmp_path, extra), "phone")
    assert any(problem in p for p in visit.problems), visit.problems


def test_a_page_without_a_viewport_reads_zoomed_out_on_a_phone(browser, tmp_path):
    page = _page(tmp_path)
    page.write_text(page.read_text().replace('<meta name="viewport"', '<meta name="x"'))
    visit = browser_check.visit(browser, page, "phone")
    assert any("zoomed out" in p for p in visit.problems)


@pytest.mark.parametrize("lang", ["en", "es"])
def test_the_tours_report_reads_well_on_a_desktop_and_a_phone(browser, tmp_path, lang):
    # The report's own page, with its widest table and figures wider than a phone; the
    # figures are stand-ins (the tour's own are checked by .ci/run).
    for name in FIGURES[:3]:
        _png(tmp_path / name)
    wide = [["method", "m", "b", "error vs exact", "evaluations", "time (warm)"]] + [
        ["descent (L-BFGS)", "2.018198", "-2.979726", "4.4e-16", "145", "2.90 ms"]] * 3
    tour = Tour(out=tmp_path, seconds=1.0, lang=lang, sections=[
        Section("1. " + "long title " * 12, "a-very-long-unbroken-word" * 8,
                list(FIGURES[:3]), wide)])
    page = write_html(tour)
    for viewport in browser_check.VIEWPORTS:
        visit = browser_check.visit(browser, page, viewport, tmp_path / f"{viewport}.png")
        assert visit.problems == [], (viewport, visit.problems)
        assert visit.facts["lang"] == lang
        assert all(0 < i["shownWidth"] <= visit.facts["innerWidth"]
                   for i in visit.facts["images"])


def test_the_script_exits_1_and_lists_each_problem(tmp_path, capsys):
    page = _page(tmp_path, '<img src="missing.png" alt="gone">')
    assert browser_check.main([str(page), "--screenshots", str(tmp_path / "shots")]) == 1
    out = capsys.readouterr().out
    assert out.count("FAILED") == 2 and "image missing.png did not load" in out
    assert len(list((tmp_path / "shots").iterdir())) == 2
