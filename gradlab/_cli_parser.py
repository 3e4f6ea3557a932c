"""The ``gradlab`` command line's grammar: its commands and options, and nothing they do.

`build_parser` knows every command by name only (``args.command``); `gradlab.cli.main`
runs the one named. A mistake in the words (an unknown option, a value of the wrong
kind, a conflict) is one line on stderr and exit status 2, before JAX is imported
(`_Parser`).
"""

from __future__ import annotations

import argparse
import re

from gradlab import _cache, _files, _i18n
from gradlab._cli_checks import count, finite, rate, seed, values

OPTIMIZERS = ("sgd", "momentum", "adam", "lbfgs")
METHODS = ("exact", "grid", "descent", "multistart")


class _Parser(argparse.ArgumentParser):
    """argparse, with a mistake reported on one line (no usage block) and exit status 2."""

    def error(self, message):
        self.exit(2, _files.printable(f"{self.prog}: error: {message} (see {self.prog} --help)")
                  + "\n")


def _folder_name(text: str) -> str:
    if not text.strip():
        raise argparse.ArgumentTypeError("give a folder")
    return text


def parse(argv) -> argparse.Namespace:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.no_cache and args.cache_dir is not None:  # one before the command, one after it
        parser.error("argument --no-cache: not allowed with argument --cache-dir")
    return args


def _add_common_options(parser, default=None) -> None:
    """--float32, --cache-dir and --no-cache: before the command, or after it."""
    parser.add_argument("--float32", action="store_true",
                        default=False if default is None else default,
                        help="compute in float32 (default: float64)")
    cache = parser.add_mutually_exclusive_group()
    cache.add_argument("--cache-dir", metavar="DIR", type=_folder_name, default=default,
                       help="keep compiled programs in DIR (default: the user's cache folder, "
                       f"or ${_cache.FOLDER_VARIABLE})")
    cache.add_argument("--no-cache", action="store_true",
                       default=False if default is None else default,
                       help=f"compile everything again (also: {_cache.OFF_VARIABLE}=1)")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="gradlab", description="A laboratory for gradient-based optimisation "
                     "in JAX.")
    _add_common_options(parser)
    sub = parser.add_subparsers(dest="command", required=True)
    add_parser = sub.add_parser

    def add_command(*args, **kwargs):
        # the common options are accepted after the command too (gradlab tour --no-cache);
        # SUPPRESS: one not given there leaves the value given before the command
        command = add_parser(*args, **kwargs)
        _add_common_options(command, default=argparse.SUPPRESS)
        return command

    sub.add_parser = add_command

    def with_cost(p):
        p.add_argument("name", nargs="?", help="a registered cost (see `gradlab list`)")
        p.add_argument("--cost", help="your own cost instead of NAME: module:attribute, a "
                       "gradlab.Cost or a function marked @gradlab.cost_factory (modules in "
                       "the current folder are found)")
        return p

    overwrite = "replace existing outputs (a symlink is replaced, never followed)"
    p = sub.add_parser("tour", help="the whole course story, with figures and a report")
    p.add_argument("--out", default="gradlab-tour", help="folder to write (default gradlab-tour)")
    p.add_argument("--quick", action="store_true", help="smaller sizes (CI)")
    p.add_argument("--lang", choices=_i18n.LANGUAGES, default=_i18n.DEFAULT,
                   help="the language of the text, the figures and the report: en (English, "
                   "the default) or es (español)")
    p.add_argument("--overwrite", action="store_true",
                   help="write into a folder holding other files; " + overwrite)

    p = sub.add_parser("list", help="the registered costs")
    p.add_argument("--dim", type=count(1))
    p.add_argument("--tag")

    p = with_cost(sub.add_parser("check", help="gradient check: jax.grad, analytic, finite diff"))
    p.add_argument("--points", type=count(1), default=5, help="random points (default 5)")
    p.add_argument("--seed", type=seed, default=0, help="0 to 2**32 - 1 (default 0)")

    p = with_cost(sub.add_parser("minimize", help="minimise a cost by one of four methods"))
    p.add_argument("--method", choices=METHODS, default="descent")
    p.add_argument("--optimizer", help=f"one of {', '.join(OPTIMIZERS)} (descent, multistart)")
    p.add_argument("--lr", type=rate, help="learning rate, positive (descent, multistart)")
    p.add_argument("--steps", type=count(1), help="most steps (default 200)")
    p.add_argument("--starts", type=count(1), help="random starts (multistart; default 1000)")
    p.add_argument("--num", type=count(2), help="grid points per axis (grid; default 200)")
    p.add_argument("--polish", action="store_true", help="polish the grid's best point (grid)")
    p.add_argument("--x0", type=finite, nargs="+", help="start (descent)")
    p.add_argument("--seed", type=seed, help="0 to 2**32 - 1 (multistart; default 0)")
    p.add_argument("--plot", help="write a figure to this file (.png added to a bare name)")
    p.add_argument("--progress", action="store_true",
                   help="show a progress bar (shown anyway on a terminal for long runs)")
    p.add_argument("--overwrite", action="store_true", help=overwrite)

    p = with_cost(sub.add_parser("landscape", help="the figures of one cost"))
    p.add_argument("--out", help="PNG to write, or a folder (default NAME.png, made safe)")
    p.add_argument("--num", type=count(2), default=200, help="grid points per axis")
    p.add_argument("--animate", action="store_true", help="also a GIF of a descent (2-D)")
    p.add_argument("--overwrite", action="store_true", help=overwrite)

    p = sub.add_parser("fit", help="fit a curve to two columns of a CSV file (least squares)")
    p.add_argument("file", help="the CSV file (header optional; see README for the rules)")
    p.add_argument("--model", required=True,
                   help="linear, polyK (K = 1..10), exp, gaussian, gaussian0, logistic, sine, "
                   "power, or your own as module:attribute (a gradlab.curves.Curve or a "
                   "function model(params, x))")
    p.add_argument("--x", metavar="COL", help="the x column: a header name or a number from 1 "
                   "(default 1)")
    p.add_argument("--y", metavar="COL", help="the y column (default 2)")
    p.add_argument("--sigma", metavar="COL", help="a column of y's uncertainties (weights 1/σ²)")
    p.add_argument("--absolute-sigma", action="store_true",
                   help="--sigma holds standard deviations (do not rescale by the scatter)")
    p.add_argument("--p0", type=values, metavar="V1,V2,...",
                   help="the start, one value per parameter (default: from the data)")
    p.add_argument("--drop-nan", action="store_true",
                   help="leave out rows with an empty, NaN or inf cell (with a warning)")
    p.add_argument("--plot", help="write the data, the curve and the residuals to this file")
    p.add_argument("--json", action="store_true", help="print the result as JSON (only JSON)")
    p.add_argument("--lang", choices=_i18n.LANGUAGES, default=_i18n.DEFAULT,
                   help="the language of the table and the figure: en or es")
    p.add_argument("--overwrite", action="store_true", help=overwrite)
    # "--p0 -1,2" is a value, not an option (argparse only knows "-1" and "-1.5")
    p._negative_number_matcher = re.compile(r"^-\.?\d[\d.,eE+\- ]*$")

    p = sub.add_parser("bench", help="the benchmarks (from a source checkout)")
    p.add_argument("--quick", action="store_true")
    p.add_argument("--out", default="gradlab-bench")
    p.add_argument("--only", help="run one study")
    p.add_argument("--overwrite", action="store_true")
    return parser
