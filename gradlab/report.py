"""``gradlab tour``: the course's story end to end, with figures and a written report.

`run_tour` computes every step from the built-in data, writes one PNG per
figure plus ``report.md`` and ``report.html`` into a folder, and returns a
`Tour` record (sections and tables) that the CLI prints. ``lang="es"`` tells
it in Spanish (text, tables, figures, alt texts, ``<html lang="es">``); the
words come from one catalogue, `gradlab._i18n`. It never overwrites:
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

from gradlab import _files, _i18n, plot
from gradlab.costs import get_cost
from gradlab.descent import descend
from gradlab.exact import solve_exact
from gradlab.fitting import fit
from gradlab.gradcheck import check_gradient
from gradlab.grid import gradient_field, grid_search
from gradlab.models import fit_cost
from gradlab.multistart import basin_map, multistart
from gradlab.result import Status
from gradlab.sweep import sweep_learning_rates


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
    lang: str = _i18n.DEFAULT

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


TOUR_COSTS = ("line", "bowl", "sine")  # the registered costs the tour computes with
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
             progress=None, lang: str = _i18n.DEFAULT) -> Tour:
    """Tell the course's story on the built-in data; write figures and reports into ``out``.

    Args:
      out: the folder to write (created; refused if it holds files that an earlier
        tour did not write, unless ``overwrite``).
      quick: smaller grids and fewer starts (the CI setting).
      overwrite: allow writing into a non-empty folder.
      progress: optional callback ``progress(title)`` called before each step.
      lang: ``"en"`` (default) or ``"es"``: the language of the text, the tables,
        the figures and the reports.
    """
    start = time.perf_counter()
    _i18n.check_language(lang)
    out = _prepare_out(out, overwrite)
    w = _Writer(out)
    t = lambda key, **values: _i18n.text(lang, key, **values)
    say = lambda step: (progress or (lambda title: None))(t(f"step.{step}"))
    num = 120 if quick else 300
    line, bowl, sine = (get_cost(name) for name in TOUR_COSTS)

    say("data")
    w.add(t("tour.data.title"), t("tour.data.text"),
          [w.figure(plot.fit(line, true_params=[2.0, -3.0], lang=lang), "01_data.png")])

    say("sweep")
    exact = solve_exact(line)
    b_fixed = float(np.asarray(exact.x)[1])  # indexed on the host: no program
    slope_only = fit_cost(lambda p, x: p[0] * x + b_fixed, line.data, bounds=[(-5.0, 5.0)],
                          name=t("tour.sweep.cost_name"), names=("m",))
    sweep = grid_search(slope_only, num=num)
    w.add(t("tour.sweep.title"), t("tour.sweep.text", b=b_fixed, m=float(np.asarray(sweep.x)[0])),
          [w.figure(plot.cost_curve(sweep, cost=slope_only, lang=lang), "02_sweep.png")])

    say("grid")
    grid = grid_search(line, num=num)
    w.add(t("tour.grid.title"),
          t("tour.grid.text", num=num, m=float(np.asarray(grid.x)[0]),
            b=float(np.asarray(grid.x)[1])),
          [w.figure(plot.landscape(grid, cost=line, lang=lang), "03_heatmap.png"),
           w.figure(plot.surface(grid, cost=line, stride=max(1, num // 60), lang=lang),
                    "04_surface.png")])

    say("exact")
    line_fit = fit(line, exact.x)
    level = 0.95
    shown = f"{100 * level:g}%"
    header = [t(f"tour.exact.header.{h}", level=shown)
              for h in ("parameter", "value", "stderr", "low", "high")]
    status = (t("tour.exact.converged") if bool(line_fit.success)
              else t("tour.exact.not_converged", message=line_fit.message))
    w.add(t("tour.exact.title"),
          t("tour.exact.text", m=float(exact.x[0]), b=float(exact.x[1]), cost=float(exact.fun))
          + " " + t("tour.exact.uncertainty", sd=float(line_fit.residual_sd),
                         dof=int(line_fit.dof), level=shown, status=status),
          table=[header, *line_fit.table(line.param_names, level=level)[1:]])

    say("gradcheck")
    rows = [[t(f"tour.gradcheck.header.{h}") for h in ("cost", "analytic", "fd", "passed")]]
    for cost in (bowl, line):
        check = check_gradient(cost, n=8)
        rows.append([cost.name, f"{float(np.nanmax(check.analytic_rel_error)):.1e}",
                     f"{float(check.fd_rel_error.max()):.1e}",
                     t("tour.gradcheck.passed.yes" if bool(check.passed)
                       else "tour.gradcheck.passed.no")])
    w.add(t("tour.gradcheck.title"), t("tour.gradcheck.text"), table=rows)

    say("arrow")
    field = gradient_field(line, num=15, points=[[-1.0, -2.0]])
    g = np.asarray(field.point_gradients)[0]
    w.add(t("tour.arrow.title"), t("tour.arrow.text", g0=g[0], g1=g[1]),
          [w.figure(plot.gradient_field(field, grid=grid, cost=line, lang=lang),
                    "05_gradient.png")])

    say("bowl")
    traj = descend(bowl, [-1.0, -1.0], learning_rate=0.1, steps=50)
    bowl_grid = grid_search(bowl, num=num)
    w.add(t("tour.bowl.title"), t("tour.bowl.text", m=float(traj.x[0]), b=float(traj.x[1]),
                                  cost=float(traj.fun)),
          [w.figure(plot.history(traj, cost=bowl, lang=lang), "06_history.png"),
           w.figure(plot.trajectories(bowl_grid, traj, labels=["α = 0.1"], cost=bowl,
                                      lang=lang), "07_path.png")])

    say("rates")
    # One sweep (one compile): a log-spaced range plus four rates worth drawing.
    shown_rates = np.array([0.05, 0.3, 0.9, 1.05])
    rates = np.unique(np.concatenate([np.logspace(-2, 0.2, 20 if quick else 44), shown_rates]))
    lr = sweep_learning_rates(line, [-1.0, -1.0], rates, steps=100)
    picked = [int(np.argmin(np.abs(rates - r))) for r in shown_rates]
    first_steps = lambda a: a[np.asarray(picked), :21] if a.ndim > 1 else a[np.asarray(picked)]
    # on a host copy: indexing device arrays compiles a small program per field
    shown = jax.tree.map(first_steps, jax.device_get(lr.trajectories))
    names = [t("tour.rates.label", rate=rates[i],
               status=_i18n.status_word(lang, Status(int(lr.status[i])))) for i in picked]
    w.add(t("tour.rates.title"),
          t("tour.rates.text", curvature=lr.curvature, limit=lr.stability_limit),
          [w.figure(plot.learning_rates(lr, cost=line, lang=lang), "08_learning_rates.png"),
           w.figure(plot.trajectories(grid, shown, labels=names, cost=line, lang=lang),
                    "09_oscillation.png")])

    say("sine")
    sine_grid = grid_search(sine, num=2000 if quick else 5000)
    w.add(t("tour.sine.title"), t("tour.sine.text"),
          [w.figure(plot.cost_curve(sine_grid, cost=sine, lang=lang), "10_sine_curve.png")])

    say("multistart")
    n_starts = 300 if quick else 1000
    ms = multistart(sine, n_starts=n_starts, seed=0)
    bm = basin_map(sine, num=n_starts)  # as many starts as the run above: no new compile
    rows = [["w"] + [t(f"tour.multistart.header.{h}") for h in ("cost", "kind", "global",
                                                               "share")]]
    for p, v, k, gl_, s in zip(ms.minima.points[:, 0], ms.minima.values, ms.minima.kind,
                               ms.minima.is_global, ms.minima.shares):
        rows.append([f"{p:.4f}", f"{v:.4f}", _i18n.kind_word(lang, str(k)),
                     t("tour.multistart.yes") if gl_ else "", f"{s:.1%}"])
    w.add(t("tour.multistart.title"),
          t("tour.multistart.text", n_starts=n_starts, n_minima=len(ms.minima.points),
            best=float(ms.best[0]), share=float(ms.minima.shares[0]),
            starts_99=ms.starts_for_99),
          [w.figure(plot.basins(bm, cost=sine, lang=lang), "11_basins.png")], table=rows)

    say("compare")
    import optax
    exact_r, _, t_exact = _timed(solve_exact, line)
    grid_r, _, t_grid = _timed(grid_search, line, num=num, keep_values=False)
    lbfgs = optax.lbfgs()
    desc_r, _, t_desc = _timed(descend, line, [0.0, 0.0], optimizer=lbfgs, steps=100)
    rows = [[t("tour.compare.header.method"), "m", "b", t("tour.compare.header.error"),
             t("tour.compare.header.evaluations"), t("tour.compare.header.time")]]
    for name, r, evals, seconds in (
            (t("tour.compare.exact"), exact_r, 1, t_exact),
            (t("tour.compare.grid", num=num), grid_r, grid_r.nfev, t_grid),
            (t("tour.compare.descent"), desc_r, int(desc_r.nfev), t_desc)):
        err = float(jnp.max(jnp.abs(r.x - exact_r.x)))
        rows.append([name, f"{float(r.x[0]):.6f}", f"{float(r.x[1]):.6f}", f"{err:.1e}",
                     str(evals), f"{seconds * 1e3:.2f} ms"])
    w.add(t("tour.compare.title"), t("tour.compare.text"), table=rows)

    tour = Tour(out=out, sections=w.sections, seconds=time.perf_counter() - start, lang=lang)
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


def _alt(tour: Tour, name: str) -> str:
    """What figure ``name`` shows, in the tour's language (its file name if not a tour's)."""
    key = f"alt.{name}"
    return _i18n.text(tour.lang, key) if key in _i18n.MESSAGES else name


def write_markdown(tour: Tour) -> Path:
    """Write ``report.md`` into the tour's folder (atomically); interpolated text escaped."""
    t = lambda key, **values: _i18n.text(tour.lang, key, **values)
    parts = [f"# {md_escape(t('report.title'))}", ""]
    for s in tour.sections:
        parts += [f"## {md_escape(s.title)}", "", md_escape(s.text, line_start=True), ""]
        if s.table:
            parts += [_md_table(s.table), ""]
        parts += [f"![{md_escape(_alt(tour, name))}]({quote(name)})" for name in s.figures]
        parts += [""]
    parts.append(f"_{md_escape(t('report.computed', seconds=tour.seconds))}_")
    return _files.write_text(Path(tour.out) / "report.md", "\n".join(parts), overwrite=True)


# Readable from a phone (390 px) to a desktop: the text column is at most 960 px wide,
# images shrink to the column, a table wider than the screen scrolls inside its own box
# (the page never scrolls sideways), long words and formulas wrap.
_STYLE = (
    "*,*::before,*::after{box-sizing:border-box}"
    "body{font-family:system-ui,sans-serif;line-height:1.5;max-width:960px;margin:0 auto;"
    "padding:0 16px 32px;overflow-wrap:break-word;color:#1a1a1a;background:#fff}"
    "h1{font-size:1.8em}h2{font-size:1.3em;margin-top:1.6em}"
    "figure{margin:1em 0}img{display:block;max-width:100%;height:auto}"
    ".table{overflow-x:auto;max-width:100%}"
    "table{border-collapse:collapse;font-variant-numeric:tabular-nums}"
    "td,th{border:1px solid #ccc;padding:4px 8px;text-align:left}"
    "td{white-space:nowrap}th{background:#f3f3f3;vertical-align:bottom}"
    "@media (max-width:600px){body{padding:0 10px 24px}td,th{padding:3px 5px;font-size:.9em}}"
)


def write_html(tour: Tour) -> Path:
    """Write ``report.html`` into the tour's folder (atomically); interpolated text escaped.

    The page declares its language (``<html lang="es">``), needs nothing from the
    network (not even a favicon), and reads on a phone (see `_STYLE`).
    """
    e = html.escape
    t = lambda key, **values: _i18n.text(tour.lang, key, **values)
    body = [f"<h1>{e(t('report.title'))}</h1>"]
    for s in tour.sections:
        body += [f"<h2>{e(s.title)}</h2>", f"<p>{e(s.text)}</p>"]
        if s.table:
            head = "".join(f"<th>{e(c)}</th>" for c in s.table[0])
            rows = "".join("<tr>" + "".join(f"<td>{e(c)}</td>" for c in r) + "</tr>"
                           for r in s.table[1:])
            body.append(f'<div class="table"><table><thead><tr>{head}</tr></thead>'
                        f"<tbody>{rows}</tbody></table></div>")
        body += [f'<figure><img src="{e(quote(name))}" alt="{e(_alt(tour, name))}"></figure>'
                 for name in s.figures]
    body.append(f"<p><em>{e(t('report.computed', seconds=tour.seconds))}</em></p>")
    page = (f'<!doctype html><html lang="{e(tour.lang)}"><head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            '<link rel="icon" href="data:,">'
            f"<title>{e(t('report.title'))}</title><style>{_STYLE}</style></head>"
            f"<body>{''.join(body)}</body></html>")
    return _files.write_text(Path(tour.out) / "report.html", page, overwrite=True)
