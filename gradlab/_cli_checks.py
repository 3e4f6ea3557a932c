"""What the command line accepts, checked before anything is computed.

- Options: each number is checked as argparse reads it (`count`, `rate`,
  `seed`, `finite`), and each ``minimize`` method takes only the options of
  `METHOD_OPTIONS`; any other one given is refused, never silently ignored.
- Sizes: every size a flag can make huge is estimated first and refused over
  the library's memory budget (`gradlab._budget`, 2 GiB), with a message
  naming the flag and the memory it would need. The estimates are deliberately
  generous (measured peaks, rounded up): they exist to refuse ``--starts
  1000000000``, not to squeeze the budget.
- Costs: ``--cost module:attribute`` imports the module (the current folder
  first, as ``python -m`` does) and takes a `gradlab.Cost`, or calls a function
  marked `gradlab.cost_factory`; nothing else is called.
- Messages: the library's `ValueError` and `TypeError` name its keywords
  (``n_starts``, ``x0``, ``keep_values``); `to_cli_words` says them in the
  command line's flags.
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import math
import os
import re
import sys

from gradlab._budget import memory_budget

MAX_GRID_POINTS = 10**9  # even chunked, a grid past this runs for hours
MAX_SEED = 2**32 - 1

# The options of `gradlab minimize` each method reads (the rest are refused).
METHOD_OPTIONS = {
    "exact": (),
    "grid": ("num", "polish", "plot", "progress"),
    "descent": ("x0", "optimizer", "lr", "steps", "plot", "progress"),
    "multistart": ("starts", "seed", "optimizer", "lr", "steps", "plot", "progress"),
}
MINIMIZE_OPTIONS = ("x0", "optimizer", "lr", "steps", "starts", "num", "polish", "seed", "plot",
                    "progress")
MINIMIZE_DEFAULTS = {"steps": 200, "starts": 1000, "num": 200, "seed": 0}
FIGURE_METHODS = {"grid": (1, 2), "descent": None, "multistart": (1, 2)}  # None: any dimension


class UsageError(Exception):
    """A mistake on the command line: shown as one line, exit status 2."""


class DataError(UsageError):
    """A mistake in the user's own file or module (``gradlab fit``): shown as written.

    Its message quotes the user's words (column names, a model's exception), which
    `to_cli_words` must not touch (a column named ``x0`` is not ``--x0``).
    """


# -- numbers, as argparse reads them -----------------------------------------------------------
def _number(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number; got {text!r}") from None


def count(minimum: int):
    """An argparse type: a whole number at least ``minimum`` (``1e6`` is accepted)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = _number(text)
            if not (math.isfinite(value) and value == int(value)):
                raise argparse.ArgumentTypeError(f"expected a whole number; got {text!r}") from None
            value = int(value)
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}; got {text}")
        return value

    return parse


def rate(text: str) -> float:
    """An argparse type: a positive, finite learning rate."""
    value = _number(text)
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"must be positive and finite; got {text}")
    return value


def finite(text: str) -> float:
    """An argparse type: a finite number."""
    value = _number(text)
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be finite; got {text}")
    return value


def values(text: str) -> list[float]:
    """An argparse type: finite numbers separated by commas (``1,-2.5,3e4``)."""
    parts = [p.strip() for p in text.replace(" ", ",").split(",") if p.strip()]
    if not parts:
        raise argparse.ArgumentTypeError(f"expected numbers separated by commas; got {text!r}")
    return [finite(p) for p in parts]


def seed(text: str) -> int:
    """An argparse type: a seed from 0 to 2**32 - 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number; got {text!r}") from None
    if not 0 <= value <= MAX_SEED:
        raise argparse.ArgumentTypeError(f"must be from 0 to {MAX_SEED}; got {text}")
    return value


# -- which options go together -----------------------------------------------------------------
def _given(args, option: str) -> bool:
    return getattr(args, option, None) not in (None, False)


def check_minimize_options(args) -> None:
    """Refuse an option the chosen method does not use, then fill in the defaults."""
    used = METHOD_OPTIONS[args.method]
    for option in MINIMIZE_OPTIONS:
        if _given(args, option) and option not in used:
            takes = ", ".join(f"--{o}" for o in used) or "no options"
            raise UsageError(f"--{option} is not used by --method {args.method} "
                             f"(it takes {takes})")
    if args.overwrite and args.plot is None:
        raise UsageError("--overwrite goes with --plot (there is no file to replace)")
    for option, value in MINIMIZE_DEFAULTS.items():
        if getattr(args, option) is None:
            setattr(args, option, value)


def check_cost_choice(name, spec) -> None:
    """Exactly one of a NAME and ``--cost``."""
    if name and spec:
        raise UsageError(f"give a cost NAME or --cost, not both (got {name!r} and --cost {spec!r})")
    if not name and not spec:
        raise UsageError("name a cost (see `gradlab list`) or pass --cost module:attribute")


def need_bounds(cost, what: str) -> None:
    if cost.bounds is None:
        raise UsageError(f"{what} needs a cost with bounds; {cost.name!r} has none")


# -- sizes ---------------------------------------------------------------------------------------
def _human(nbytes: float) -> str:
    for unit, size in (("TiB", 2**40), ("GiB", 2**30), ("MiB", 2**20)):
        if nbytes >= size:
            return f"{nbytes / size:.3g} {unit}"
    return f"{nbytes / 2**10:.3g} KiB"


def _within_budget(flag: str, value, nbytes: float, what: str) -> None:
    if nbytes > memory_budget():
        raise UsageError(
            f"{flag} {value} needs about {_human(nbytes)} of memory for {what}, over the "
            f"memory budget of {_human(memory_budget())}; lower {flag}"
        )


def data_size(cost) -> int:
    """How many numbers a cost's data hold (a fit reads them all at every evaluation)."""
    import jax
    import numpy as np

    return int(sum(np.size(leaf) for leaf in jax.tree.leaves(cost.data)))


def check_points_size(cost, points: int) -> None:
    """``check --points``: three gradients per point; finite differences evaluate 2·d points."""
    d, m = cost.dim, data_size(cost)
    _within_budget("--points", points, points * 8 * (20 * d + 2 * m * (2 * d + 2)),
                   "the gradient check")


def check_grid_size(cost, num: int, *, drawn: bool) -> None:
    """A grid of ``num**d`` points: refused past `MAX_GRID_POINTS`; drawn, ~256 bytes a cell."""
    total = num ** cost.dim
    if total > MAX_GRID_POINTS:
        raise UsageError(
            f"--num {num} on {cost.dim} parameters is a grid of {float(total):.3g} points, over "
            f"the command line's limit of {MAX_GRID_POINTS:.0e} (even in chunks it would run "
            "for hours); lower --num"
        )
    if drawn:
        _within_budget("--num", num, total * 256, f"a drawn grid of {total:.3g} cells")


def check_descent_size(steps: int, dim: int, itemsize: int, *, drawn: bool) -> None:
    """A descent records every step: (steps + 1) × (d + 2) numbers, copied a few times."""
    per_step = itemsize * (dim + 2) * 5 + (64 * (dim + 1) if drawn else 0)
    _within_budget("--steps", steps, (steps + 1) * per_step, "the descent's history")


def check_starts_size(cost, starts: int, itemsize: int) -> None:
    """Multistart: per start a thinned history (11 points), a Hessian, a pass over the data."""
    d, m = cost.dim, data_size(cost)
    per_start = itemsize * (11 * (d + 2) * 4 + 16 * d + 4 * d * d + 2 * m + 64)
    _within_budget("--starts", starts, starts * per_start, "the descents")


# -- --cost module:attribute ------------------------------------------------------------------
_DOTTED = re.compile(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*")


def _first_line(err: BaseException) -> str:
    text = str(err).strip()
    return f"{type(err).__name__}: {text.splitlines()[0]}" if text else type(err).__name__


def describe(obj) -> str:
    """What ``obj`` is, in words a user recognises (for 'is X, not a gradlab.Cost')."""
    if inspect.isbuiltin(obj):
        return "a built-in function"
    if inspect.isclass(obj):
        return f"a class ({obj.__name__})"
    if inspect.ismodule(obj):
        return "a module"
    if inspect.isfunction(obj) or inspect.ismethod(obj):
        return "a function"
    kind = type(obj).__name__
    if callable(obj):
        return f"a callable {kind} object"
    return f"{'an' if kind[:1].lower() in 'aeiou' else 'a'} {kind}"


def _import(module_name: str, flag: str = "--cost"):
    """Import a user's module, the current folder first on the path (as ``python -m`` does)."""
    folder = os.getcwd()
    sys.path.insert(0, folder)
    try:
        return importlib.import_module(module_name)
    except ModuleNotFoundError as err:
        if err.name and (module_name + ".").startswith(err.name + "."):
            raise UsageError(f"{flag}: no module named {err.name!r} (looked in the current "
                             "folder and the installed packages)") from None
        raise UsageError(f"{flag}: importing {module_name!r} failed: {_first_line(err)}") from None
    except (Exception, SystemExit) as err:  # the user's code: SyntaxError, sys.exit(), ...
        raise UsageError(f"{flag}: importing {module_name!r} raised {_first_line(err)}") from None
    finally:
        sys.path.remove(folder)  # the first occurrence: ours; later imports see the usual path


def _resolve(spec: str, flag: str, example: str):
    """The object named by ``module:attribute`` (an attribute path like ``a.b`` too)."""
    module_name, colon, attribute = spec.partition(":")
    if not colon or not _DOTTED.fullmatch(module_name) or not _DOTTED.fullmatch(attribute):
        raise UsageError(f"{flag} must look like module:attribute (e.g. {example}); "
                         f"got {spec!r}")
    obj = _import(module_name, flag)
    for part in attribute.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise UsageError(f"{flag}: module {module_name!r} has no attribute {attribute!r}") \
                from None
        except Exception as err:  # a module-level __getattr__ or a property of the user's
            raise UsageError(f"{flag} {spec}: reading it raised {_first_line(err)}") from None
    return obj


def import_cost(spec: str):
    """The `Cost` named by ``--cost module:attribute`` (an attribute path like ``a.b`` too)."""
    from gradlab.costs import Cost, is_cost_factory

    obj = _resolve(spec, "--cost", "mycosts:bowl")
    if isinstance(obj, Cost):
        return obj
    if not is_cost_factory(obj):
        raise UsageError(f"--cost {spec} is {describe(obj)}, not a gradlab.Cost or a function "
                         "marked @gradlab.cost_factory")
    try:
        cost = obj()
    except (Exception, SystemExit) as err:
        raise UsageError(f"--cost {spec}: the cost factory raised {_first_line(err)}") from None
    if not isinstance(cost, Cost):
        raise UsageError(f"--cost {spec}: the cost factory returned {describe(cost)}, "
                         "not a gradlab.Cost")
    return cost


def import_model(spec: str):
    """The `gradlab.curves.Curve` named by ``--model module:attribute``.

    The attribute is a `Curve` (names, formula, maybe a starting point), or a
    Python function ``model(params, x)``, made into a Curve with parameter
    names ``p[0], p[1], ...``; it is only ever called inside JAX's tracing. A
    built-in function (``os:abort``), a class, a module or any other object is
    refused without being called.
    """
    from gradlab.curves import Curve

    obj = _resolve(spec, "--model", "mymodels:saturation")
    if isinstance(obj, Curve):
        return obj
    if not (inspect.isfunction(obj) or (inspect.ismethod(obj)
                                        and inspect.isfunction(obj.__func__))):
        raise UsageError(f"--model {spec} is {describe(obj)}, not a gradlab.curves.Curve or a "
                         "Python function model(params, x)")
    return obj


# -- the library's words, said in the command line's ------------------------------------------
_FLAGS = (  # (pattern in a library message, the command line's words)
    (r"\bn_starts\b", "--starts"),
    (r"\blearning_rates?\b", "--lr"),
    (r"(?<![-\w])x0\b", "--x0"),
    (r"\boverwrite=True\b", "--overwrite"),
    (r"^(num|steps|seed|starts)\b", r"--\1"),
    (r"\bgl\.grid_search\([^)]*\)", "--method grid"),
    (r"\bgl\.descend\([^)]*\)", "--method descent"),
    (r"\bgl\.multistart\([^)]*\)", "--method multistart"),
    (r"\bgl\.(grid_search|descend|multistart)\b", "another --method"),
)
_PER_COMMAND = {"check": ((r"^n\b", "--points"),), "landscape": ((r"^num\b", "--num"),),
                "fit": ((r"(?<![-\w])x0\b", "--p0"),)}  # each command's own words come first
# Library keywords the command line has no flag for, and how to say them instead.
_LIBRARY_ONLY = {
    "keep_values": "keeping every value", "memory_budget": "the library's memory budget",
    "max_points": "the largest grid", "batch_size": "the chunk size", "chunked": "chunking",
    "record_every": "the history spacing", "gtol": "the gradient tolerance",
    "xtol": "the step tolerance", "divergence": "the divergence threshold",
    "polish_steps": "the polishing steps", "tol": "the clustering tolerance",
    "sampling": "the sampling",
}
_HINT = re.compile(r"(?:[:;,.]\s*|\s+)(?:pass|raise|leave|use)\s.*$", re.IGNORECASE)


def to_cli_words(message: str, command: str | None = None) -> str:
    """A library message with its keywords replaced by the command line's flags.

    Advice that only a library caller can follow (``pass keep_values=False``) is
    dropped; a keyword with no flag is described in words.
    """
    for pattern, words in _PER_COMMAND.get(command, ()) + _FLAGS:
        message = re.sub(pattern, words, message)
    only = re.compile(r"\b(" + "|".join(_LIBRARY_ONLY) + r")\b(=\S+)?")
    if only.search(message):
        message = _HINT.sub("", message)
        message = only.sub(lambda m: _LIBRARY_ONLY[m.group(1)], message)
    return message
