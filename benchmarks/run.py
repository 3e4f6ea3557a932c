"""``gradlab bench``: run the studies, print markdown tables, write JSON and plots.

Usage (from the repository root): ``gradlab bench [--quick] [--out DIR] [--only NAME]``
or ``python -m benchmarks.run``. ``--quick`` proves the harness in under a minute;
its numbers are not the ones to quote.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import platform
import sys
import time
from pathlib import Path

import jax

from benchmarks import dimension, fitting, methods, peers, scale, scaleout, startup, userpaths
from benchmarks.harness import render
from gradlab import _files

STUDIES = {
    "methods": lambda quick, out: methods.run(quick, out),
    "dimension": lambda quick, out: dimension.run(quick, out),
    "peers": lambda quick, out: peers.run(quick),
    "scale": lambda quick, out: scale.run(quick, out),
    "scaleout": lambda quick, out: scaleout.run(quick, out),
    "userpaths": lambda quick, out: userpaths.run(quick, out),
    "startup": lambda quick, out: startup.run(quick, out),
    "fitting": lambda quick, out: fitting.run(quick, out),
}


def machine() -> str:
    import os

    return (f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
            f"JAX {jax.__version__} on {jax.default_backend()} "
            f"({len(jax.devices())} device(s)), Python {platform.python_version()}")


def main(quick: bool = False, out="gradlab-bench", only: str | None = None,
         overwrite: bool = False) -> int:
    if only is not None and only not in STUDIES:
        raise ValueError(f"unknown study {only!r}; choose one of {', '.join(STUDIES)}")
    out = Path(out)
    if out.exists() and any(out.iterdir()) and not overwrite:
        raise FileExistsError(f"{out} exists and is not empty; pass --overwrite or another --out")
    out.mkdir(parents=True, exist_ok=True)
    jax.config.update("jax_enable_x64", True)
    from rich.console import Console
    from rich.markdown import Markdown

    console = Console()
    report = [f"# gradlab benchmarks{' (quick: harness check only)' if quick else ''}", "",
              f"Machine: {machine()}. Command: `gradlab bench{' --quick' if quick else ''}`.", ""]
    payload = {"machine": machine(), "quick": quick, "studies": {}}
    names = [only] if only else list(STUDIES)
    for name in names:
        with console.status(f"running {name} ..."):
            t0 = time.perf_counter()
            study = STUDIES[name](quick, out)
        text = render(study)
        console.print(Markdown(text))
        console.print(f"[dim]{name}: {time.perf_counter() - t0:.1f} s[/dim]")
        report += [text, ""] + [f"![{p}]({p})" for p in study.plots] + [""]
        payload["studies"][name] = {
            "targets": [dataclasses.asdict(t) | {"holds": t.holds} for t in study.targets],
            "tables": study.tables, "data": study.data}
    # whole files or none (an interrupted run leaves the previous results intact)
    _files.write_text(out / "results.md", "\n".join(report), overwrite=True)
    _files.write_text(out / "results.json", json.dumps(payload, indent=1, default=str),
                      overwrite=True)
    console.print(f"written: {out}/results.md, results.json and plots")
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--out", default="gradlab-bench")
    parser.add_argument("--only")
    parser.add_argument("--overwrite", action="store_true")
    a = parser.parse_args()
    sys.exit(main(a.quick, a.out, a.only, a.overwrite))
