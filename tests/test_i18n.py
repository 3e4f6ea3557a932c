"""The tour's catalogue: every key in every language, with the same values interpolated; the
figures speak Spanish when asked; an unknown language is refused before anything is done.
(The Spanish tour itself is checked against the English one in test_report.py.)"""

import string

import matplotlib.pyplot as plt
import pytest
from hypothesis import given
from hypothesis import strategies as st

import gradlab as gl
from gradlab import _i18n
from gradlab.cli import main
from gradlab.report import run_tour


def _fields(template: str) -> list[tuple[str, str]]:
    return sorted((name, spec) for _, name, spec, _ in string.Formatter().parse(template)
                  if name is not None)


@pytest.mark.parametrize("key", sorted(_i18n.MESSAGES))
def test_every_key_speaks_every_language_with_the_same_values(key):
    templates = _i18n.MESSAGES[key]
    assert set(templates) == set(_i18n.LANGUAGES)
    english = _fields(templates["en"])
    for lang in _i18n.LANGUAGES:
        assert templates[lang].strip() and templates[lang] == templates[lang].strip()
        assert _fields(templates[lang]) == english, lang  # same names, same number formats


def test_every_sentence_is_translated():
    # a template may equal its English only where it holds no words (formulas, names)
    same = sorted(k for k, t in _i18n.MESSAGES.items() if t["es"] == t["en"])
    assert same == ["tour.multistart.header.global", "tour.rates.label"]  # "global": both


@given(value=st.floats(allow_nan=False, allow_infinity=False, width=32),
       count=st.integers(0, 10**6))
def test_numbers_read_the_same_in_both_languages(value, count):
    values = {"b": value, "m": value, "num": count}
    english = _i18n.text("en", "tour.grid.text", **values)
    spanish = _i18n.text("es", "tour.grid.text", **values)
    number = f"{value:.4f}"  # the decimal point stays a point in Spanish
    assert english.count(number) == spanish.count(number) >= 2
    assert english.count(f"{count}×{count}") == spanish.count(f"{count}×{count}") == 1


@pytest.mark.parametrize("status", list(gl.Status))
def test_every_status_has_a_word_in_each_language(status):
    for lang in _i18n.LANGUAGES:
        assert f"status.{status.name}" in _i18n.MESSAGES
        assert _i18n.status_word(lang, status)


def test_the_figures_speak_spanish_when_asked():
    bowl = gl.get_cost("bowl")
    grid = gl.grid_search(bowl, num=20)
    ax = gl.plot.landscape(grid, cost=bowl, lang="es")
    try:
        assert ax.get_title() == "bowl: paisaje del costo"
        legend = [t.get_text() for t in ax.get_legend().get_texts()]
        assert legend == ["mínimo de la cuadrícula", "mínimos conocidos"]
        assert ax.figure.axes[1].get_ylabel() == "costo"  # the colour bar
    finally:
        plt.close(ax.figure)
    ax = gl.plot.landscape(grid, cost=bowl)  # English stays the default
    try:
        assert ax.get_title() == "bowl: landscape"
    finally:
        plt.close(ax.figure)


def test_an_unknown_language_is_refused_before_anything_is_drawn_or_written(tmp_path, capsys):
    with pytest.raises(ValueError, match="lang must be one of 'en', 'es'; got 'fr'"):
        gl.plot.landscape(gl.grid_search("bowl", num=5), lang="fr")
    with pytest.raises(ValueError, match="lang must be one of"):
        run_tour(tmp_path / "out", lang="fr", progress=lambda _: pytest.fail("computed"))
    assert not (tmp_path / "out").exists()
    with pytest.raises(SystemExit) as end:
        main(["tour", "--lang", "fr", "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err.splitlines()
    assert end.value.code == 2 and len(err) == 1 and "invalid choice: 'fr'" in err[0]
    assert not (tmp_path / "out").exists()
