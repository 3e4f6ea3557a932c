"""``gradlab tour``: the course's story end to end, with figures and a written report.

`run_tour` computes every step from the built-in data, writes one PNG per
figure plus ``report.md`` and ``report.html`` into a folder, and returns a
`Tour` record (sections and tables) that the CLI prints. It never overwrites:
an existing folder holding anything but an earlier tour's output (regular
files of the tour's own names, no symlinks, no folders) is refused unless
``overwrite=True``. Every file is written atomically through `gradlab._files`,
so a symlink planted in the folder is replaced, never written through, and an
interrupted tour leaves only whole files.
"""

from __future__ import annotations

import dataclasses
import html
import os
import re
import stat
import time
from pathlib import Path
from urllib.parse import quote

import jax
import jax.numpy as jnp
import numpy as np

from gradlab import _files, plot
from gradlab.costs import get_cost
from gradlab.descent import descend
from gradlab.exact import solve_exact
from gradlab.gradcheck import check_gradient
from gradlab.grid import gradient_field, grid_search
from gradlab.models import fit_cost
from gradlab.multistart import basin_map, multistart, sweep_learning_rates
from gradlab.result import Status


@dataclasses.dataclass
class Section:
    title: str
    text: str
    figures: list[str] = dataclasses.field(default_factory=list)
    table: list[list[str]] | None = None  # first row: header


@dataclasses.dataclass
class Tour:
    out: Path
    sections: list[Section]
    seconds: float

    @property
    def figures(self) -> list[str]:
        return [f for s in self.sections for f in s.figures]


def _timed(fn, *args, **kwargs):
    """(result, seconds with compilation, seconds warm): the call twice, results blocked on."""
    t0 = time.perf_counter()
    jax.block_until_ready(fn(*args, **kwargs))
    t1 = time.perf_counter()
    out = jax.block_until_ready(fn(*args, **kwargs))
    return out, t1 - t0, time.perf_counter() - t1


MARKER = ".gradlab-tour"  # marks a folder as a tour's own output, safe to rewrite
FIGURES = ("01_data.png", "02_sweep.png", "03_heatmap.png", "04_surface.png", "05_gradient.png",
           "06_history.png", "07_path.png", "08_learning_rates.png", "09_oscillation.png",
           "10_sine_curve.png", "11_basins.png")
OUTPUTS = (MARKER, *FIGURES, "report.md", "report.html")  # every file a tour writes


class _Writer:
    def __init__(self, out: Path):
        self.out, self.sections = out, []

    def figure(self, ax, name: str) -> str:
        """Save the figure of ``ax`` as ``name`` (one of `FIGURES`), atomically; close it."""
        if name not in FIGURES:
            raise ValueError(f"{name!r} is not one of the tour's figures {FIGURES}")
        fig = (ax[0] if isinstance(ax, np.ndarray) else ax).figure
        try:
            _files.write_atomically(
                self.out / name,
                lambda tmp: fig.savefig(tmp, format="png", dpi=90, bbox_inches="tight"),
                overwrite=True)  # the folder was checked: these names are the tour's own
        finally:
            plot._plt().close(fig)
        return name

    def add(self, title, text, figures=(), table=None):
        self.sections.append(Section(title, text, list(figures), table))


def _is_earlier_tour(out: Path) -> bool:
    """Whether ``out`` holds nothing but a tour's own regular files (marker included)."""
    entries = list(out.iterdir())
    if not entries:
        return True
    regular = {e.name for e in entries if stat.S_ISREG(os.lstat(e).st_mode)}
    return MARKER in regular and all(e.name in regular and e.name in OUTPUTS for e in entries)


def _prepare_out(out, overwrite: bool) -> Path:
    """Check the folder and every file the tour will write in it, then create the folder.

    Refused (before anything is computed): a folder holding anything but an
    earlier tour's own files, a symlink in place of the folder, or a folder
    where a tour's file goes, unless ``overwrite`` (folders are refused always).
    """
    out = _files.check_folder(out, overwrite=overwrite)
    if out.is_dir() and not out.is_symlink():
        if not overwrite and not _is_earlier_tour(out):
            raise FileExistsError(
                f"{_files.printable(out)} exists and holds files gradlab did not write "
                "(or symbolic links); choose another --out or pass --overwrite"
            )
        for name in OUTPUTS:
            _files.check_output(out / name, overwrite=True)  # a folder in a file's place
    _files.make_folder(out)
    _files.write_text(out / MARKER,
                      "written by gradlab tour; rerunning the tour rewrites this folder\n",
                      overwrite=True)
    return out


def run_tour(out="gradlab-tour", *, quick: bool = False, overwrite: bool = False,
             progress=None) -> Tour:
    """Tell the course's story on the built-in data; write figures and reports into ``out``.

    Args:
      out: the folder to write (created; refused if it holds files that an earlier
        tour did not write, unless ``overwrite``).
      quick: smaller grids and fewer starts (the CI setting).
      overwrite: allow writing into a non-empty folder.
      progress: optional callback ``progress(title)`` called before each step.
    """
    start = time.perf_counter()
    out = _prepare_out(out, overwrite)
    w = _Writer(out)
    say = progress or (lambda title: None)
    num = 120 if quick else 300
    line, bowl, sine = get_cost("line"), get_cost("bowl"), get_cost("sine")

    say("the data")
    w.add("1. The data", "100 noisy points from the line y = 2x − 3 (noise 0.25). The cost of a "
          "line (m, b) is its mean squared error on them.",
          [w.figure(plot.fit(line, true_params=[2.0, -3.0]), "01_data.png")])

    say("one-parameter sweep")
    exact = solve_exact(line)
    b_fixed = float(exact.x[1])
    slope_only = fit_cost(lambda p, x: p[0] * x + b_fixed, line.data, bounds=[(-5.0, 5.0)],
                          name="line (b fixed)", names=("m",))
    sweep = grid_search(slope_only, num=num)
    w.add("2. One parameter: a sweep", f"With b fixed at {b_fixed:.4f}, the cost is a parabola "
          f"in m; its lowest grid point is m = {float(sweep.x[0]):.4f}.",
          [w.figure(plot.cost_curve(sweep, cost=slope_only), "02_sweep.png")])

    say("two-parameter grid")
    grid = grid_search(line, num=num)
    w.add("3. Two parameters: a grid", f"A {num}×{num} grid: the cost is a bowl with its lowest "
          f"point at (m, b) = ({float(grid.x[0]):.4f}, {float(grid.x[1]):.4f}).",
          [w.figure(plot.landscape(grid, cost=line), "03_heatmap.png"),
           w.figure(plot.surface(grid, cost=line, stride=max(1, num // 60)), "04_surface.png")])

    say("exact solution")
    w.add("4. The exact solution", "Least squares (by SVD) gives the minimum directly: "
          f"m = {float(exact.x[0]):.6f}, b = {float(exact.x[1]):.6f}, "
          f"cost {float(exact.fun):.6f}.")

    say("gradient check")
    rows = [["cost", "max error analytic vs jax.grad", "max error finite diff vs jax.grad",
             "passed"]]
    for cost in (bowl, line):
        check = check_gradient(cost, n=8)
        rows.append([cost.name, f"{float(np.nanmax(check.analytic_rel_error)):.1e}",
                     f"{float(check.fd_rel_error.max()):.1e}", str(bool(check.passed))])
    w.add("5. The gradient, checked", "The gradient is the vector of partial derivatives. "
          "jax.grad computes it from the cost's code; it matches the hand-derived formulas and "
          "central finite differences (relative errors below).", table=rows)

    say("gradient arrow")
    field = gradient_field(line, num=15, points=[[-1.0, -2.0]])
    g = np.asarray(field.point_gradients[0])
    w.add("6. Downhill is minus the gradient", f"At (m, b) = (−1, −2) the gradient is "
          f"({g[0]:.3f}, {g[1]:.3f}); it points uphill, so descent steps the other way.",
          [w.figure(plot.gradient_field(field, grid=grid, cost=line), "05_gradient.png")])

    say("descent on the bowl")
    traj = descend(bowl, [-1.0, -1.0], learning_rate=0.1, steps=50)
    bowl_grid = grid_search(bowl, num=num)
    w.add("7. Gradient descent on the bowl", "x ← x − 0.1·∇f(x) from (−1, −1), 50 steps, all "
          f"parameters at once: it ends at ({float(traj.x[0]):.4f}, {float(traj.x[1]):.4f}), "
          f"cost {float(traj.fun):.2e}.",
          [w.figure(plot.history(traj, cost=bowl), "06_history.png"),
           w.figure(plot.trajectories(bowl_grid, traj, labels=["α = 0.1"], cost=bowl),
                    "07_path.png")])

    say("learning rates")
    # One sweep (one compile): a log-spaced range plus four rates worth drawing.
    shown_rates = np.array([0.05, 0.3, 0.9, 1.05])
    rates = np.unique(np.concatenate([np.logspace(-2, 0.2, 20 if quick else 44), shown_rates]))
    lr = sweep_learning_rates(line, [-1.0, -1.0], rates, steps=100)
    picked = [int(np.argmin(np.abs(rates - r))) for r in shown_rates]
    first_steps = lambda a: a[np.asarray(picked), :21] if a.ndim > 1 else a[np.asarray(picked)]
    shown = jax.tree.map(first_steps, lr.trajectories)
    names = [f"α = {rates[i]:g} ({Status(int(lr.status[i])).name.lower()})" for i in picked]
    w.add("8. How large can the learning rate be?", f"The line's cost curves most steeply "
          f"along b, with curvature L = {lr.curvature:.4g}, so plain descent is stable for "
          f"α < 2/L = {lr.stability_limit:.4g}: small rates crawl, rates near the limit "
          "zig-zag across the valley, larger ones diverge (paths: the first 20 steps).",
          [w.figure(plot.learning_rates(lr, cost=line), "08_learning_rates.png"),
           w.figure(plot.trajectories(grid, shown, labels=names, cost=line),
                    "09_oscillation.png")])

    say("the sine fit")
    sine_grid = grid_search(sine, num=2000 if quick else 5000)
    w.add("9. Many local minima", "Fitting y = sin(w·x) to sin(10x): the cost over w has many "
          "dips. Only w = 10 fits; descent started in another dip stays there.",
          [w.figure(plot.cost_curve(sine_grid, cost=sine), "10_sine_curve.png")])

    say("multistart")
    n_starts = 300 if quick else 1000
    ms = multistart(sine, n_starts=n_starts, seed=0)
    bm = basin_map(sine, num=n_starts)  # as many starts as the run above: no new compile
    rows = [["w", "cost", "kind", "global", "share of starts"]]
    for p, v, k, gl_, s in zip(ms.minima.points[:, 0], ms.minima.values, ms.minima.kind,
                               ms.minima.is_global, ms.minima.shares):
        rows.append([f"{p:.4f}", f"{v:.4f}", str(k), "yes" if gl_ else "", f"{s:.1%}"])
    w.add("10. Many starts at once", f"{n_starts} descents from random w in [0, 50], in one "
          f"compiled call, reach {len(ms.minima.points)} distinct minima; w = "
          f"{float(ms.best[0]):.4f} is global. A single random start finds it with probability "
          f"{float(ms.minima.shares[0]):.1%}: {ms.starts_for_99:.0f} starts give 99% confidence.",
          [w.figure(plot.basins(bm, cost=sine), "11_basins.png")], table=rows)

    say("comparison")
    import optax
    exact_r, _, t_exact = _timed(solve_exact, line)
    grid_r, _, t_grid = _timed(grid_search, line, num=num, keep_values=False)
    lbfgs = optax.lbfgs()
    desc_r, _, t_desc = _timed(descend, line, [0.0, 0.0], optimizer=lbfgs, steps=100)
    rows = [["method", "m", "b", "error vs exact", "evaluations", "time (warm)"]]
    for name, r, evals, t in (("exact", exact_r, 1, t_exact),
                              (f"grid {num}×{num}", grid_r, grid_r.nfev, t_grid),
                              ("descent (L-BFGS)", desc_r, int(desc_r.nfev), t_desc)):
        err = float(jnp.max(jnp.abs(r.x - exact_r.x)))
        rows.append([name, f"{float(r.x[0]):.6f}", f"{float(r.x[1]):.6f}", f"{err:.1e}",
                     str(evals), f"{t * 1e3:.2f} ms"])
    w.add("11. Three ways to the minimum", "On the line's cost: the exact answer, the grid's best "
          "point (accurate to its spacing), and descent (accurate to its tolerance).", table=rows)

    tour = Tour(out=out, sections=w.sections, seconds=time.perf_counter() - start)
    write_markdown(tour)
    write_html(tour)
    return tour


_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>|~&])")  # what can change how Markdown renders
_MD_LINE_START = re.compile(r"^(\s*)(?:([#+=-])|(\d+)([.)]))")  # a heading, a list, a rule


def md_escape(text, *, line_start: bool = False) -> str:
    r"""``text`` as literal Markdown on one line: the counterpart of ``html.escape``.

    Every character that could change how Markdown renders it (``*``, ``_``,
    ``[``, ``|``, ``<``, ``&``, a backtick, ...) is backslash-escaped, which
    CommonMark renders as the character itself; newlines become spaces (a table
    cell is one line). With ``line_start=True`` a leading ``#``, ``-``, ``+``,
    ``=`` or ``1.`` is escaped too, so a paragraph cannot become a heading or a list.

    Example:
      >>> print(md_escape("a|b *c* [x](y) <b>"))
      a\|b \*c\* \[x\](y) \<b\>
      >>> print(md_escape("# not a heading", line_start=True))
      \# not a heading
    """
    text = _MD_SPECIAL.sub(r"\\\1", " ".join(str(text).splitlines()))
    if line_start:  # "\#", "\-", "1\." render as written
        text = _MD_LINE_START.sub(lambda m: m.group(1) + (
            f"\\{m.group(2)}" if m.group(2) else f"{m.group(3)}\\{m.group(4)}"), text)
    return text


def _md_table(rows):
    cells = [[md_escape(c) for c in r] for r in rows]
    lines = ["| " + " | ".join(cells[0]) + " |", "|" + "---|" * len(cells[0])]
    lines += ["| " + " | ".join(r) + " |" for r in cells[1:]]
    return "\n".join(lines)


def write_markdown(tour: Tour) -> Path:
    """Write ``report.md`` into the tour's folder (atomically); interpolated text escaped."""
    parts = ["# The gradlab tour", ""]
    for s in tour.sections:
        parts += [f"## {md_escape(s.title)}", "", md_escape(s.text, line_start=True), ""]
        if s.table:
            parts += [_md_table(s.table), ""]
        parts += [f"![{md_escape(name)}]({quote(name)})" for name in s.figures] + [""]
    parts.append(f"_Computed in {tour.seconds:.1f} s by `gradlab tour`._")
    return _files.write_text(Path(tour.out) / "report.md", "\n".join(parts), overwrite=True)


def write_html(tour: Tour) -> Path:
    """Write ``report.html`` into the tour's folder (atomically); interpolated text escaped."""
    e = html.escape
    body = ["<h1>The gradlab tour</h1>"]
    for s in tour.sections:
        body += [f"<h2>{e(s.title)}</h2>", f"<p>{e(s.text)}</p>"]
        if s.table:
            head = "".join(f"<th>{e(c)}</th>" for c in s.table[0])
            rows = "".join("<tr>" + "".join(f"<td>{e(c)}</td>" for c in r) + "</tr>"
                           for r in s.table[1:])
            body.append(f"<table><tr>{head}</tr>{rows}</table>")
        body += [f'<img src="{e(name)}" alt="{e(name)}">' for name in s.figures]
    body.append(f"<p><em>Computed in {tour.seconds:.1f} s by gradlab tour.</em></p>")
    style = ("body{font-family:sans-serif;max-width:960px;margin:auto}img{max-width:100%}"
             "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px 8px}")
    page = (f"<!doctype html><html><head><meta charset='utf-8'><title>gradlab tour</title>"
            f"<style>{style}</style></head><body>{''.join(body)}</body></html>")
    return _files.write_text(Path(tour.out) / "report.html", page, overwrite=True)
