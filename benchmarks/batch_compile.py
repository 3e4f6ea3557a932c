"""A batch of descents (`gl.multistart`'s program) compiled three ways: compile and run time.

The program is `gradlab.descent._descend_many`, traced and lowered anew for each
compile (JAX keeps a compiled program in memory per traced function) and compiled with each set
of XLA options below, the sets taking turns round after round (JAX's persistent
cache is off, so every compile is a fresh one); then the
compiled programs are called in turns (`benchmarks.harness.time_interleaved`).
Compile: the median wall and CPU seconds; run: the median of the calls. Ratios
against XLA's default.

- ``default``: XLA's default (the MLIR fusion emitters).
- ``llvm-ir``: XLA:CPU's LLVM IR kernel emitters, vectorised as LLVM sees fit.
- ``llvm-ir scalar``: the LLVM IR emitters with LLVM's vectorisers off, and neither
  YNNPACK's reductions nor loops cut for the thread pool (what
  `gradlab._compile.loop_jit` gives the batch with ``vectorize=False``).
- ``scalar, by size``: the same, with those two left on (as before 2026-12-01: they
  are chosen by an array's size, so a run's bits followed its batch's size).

  python -m benchmarks.batch_compile [--rounds 3] [--repeats 21] [--cases himmelblau-64 sine-1000]
"""

from __future__ import annotations

import argparse
import contextlib
import inspect
import os
import statistics
import time

import jax

from benchmarks.harness import time_interleaved
from gradlab._compile import NO_KERNELS_BY_SIZE, cpu_options

CASES = {  # name: (cost, gl.multistart's keyword arguments)
    "himmelblau-64": ("himmelblau", {"n_starts": 64}),
    "sine-1000": ("sine", {"n_starts": 1000}),
    "rosenbrock-300": ("rosenbrock", {"n_starts": 300}),
    "rosenbrock-20000": ("rosenbrock", {"n_starts": 20_000}),
}
OPTIONS = {  # the options `loop_jit` gives its programs, not a copy of them
    "default": {},
    "llvm-ir": cpu_options(vectorize=True),
    "llvm-ir scalar": cpu_options(vectorize=False),
    "scalar, by size": {k: v for k, v in cpu_options(vectorize=False).items()
                        if k not in NO_KERNELS_BY_SIZE},
}


class _Captured(Exception):
    pass


def batch_call(cost: str, kwargs: dict):
    """The arguments ``gl.multistart(cost, **kwargs)`` gives its batch program (not compiled)."""
    import gradlab as gl
    from gradlab import descent

    seen = {}

    def capture(*args, **static):
        seen.update(args=args, static=static)
        raise _Captured

    real, descent._descend_many = descent._descend_many, capture
    try:
        gl.multistart(cost, seed=0, **kwargs)
    except _Captured:
        pass
    finally:
        descent._descend_many = real
    return seen["args"], seen["static"]


def _lowered(args, static, options: dict):
    from gradlab import descent

    plain = inspect.unwrap(descent._descend_many)  # the function, without gradlab's jit

    def fresh(*args, **static):  # a new function each time: JAX caches nothing for it
        return plain(*args, **static)

    return jax.jit(fresh, static_argnames=tuple(static), compiler_options=options).lower(
        *args, **static)


def _compile_once(lowered) -> tuple[float, float, object]:
    wall, cpu = time.perf_counter(), time.process_time()
    compiled = lowered.compile()
    return time.perf_counter() - wall, time.process_time() - cpu, compiled


def compare(args, static, variants: dict, rounds: int, repeats: int) -> dict:
    """The batch program with ``args`` compiled each way of ``variants`` (name: (XLA
    options, a context the program is traced in)), in turns round after round, then
    the compiled programs called in turns: the medians per name."""
    walls, cpus = ({name: [] for name in variants} for _ in range(2))
    compiled = {}
    for _ in range(rounds):
        for name, (options, context) in variants.items():
            with context():
                lowered = _lowered(args, static, options)
            wall, cpu, compiled[name] = _compile_once(lowered)
            walls[name].append(wall)
            cpus[name].append(cpu)
    calls = [lambda p=compiled[name]: p(*args) for name in variants]
    runs = time_interleaved(calls, repeats=repeats)
    return {name: {"compile_wall": statistics.median(walls[name]),
                   "compile_cpu": statistics.median(cpus[name]), "run": run.median}
            for name, run in zip(variants, runs, strict=True)}


def measure(case: str, rounds: int, repeats: int) -> dict:
    variants = {name: (options, contextlib.nullcontext) for name, options in OPTIONS.items()}
    return compare(*batch_call(*CASES[case]), variants, rounds, repeats)


def run_cases(doc: str, cases: list[str], measure, base: str, repeats: int) -> None:
    """The command line of a comparison: ``--rounds``, ``--repeats``, ``--cases``; prints
    each case's variants with their ratios against ``base``. ``measure(case, rounds,
    repeats)`` returns `compare`'s record."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=repeats)
    parser.add_argument("--cases", nargs="+", default=cases, choices=cases)
    a = parser.parse_args()
    jax.config.update("jax_enable_compilation_cache", False)
    print(f"load average at start: {os.getloadavg()[0]:.1f}")
    for case in a.cases:
        result = measure(case, a.rounds, a.repeats)
        first = result[base]
        for name, r in result.items():
            print(f"{case:16s} {name:15s} compile {r['compile_wall']:6.2f} s wall "
                  f"({r['compile_wall'] / first['compile_wall']:.2f}x), "
                  f"{r['compile_cpu']:6.2f} s CPU ({r['compile_cpu'] / first['compile_cpu']:.2f}x)"
                  f"   run {r['run'] * 1e3:8.2f} ms ({r['run'] / first['run']:.2f}x)", flush=True)
    print(f"load average at end: {os.getloadavg()[0]:.1f}")


def main() -> None:
    run_cases(__doc__, list(CASES), measure, "default", repeats=21)


if __name__ == "__main__":
    main()
