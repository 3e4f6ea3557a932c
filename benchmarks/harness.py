"""Measuring, fairly: warm-up, block_until_ready, medians and spreads, compile apart, peak memory.

Every study returns a `Study`: markdown tables, targets checked as ratios
measured in the same run, plots and raw numbers for JSON.
"""

from __future__ import annotations

import dataclasses
import json
import os
import statistics
import subprocess
import sys
import time

import jax


@dataclasses.dataclass
class Timing:
    """Seconds: the first call (compile + run) and the warm runs' median and spread."""

    first: float
    median: float
    low: float
    high: float
    repeats: int

    @property
    def compile(self) -> float:
        return max(self.first - self.median, 0.0)

    def __str__(self):
        return f"{fmt_seconds(self.median)} [{fmt_seconds(self.low)}–{fmt_seconds(self.high)}]"


def fmt_seconds(s: float) -> str:
    if s >= 1:
        return f"{s:.2f} s"
    if s >= 1e-3:
        return f"{s * 1e3:.2f} ms"
    return f"{s * 1e6:.1f} µs"


def time_call(fn, *, repeats: int = 7, warmup: int = 1) -> Timing:
    """Time ``fn()``: its first call apart, then the median of ``repeats`` warm calls."""
    t0 = time.perf_counter()
    jax.block_until_ready(fn())
    first = time.perf_counter() - t0
    for _ in range(warmup - 1):
        jax.block_until_ready(fn())
    samples = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        jax.block_until_ready(fn())
        samples.append(time.perf_counter() - t0)
    return Timing(first, statistics.median(samples), min(samples), max(samples), repeats)


def time_interleaved(fns, *, repeats: int = 51) -> list[Timing]:
    """Time several calls that will be compared, taking turns: ``a, b, a, b, ...``.

    On a shared machine the speed drifts (we have seen 2× within a minute);
    timing ``a`` then ``b`` in blocks lets the drift into their ratio, taking
    turns exposes both to the same conditions. Medians per function, as in `time_call`.
    """
    firsts = []
    for fn in fns:
        t0 = time.perf_counter()
        jax.block_until_ready(fn())
        firsts.append(time.perf_counter() - t0)
    samples = [[] for _ in fns]
    for _ in range(repeats):
        for fn, own in zip(fns, samples, strict=True):
            t0 = time.perf_counter()
            jax.block_until_ready(fn())
            own.append(time.perf_counter() - t0)
    return [Timing(first, statistics.median(own), min(own), max(own), repeats)
            for first, own in zip(firsts, samples, strict=True)]


def peak_rss_mb() -> float:
    """This process's peak resident memory so far, in MiB.

    Read from /proc (VmHWM), not getrusage's ru_maxrss: on Linux ru_maxrss
    survives fork and exec, so a benchmark child would report its parent's peak.
    """
    with open("/proc/self/status") as status:
        kib = next(line.split()[1] for line in status if line.startswith("VmHWM"))
    return float(kib) / 1024


def run_json_subprocess(code: str, *, devices: int = 1, timeout: int = 240,
                        attempts: int = 2) -> dict:
    """Run ``code`` in a fresh Python (optionally on simulated CPU devices); parse its last line.

    A run that outlives ``timeout`` is tried again: once, on this 2-core machine, a
    child process sat idle in a futex wait inside XLA's CPU runtime and never
    finished, while the same code finished in 14 s on every other run.
    """
    env = dict(os.environ)
    if devices > 1:
        env["XLA_FLAGS"] = f"--xla_force_host_platform_device_count={devices}"
        env["JAX_PLATFORMS"] = "cpu"
    for attempt in range(attempts):
        try:
            proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                  env=env, timeout=timeout, check=False)
            break
        except subprocess.TimeoutExpired:
            if attempt == attempts - 1:
                raise
    if proc.returncode != 0:
        raise RuntimeError(f"benchmark subprocess failed:\n{proc.stderr[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


@dataclasses.dataclass
class Target:
    """A claim from DESIGN.md, checked on a ratio measured in this run."""

    claim: str
    ratio: float
    bound: float
    at_least: bool  # True: ratio >= bound (a speed-up); False: ratio <= bound (an overhead)

    @property
    def holds(self) -> bool:
        return self.ratio >= self.bound if self.at_least else self.ratio <= self.bound

    def row(self):
        op = "≥" if self.at_least else "≤"
        return [self.claim, f"{self.ratio:.2f}×", f"{op} {self.bound:g}×",
                "holds" if self.holds else "**does not hold**"]


@dataclasses.dataclass
class Study:
    name: str
    title: str
    tables: list = dataclasses.field(default_factory=list)  # (caption, rows with header first)
    targets: list = dataclasses.field(default_factory=list)
    plots: list = dataclasses.field(default_factory=list)
    data: dict = dataclasses.field(default_factory=dict)
    notes: list = dataclasses.field(default_factory=list)


def md_table(rows) -> str:
    head, *body = rows
    lines = ["| " + " | ".join(map(str, head)) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(map(str, r)) + " |" for r in body]
    return "\n".join(lines)


def render(study: Study) -> str:
    parts = [f"## {study.title}", ""]
    for caption, rows in study.tables:
        parts += [f"**{caption}**", "", md_table(rows), ""]
    if study.targets:
        parts += ["**Targets (DESIGN.md), ratios measured in this run**", "",
                  md_table([["claim", "measured", "target", "verdict"]]
                           + [t.row() for t in study.targets]), ""]
    parts += [f"- {n}" for n in study.notes]
    return "\n".join(parts)
