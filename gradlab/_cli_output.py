"""What the command line prints and writes: every printed value is text, never markup;
every output path is planned and checked before anything is computed.

Used by `gradlab.cli` and `gradlab._cli_fit`.
"""

from __future__ import annotations

from pathlib import Path

from gradlab import _files
from gradlab._cli_checks import UsageError

SHOWN_ROWS = 30  # longer tables print their first rows and say how many there are


def new_console():
    from rich.console import Console

    # soft_wrap: lines are never broken by rich (a path broken in two cannot be copied);
    # tables still fit the terminal
    return Console(emoji=False, soft_wrap=True)


def as_text(value) -> str:
    """``value`` for an f-string printed by rich: markup escaped, one line."""
    from rich.markup import escape

    return escape(_files.printable(value))


def plain_table(title, header, rows, *, total=None, limit=SHOWN_ROWS):
    """A rich table whose every cell is plain text; past ``limit`` rows, a caption says so."""
    from rich.table import Table
    from rich.text import Text

    table = Table(title=Text(_files.printable(title)) if title else None)
    for h in header:
        table.add_column(Text(_files.printable(h)))
    for r in rows[:limit]:
        table.add_row(*[Text(_files.printable(c)) for c in r])
    total = len(rows) if total is None else total
    if limit is not None and total > limit:
        table.caption = f"the first {limit} of {total} rows"
    return table


def fmt_vector(v, digits=6) -> str:
    """``[v₀, v₁, ...]`` to ``digits`` significant digits."""
    import numpy as np

    # through numpy: iterating over a JAX array would compile (or load) a program of its own
    return "[" + ", ".join(f"{float(x):.{digits}g}" for x in np.asarray(v)) + "]"


def plan_output(flag, given, *, default_name, overwrite, suffix=".png",
                allowed=_files.FIGURE_SUFFIXES) -> Path:
    """The final path of an output, checked now (before any computation)."""
    try:
        path = _files.output_path(given, suffix=suffix, allowed=allowed,
                                  default_name=default_name)
        return _files.check_output(path, overwrite=overwrite)
    except OSError as err:
        raise UsageError(f"{flag}: {err}") from None


def figure_writer(figure, path: Path) -> dict:
    """``{path: write}`` for `gradlab._files.write_files`: the format its extension names."""
    return {path: lambda tmp: figure.savefig(tmp, format=path.suffix[1:].lower(), dpi=100,
                                             bbox_inches="tight")}
