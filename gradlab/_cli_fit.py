"""``gradlab fit``: a curve of `gradlab.curves` fitted to the columns of the user's CSV file.

The file is read by `gradlab._csvdata`; a mistake in it (line and column
named) or in the user's model is one line and exit status 2, before any fit
(`DataError`, `UsageError`); a fit that does not converge, or whose
parameters are not all identifiable, exits with 1 (``tests/test_fit_cli.py``).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from gradlab import _files, _i18n
from gradlab._cli_checks import DataError, UsageError, _first_line, import_model
from gradlab._cli_output import (
    as_text,
    figure_writer,
    fmt_vector,
    new_console,
    plain_table,
    plan_output,
)

FIT_LEVEL = 0.95  # the confidence level of the intervals printed


def _fit_curve(args):
    """The `gradlab.curves.Curve` that ``--model`` names: built-in, or module:attribute."""
    from gradlab import curves

    if ":" not in args.model:
        try:
            return curves.get_curve(args.model)
        except ValueError:
            raise UsageError(f"unknown --model {args.model!r}; built-in models: "
                             f"{', '.join(curves.names())} (K from 1 to {curves.MAX_DEGREE}), "
                             "or your own as module:attribute") from None
    model = import_model(args.model)
    if isinstance(model, curves.Curve):
        return model
    if args.p0 is None:
        raise UsageError(f"--model {args.model} is a plain function: give its start with --p0 "
                         "v1,v2,... (or make it a gradlab.curves.Curve with p0=, see README)")
    return curves.Curve(args.model, model, tuple(f"p[{i}]" for i in range(len(args.p0))),
                        f"y = {args.model}(p, x)")


def _check_fit_data(args, curve, cols, x, sigma):
    """What the data must be for this curve: enough points, distinct x, positive sigma."""
    import numpy as np

    from gradlab._cli_checks import _within_budget
    from gradlab._csvdata import _lines_text

    d, n, file, labels = curve.dim, x.size, _files.printable(args.file), cols.labels
    need = d if (sigma is not None and args.absolute_sigma) else d + 1
    if n < need:
        why = ("one more than its parameters, to estimate the uncertainties from the scatter"
               if need > d else "one per parameter")
        raise DataError(f"--model {curve.name} has {d} parameters and needs at least {need} "
                        f"points ({why}); {file} has {n}")
    distinct = np.unique(x)
    if distinct.size < max(d, 2):
        shown = ", ".join(f"{v:g}" for v in distinct[:5])
        many = "s" if distinct.size > 1 else ""
        raise DataError(f"x ({labels[0]!r}) takes only {distinct.size} distinct value{many} "
                        f"({shown}); --model {curve.name} has {d} parameters and needs at "
                        f"least {max(d, 2)} different x")
    if sigma is not None and np.any(sigma <= 0):
        bad = cols.lines[sigma <= 0]
        raise DataError(f"--sigma column {labels[2]!r} must be positive; {file} has zero or "
                        f"negative values at line{'s' if bad.size > 1 else ''} "
                        f"{_lines_text(bad.tolist())}")
    if curve.positive_x and np.any(x <= 0):
        bad = cols.lines[x <= 0]
        raise DataError(f"--model {curve.name} ({curve.formula}) needs x > 0; x "
                        f"({labels[0]!r}) is {x[x <= 0][0]:g} at line{'s' if bad.size > 1 else ''}"
                        f" {_lines_text(bad.tolist())}")
    _within_budget("the data", f"({n} rows)", n * (d + 4) * 8 * 8,
                   "the fit (residuals and their Jacobian, rows × parameters)")


def _fit_start(args, curve, x, y, user):
    """``--p0``, or the curve's own start from the data; checked finite where it starts."""
    import jax
    import numpy as np

    if args.p0 is not None:  # its length was checked with the model
        p0 = np.asarray(args.p0, float)
    elif curve.p0 is None:
        raise UsageError(f"--model {args.model} declares no starting point (p0): give one with "
                         f"--p0 ({curve.dim} values: {', '.join(curve.names)})")
    else:
        try:
            p0 = curve.start(x, y)
        except (Exception, SystemExit) as err:  # the user's code may call sys.exit
            if not user:
                raise
            raise DataError(f"--model {args.model}: its starting point p0(x, y) raised "
                            f"{_first_line(err)}") from None
    try:
        first = np.asarray(jax.jit(curve.model)(p0, x))
    except (Exception, SystemExit) as err:  # the user's code may call sys.exit
        if not user:
            raise
        raise DataError(f"--model {args.model}: calling it as model(params, x) raised "
                        f"{_first_line(err)}") from None
    if not np.issubdtype(first.dtype, np.floating):
        raise DataError(f"--model {args.model} returned values of dtype {first.dtype}; a model "
                        "must return real numbers (floats), one per x")
    if first.shape != x.shape:
        raise DataError(f"--model {args.model} returned a prediction of shape {first.shape} "
                        f"for {x.size} points; it must return one value per x")
    if not np.all(np.isfinite(first)):
        raise DataError(f"--model {args.model} is not finite at the start p0 = "
                        f"{fmt_vector(p0)} ({int(np.sum(~np.isfinite(first)))} of {x.size} "
                        "points); give another start with --p0")
    return p0


def _number(v):
    """A JSON number, or None where it is NaN or inf (JSON has neither)."""
    import math

    v = float(v)
    return v if math.isfinite(v) else None


def _fit_report(args, curve, cols, p0, fit) -> dict:
    import numpy as np

    from gradlab._fit_record import notes
    from gradlab.result import Status

    ci = fit.conf_int(FIT_LEVEL)
    return {
        "file": os.fspath(args.file), "model": curve.name, "formula": curve.formula,
        "columns": {"x": cols.labels[0], "y": cols.labels[1],
                    "sigma": cols.labels[2] if args.sigma else None},
        "absolute_sigma": bool(args.absolute_sigma), "n_points": int(cols.lines.size),
        "dropped_lines": [int(v) for v in cols.dropped],
        "parameters": [{"name": n, "value": _number(v), "stderr": _number(se),
                        "ci_low": _number(lo), "ci_high": _number(hi)}
                       for n, v, se, (lo, hi) in zip(curve.names, np.asarray(fit.x),
                                                     np.asarray(fit.stderr), ci)],
        "level": FIT_LEVEL, "p0": [float(v) for v in p0],
        "rss": _number(fit.rss), "residual_sd": _number(fit.residual_sd), "dof": int(fit.dof),
        "status": Status(int(fit.status)).name, "success": bool(fit.success),
        "message": str(fit.message), "notes": notes(fit), "nit": int(fit.nit),
        "cov": [[_number(v) for v in row] for row in np.asarray(fit.cov)],
    }


def _print_fit(console, args, report) -> None:
    from rich.table import Table
    from rich.text import Text

    from gradlab.result import Status

    lang = args.lang
    t = lambda key, **kw: _i18n.text(lang, key, **kw)
    level = f"{100 * report['level']:g}%"
    title = t("fit.title", formula=report["formula"], file=report["file"])
    rows = [[p["name"]] + ["-" if p[k] is None else f"{p[k]:.6g}"
                           for k in ("value", "stderr", "ci_low", "ci_high")]
            for p in report["parameters"]]
    console.print(plain_table(title, [t("fit.header.parameter"), t("fit.header.value"),
                                 t("fit.header.stderr"), t("fit.header.low", level=level),
                                 t("fit.header.high", level=level)], rows, limit=None))
    fmt = lambda v: "-" if v is None else f"{v:.6g}"
    status = _i18n.status_word(lang, Status[report["status"]])
    summary = Table(show_header=False, box=None, padding=(0, 2))
    for key, value in (("fit.chi2" if report["columns"]["sigma"] else "fit.rss",
                        fmt(report["rss"])),
                       ("fit.reduced_chi" if report["columns"]["sigma"] else "fit.residual_sd",
                        fmt(report["residual_sd"])),
                       ("fit.dof", str(report["dof"])), ("fit.points", str(report["n_points"])),
                       ("fit.steps", str(report["nit"]))):
        summary.add_row(Text(t(key)), Text(_files.printable(value)))
    console.print(summary)
    detail = "; ".join([_i18n.status_detail(lang, Status[report["status"]])]
                       + [t(f"fit.note.{key}", **values) for key, values in report["notes"]])
    console.print(as_text(t("fit.status", status=status, message=detail)))
    if not report["success"]:
        console.print("[red]" + as_text(t("fit.not_converged", message=detail)) + "[/red]")
    elif not _identifiable(report):
        console.print("[red]" + as_text(t("fit.not_identifiable")) + "[/red]")


def _identifiable(report) -> bool:
    """Every free parameter moves the curve (a rank-deficient Jacobian: some do not)."""
    return all(key != "rank" for key, _ in report["notes"])


def cmd_fit(args):
    import json

    import gradlab as gl
    from gradlab import _csvdata, curves

    if args.absolute_sigma and args.sigma is None:
        raise UsageError("--absolute-sigma goes with --sigma (the column of y's uncertainties)")
    if args.overwrite and args.plot is None:
        raise UsageError("--overwrite goes with --plot (there is no file to replace)")
    user = ":" in args.model
    curve = _fit_curve(args)
    if args.p0 is not None and len(args.p0) != curve.dim:
        raise UsageError(f"--p0 needs {curve.dim} values (one per parameter: "
                         f"{', '.join(curve.names)}); got {len(args.p0)}")
    plot_path = None
    if args.plot is not None:
        stem = _files.safe_name(f"{Path(args.file).stem}-{curve.name}", fallback="fit")
        plot_path = plan_output("--plot", args.plot, overwrite=args.overwrite,
                                 default_name=stem)
    specs = [args.x or "1", args.y or "2"] + ([args.sigma] if args.sigma else [])
    cols = _csvdata.read_columns(args.file, specs, drop_missing=args.drop_nan)
    if cols.dropped:
        lines = _csvdata._lines_text(cols.dropped)
        print(_files.printable(f"gradlab fit: warning: left out {len(cols.dropped)} row(s) with "
                               f"an empty, NaN or inf cell (--drop-nan): line(s) {lines}"),
              file=sys.stderr)
    x, y = cols.values[:2]
    sigma = cols.values[2] if args.sigma else None
    _check_fit_data(args, curve, cols, x, sigma)
    p0 = _fit_start(args, curve, x, y, user)
    cost = gl.fit_cost(curve.model, (x, y), names=curve.names, name=curve.name)
    try:
        fit = gl.fit(cost, p0.tolist(), sigma=sigma, absolute_sigma=args.absolute_sigma)
    except (Exception, SystemExit) as err:  # the user's code may call sys.exit
        if not user:
            raise
        raise DataError(f"--model {args.model}: fitting it raised {_first_line(err)}") from None
    fit = curves.tidy_fit(curve, fit)
    report = _fit_report(args, curve, cols, p0, fit)
    if plot_path is not None:
        title = _i18n.text(args.lang, "fit.title", formula=curve.formula,
                           file=Path(args.file).name)
        ax = gl.plot.fit_residuals(cost, fit, sigma=sigma, labels=cols.labels[:2],
                                   title=title, lang=args.lang)
        _files.write_files(figure_writer(ax.figure, plot_path), overwrite=args.overwrite)
        report["plot"] = os.fspath(plot_path)
    if args.json:
        print(json.dumps(report, indent=2, ensure_ascii=False, allow_nan=False))
    else:
        console = new_console()
        _print_fit(console, args, report)
        if plot_path is not None:
            console.print(as_text(_i18n.text(args.lang, "fit.plot_written", path=plot_path)))
    return 0 if report["success"] and _identifiable(report) else 1
