"""Write the course notebooks, examples/curso.ipynb (es) and examples/course.ipynb (en).

Both come from one source, `course_source.py`, so their code is the same and their text
moves in step. The output is deterministic: no outputs, no execution counts, cell ids
numbered in order, keys sorted; the same source always gives the same bytes, so a test
can check that the committed notebooks are up to date.

Usage (from the repository root):

    python examples/notebooks/build.py           # rewrite both notebooks
    python examples/notebooks/build.py --check   # exit 1 if either is out of date
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
from pathlib import Path

import nbformat

HERE = Path(__file__).resolve().parent
EXAMPLES = HERE.parent
NOTEBOOKS = {"es": EXAMPLES / "curso.ipynb", "en": EXAMPLES / "course.ipynb"}
TITLES = {"es": "Descenso de gradiente, paso a paso",
          "en": "Gradient descent, step by step"}


def _source():
    spec = importlib.util.spec_from_file_location("course_source", HERE / "course_source.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def notebook(lang: str) -> nbformat.NotebookNode:
    """The notebook in ``lang`` ("es" or "en"), without outputs."""
    if lang not in NOTEBOOKS:
        raise ValueError(f"lang must be one of {sorted(NOTEBOOKS)}; got {lang!r}")
    cells = []
    for i, cell in enumerate(_source().CELLS):
        cell_id = f"cell-{i:02d}"
        if cell["type"] == "markdown":
            cells.append(nbformat.v4.new_markdown_cell(cell[lang], id=cell_id))
        elif cell["type"] == "code":
            cells.append(nbformat.v4.new_code_cell(cell["source"], id=cell_id))
        elif cell["type"] == "parameters":
            cells.append(nbformat.v4.new_code_cell(f"LANG = {lang!r}", id=cell_id,
                                                   metadata={"tags": ["parameters"]}))
        else:
            raise ValueError(f"cell {i}: unknown type {cell['type']!r}")
    nb = nbformat.v4.new_notebook(cells=cells, metadata={
        "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
        "language_info": {"name": "python"},
        "title": TITLES[lang],
    })
    nbformat.validate(nb)
    return nb


def render(lang: str) -> str:
    """The notebook's file contents: nbformat's JSON, ending in a newline."""
    return nbformat.writes(notebook(lang)) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true",
                        help="write nothing; exit 1 if a notebook is not what the source gives")
    args = parser.parse_args(argv)
    stale = []
    for lang, path in NOTEBOOKS.items():
        text = render(lang)
        current = path.read_text(encoding="utf-8") if path.exists() else None
        if current == text:
            continue
        stale.append(path)
        if not args.check:
            path.write_text(text, encoding="utf-8", newline="\n")
            print(f"wrote {path}")
    if args.check and stale:
        print("out of date: " + ", ".join(str(p) for p in stale)
              + "; run python examples/notebooks/build.py", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
