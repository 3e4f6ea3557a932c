"""gradlab tour: every figure and both reports, and it never overwrites the user's files."""

import numpy as np
import pytest

import gradlab as gl
from gradlab.cli import main
from gradlab.report import run_tour


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


def test_tour_refuses_a_folder_with_other_files(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(FileExistsError, match="did not write"):
        run_tour(tmp_path, quick=True)
    assert (tmp_path / "notes.txt").read_text() == "mine"


def test_tour_from_the_command_line_rewrites_its_own_folder(tour, capsys):
    assert main(["tour", "--quick", "--out", str(tour.out)]) == 0  # an earlier tour's folder
    assert "report.md and report.html written" in capsys.readouterr().out
    (tour.out / "mine.txt").write_text("mine")
    assert main(["tour", "--quick", "--out", str(tour.out)]) == 2
    assert "did not write" in capsys.readouterr().err
