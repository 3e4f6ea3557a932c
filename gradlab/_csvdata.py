"""The columns of a user's CSV file, for ``gradlab fit``: read strictly, refused in one line.

The rules (README, "Fit your own data from the command line"):

- Text in UTF-8 (a byte-order mark is skipped) or UTF-16 with its mark (what
  spreadsheets save as "Unicode text"). Lines may end in ``\\n``, ``\\r\\n`` or
  ``\\r``. Empty lines and lines starting with ``#`` are skipped anywhere.
- The separator is found from the first lines: ``;``, a tab, ``,``, or runs
  of spaces, the first that splits every one of them into the same number (at
  least two) of fields. Cells may be quoted (``"1.5"``). With ``;``, tabs or
  spaces between columns, a decimal comma is read as a point (``1,5`` = 1.5),
  as spreadsheets in Spanish write numbers.
- The first row is a header unless every cell in it is a number.
- A column is chosen by its header name (exact, after Unicode NFC
  normalisation) or by its number counted from 1, as in ``cut -f`` and as
  messages count them. A name shared by two columns must be chosen by number.
- Every row has as many fields as the first one. Only the chosen columns must
  hold numbers; other columns may hold anything.
- A cell that is empty, NaN or ±inf is missing: its rows are refused, naming
  their lines, or left out with ``drop_missing`` (and a warning).

Every mistake is a `DataError` whose one line names the file, and where it
helps the line number (counted from 1, as an editor shows it) and the column.
"""

from __future__ import annotations

import codecs
import csv
import dataclasses
import io
import os
import re
import stat
import unicodedata

import numpy as np

from gradlab._budget import memory_budget
from gradlab._cli_checks import DataError
from gradlab._files import printable

SEPARATORS = (";", "\t", ",")  # tried in this order; then runs of spaces
SEPARATOR_WORDS = {";": "semicolons", "\t": "tabs", ",": "commas", None: "spaces"}
SNIFF_LINES = 50  # the lines the separator is found from
SHOWN_LINES = 5  # a message lists at most this many line numbers


@dataclasses.dataclass(frozen=True)
class Columns:
    """The chosen columns of a file: float64 arrays of equal length, and where they came from.

    Attributes:
      values: one ``(n,)`` array per chosen column, in the order asked.
      labels: each chosen column's header name, or ``"column K"``.
      lines: ``(n,)`` the line number of each row kept.
      dropped: the line numbers of rows left out for missing values.
      header: whether the first row was a header.
      separator: ``";"``, ``"\\t"``, ``","``, or None for runs of spaces.
    """

    values: tuple
    labels: tuple
    lines: np.ndarray
    dropped: tuple
    header: bool
    separator: str | None


def _shown(path) -> str:
    return printable(os.fspath(path))


def _lines_text(lines) -> str:
    lines = list(lines)
    text = ", ".join(map(str, lines[:SHOWN_LINES]))
    return text + (f" and {len(lines) - SHOWN_LINES} more" if len(lines) > SHOWN_LINES else "")


def max_bytes() -> int:
    """The largest file read: an eighth of the memory budget (256 MiB by default)."""
    return memory_budget() // 8


def _read_text(path) -> str:
    shown = _shown(path)
    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise DataError(f"{shown}: no such file") from None
    except OSError as err:
        raise DataError(f"{shown}: {err.strerror}") from None
    if stat.S_ISDIR(info.st_mode):
        raise DataError(f"{shown} is a folder, not a CSV file")
    if stat.S_ISREG(info.st_mode) and info.st_size > max_bytes():
        raise DataError(f"{shown} is {info.st_size / 2**20:.0f} MiB; gradlab fit reads files "
                        f"up to {max_bytes() / 2**20:.0f} MiB (an eighth of the memory budget)")
    try:
        with open(path, "rb") as f:
            data = f.read(max_bytes() + 1)
    except OSError as err:
        raise DataError(f"{shown}: {err.strerror}") from None
    if len(data) > max_bytes():
        raise DataError(f"{shown} is over {max_bytes() / 2**20:.0f} MiB, the most gradlab fit "
                        "reads")
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        encoding = "utf-16"
    else:
        encoding = "utf-8-sig"
        if b"\0" in data:
            raise DataError(f"{shown} holds NUL bytes: a binary file, not CSV text")
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as err:
        line = data[:err.start].count(b"\n") + 1
        name = "UTF-16" if encoding == "utf-16" else "UTF-8"
        raise DataError(f"{shown}, line {line}: not {name} text (byte "
                        f"0x{data[err.start]:02x}); save the file as UTF-8 (\"CSV UTF-8\" in a "
                        "spreadsheet)") from None


def _skipped(line: str) -> bool:
    stripped = line.strip()
    return not stripped or stripped.startswith("#")


def _split(text: str, separator):
    """``(line number, fields)`` of every row that is not empty or a comment."""
    if separator is None:
        for number, line in enumerate(io.StringIO(text, newline=None), 1):
            if not _skipped(line):
                yield number, [c.strip('"') for c in line.split()]
        return
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=separator, strict=False)
    start = 1
    for fields in reader:
        number, start = start, reader.line_num + 1
        if not fields or (len(fields) == 1 and _skipped(fields[0])) or fields[0].startswith("#"):
            continue
        yield number, fields


def _separator(path, text: str):
    sample = []
    for line in io.StringIO(text, newline=None):
        if not _skipped(line):
            sample.append(line)
            if len(sample) == SNIFF_LINES:
                break
    if not sample:
        raise DataError(f"{_shown(path)} is empty" if not text.strip() else
                        f"{_shown(path)} holds only comments (lines starting with #)")
    sample_text = "".join(sample)
    for separator in (*SEPARATORS, None):
        counts = {len(f) for _, f in _split(sample_text, separator)}
        if len(counts) == 1 and counts.pop() >= 2:
            return separator
    for separator in (*SEPARATORS, None):  # not regular: the first that splits the first line
        if len(next(_split(sample[0], separator))[1]) >= 2:
            return separator
    raise DataError(f"{_shown(path)} has one column; gradlab fit needs two or more (x and y), "
                    "separated by commas, semicolons, tabs or spaces")


# A number as a CSV file writes it, in ASCII: Python's float() also reads "1_000" and
# full-width or Arabic-Indic digits, which no spreadsheet writes.
_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|[+-]?(?:nan|inf|infinity)",
                     re.IGNORECASE | re.ASCII)


def _is_number(cell: str, decimal_comma: bool) -> bool:
    return _NUMBER.fullmatch(_number_text(cell, decimal_comma)) is not None


def _number_text(cell: str, decimal_comma: bool) -> str:
    cell = cell.strip()
    if decimal_comma and "," in cell and "." not in cell:
        cell = cell.replace(",", ".", 1) if cell.count(",") == 1 else cell
    return cell


def _choose(path, spec: str, names, header: bool) -> int:
    """The 0-based index of the column ``spec`` names (a header name, or a number from 1)."""
    shown, width = _shown(path), len(names)
    wanted = unicodedata.normalize("NFC", spec.strip())
    by_name = [i for i, n in enumerate(names) if header and n == wanted]
    by_number = int(wanted) - 1 if wanted.isdigit() and wanted.isascii() else None
    if len(by_name) > 1:
        raise DataError(f"{shown}: column name {spec!r} is ambiguous: columns "
                        f"{' and '.join(str(i + 1) for i in by_name)} are both named {spec!r}; "
                        "choose one by its number")
    if by_name and by_number is not None and by_name[0] != by_number:
        raise DataError(f"{shown}: {spec!r} is ambiguous: column {by_name[0] + 1} is named "
                        f"{spec!r}; rename it, or choose by a name")
    if by_name:
        return by_name[0]
    if by_number is not None:
        if not 0 <= by_number < width:
            raise DataError(f"{shown} has {width} columns, numbered from 1 to {width}; got "
                            f"column {spec}")
        return by_number
    if not header:
        raise DataError(f"{shown} has no header row, so columns are chosen by number, 1 to "
                        f"{width}; got {spec!r}")
    known = ", ".join(repr(n) for n in names)
    raise DataError(f"{shown} has no column named {spec!r}; its columns are {known} (or "
                    f"numbers 1 to {width})")


def read_columns(path, specs, *, drop_missing: bool = False) -> Columns:
    """Read the columns ``specs`` (names or numbers from 1, as text) of the CSV file ``path``.

    Args:
      path: the file.
      specs: one text per column wanted (``"time"``, ``"2"``).
      drop_missing: leave out rows with an empty, NaN or inf cell in a chosen
        column (listed in `Columns.dropped`) instead of refusing the file.
    """
    shown = _shown(path)
    text = _read_text(path)
    separator = _separator(path, text)
    decimal_comma = separator != ","
    rows = _split(text, separator)
    first_line, first = next(rows)
    width = len(first)
    header = not all(_is_number(c, decimal_comma) for c in first)
    names = ([unicodedata.normalize("NFC", c.strip()) for c in first] if header
             else [f"column {i + 1}" for i in range(width)])
    chosen = [_choose(path, spec, names, header) for spec in specs]
    cells = [[] for _ in chosen]
    lines = []
    body = rows if header else _chain(first_line, first, rows)
    for number, fields in body:
        if len(fields) != width:
            what = "the header" if header else f"line {first_line}"
            raise DataError(f"{shown}, line {number}: {len(fields)} fields, but {what} has "
                            f"{width} (separated by {SEPARATOR_WORDS[separator]}); every row "
                            "needs the same number of columns")
        lines.append(number)
        for store, i in zip(cells, chosen):
            store.append(fields[i])
    if not lines:
        raise DataError(f"{shown} has a header but no rows of data")
    lines = np.asarray(lines)
    values = [_numbers(path, c, lines, names[i], i, decimal_comma)
              for c, i in zip(cells, chosen)]
    missing = np.zeros(len(lines), bool)
    for v in values:
        missing |= ~np.isfinite(v)
    dropped = ()
    if np.any(missing):
        bad = lines[missing].tolist()
        columns = ", ".join(repr(names[i]) for v, i in zip(values, chosen)
                            if not np.all(np.isfinite(v)))
        if not drop_missing:
            s = "s" if len(bad) > 1 else ""
            raise DataError(f"{shown}: {len(bad)} row{s} with an empty, NaN or inf cell in "
                            f"{columns} (line{s} {_lines_text(bad)}); fix them, or pass "
                            "--drop-nan to leave them out")
        if np.all(missing):
            raise DataError(f"{shown}: every row has an empty, NaN or inf cell in {columns}; "
                            "nothing is left to fit")
        dropped = tuple(bad)
        values = [v[~missing] for v in values]
        lines = lines[~missing]
    labels = tuple(names[i] for i in chosen)
    return Columns(tuple(values), labels, lines, dropped, header, separator)


def _chain(number, fields, rows):
    yield number, fields
    yield from rows


def _numbers(path, cells, lines, name, index, decimal_comma) -> np.ndarray:
    """A column's cells as float64; empty cells NaN; anything else not a number refused."""
    texts = [_number_text(c, decimal_comma) or "nan" for c in cells]
    if all(map(_NUMBER.fullmatch, texts)):
        return np.array(texts, dtype=np.float64)
    values = np.empty(len(texts))
    for k, (number, cell, t) in enumerate(zip(lines, cells, texts)):
        if _NUMBER.fullmatch(t):
            values[k] = float(t)
        else:
            hint = ""
            if not decimal_comma and "," in cell:
                hint = " (a decimal comma? then separate the columns with ';')"
            raise DataError(f"{_shown(path)}, line {number}, column {name!r} "
                            f"({index + 1}): {printable(cell)!r} is not a number{hint}") from None
    return values
