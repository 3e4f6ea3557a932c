"""How gradlab's loops are compiled: XLA:CPU's LLVM IR kernel emitters, at the top level.

A solver's loop is a hundred-odd tiny fused kernels, and XLA:CPU compiles
each one through MLIR by default (about 30 ms apiece on 2 cores). Its older
LLVM IR emitters compile the same programs in 45–65% of the time (gl.fit on
NIST Thurber: 2.1 s against 3.7 s; a 1000-step descent: 1.0 s against
1.6–2.1 s) and run them as fast (measured: a descent, 1,000 fit starts, 10⁴
data sets, all within noise). Not for a grid search, one big vectorised
evaluation, which ran 5× slower with them.

A batch of descents (`multistart`, `basin_map`, `sweep_learning_rates`) uses
them too, since gradlab stopped letting a run's bits depend on how XLA cuts a
program into kernels. XLA:CPU always fuses ``a·b + c`` into one fused
multiply-add inside a kernel (no option turns that off), so the bits of a step
follow the kernel boundaries; a batch stepped as a plain ``vmap`` and the same
step between a group's gather and scatter were cut differently, and with these
emitters a float32 Rosenbrock run differed from the same run in a larger batch
(5e-7 relative). Every batch now steps through the same gather–step–scatter
structure, whatever its size, and a batch of one runs as two (XLA treats an axis
of length 1 as a broadcast): `gradlab._loop.GROUPED_MIN_BATCH`, tested for batches
of 1, 40 and 300 (`tests/test_multistart.py`). Measured old code against new in
fresh processes taking turns (3 rounds, 2026-11-30 10:31, load 7–9, with the
packed carry of `gradlab._rows`): first call's CPU time 0.68× (64 Himmelblau
starts), 0.67× (1,000 sine starts), 0.66× (256 Rosenbrock starts); XLA's compile
0.56–0.59×; warm calls 0.65×, 0.87×, 0.66×.

The option is per program, never global, and only for the CPU: XLA takes
compiler options only for a top-level ``jit`` (inside a caller's ``jit`` or
``vmap`` the program is compiled as part of the caller's, with its options),
and only jaxlib 0.10, where this was measured, is given it (an unknown option
is an error).

What the compile time is then made of (gl.fit on Thurber, 2026-11-30, `perf`):
about half the process's CPU time in the first call goes to LLVM (its IR
passes and instruction selection, per kernel), against 4% in XLA's HLO
passes; CPU time grows by about 10 ms per kernel (optimistix's LM: 29
kernels, 0.5 s; gl.fit: 151 kernels, 1.7 s, at load 7). XLA:CPU makes every
reduction a kernel of its own, whose consumers it does not fuse, and splits a
reduction over more than 32 values into three (an unfused ``abs``, a
``reduce-window`` and a ``reduce``): a safe norm of 37 residuals is seven
kernels. So code in these loops takes several norms as the rows or columns of
one array (`stopping.stationary`, `stopping.rounding_of_squares`,
`leastsq.norms_at`). Options that were tried and do not pay (compile CPU
time and run time of the same fit program, each option taking turns with the
default in one process, 3 rounds, load 7–11):
``xla_backend_optimization_level`` 0 compiles in 36% of the time but runs
1.65× slower (and changes the bits); 1: 84%, 1.4× slower; one LLVM module
(``xla_cpu_parallel_codegen_split_count=1``) 86%, 1.2× slower;
``xla_llvm_disable_expensive_passes``, ``xla_cpu_opt_preset``,
``xla_cpu_prefer_vector_width`` and ``xla_cpu_max_isa``: within noise.
"""

from __future__ import annotations

import functools

import jax
import jaxlib


def _cpu_options() -> dict:
    version = tuple(int(v) for v in jaxlib.__version__.split(".")[:2])
    return {"xla_cpu_use_fusion_emitters": False} if version >= (0, 10) else {}


@functools.cache
def _quick_options() -> dict:
    # asked on the first call, not at import: the backend is chosen then
    return _cpu_options() if jax.default_backend() == "cpu" else {}


def _top_level() -> bool:
    """Whether a call is made outside every JAX transformation (pjit's own test); where
    this JAX does not say, treated as nested: the program is then compiled plainly."""
    clean = getattr(jax._src.core, "trace_state_clean", None)
    return clean is not None and clean()


def loop_jit(fn=None, *, static_argnames=()):
    """``jax.jit(fn, static_argnames=...)``, compiled with the quick emitters at the top level.

    Usable as a decorator: ``@loop_jit(static_argnames=("config",))``.
    """
    if fn is None:
        return functools.partial(loop_jit, static_argnames=static_argnames)
    plain = jax.jit(fn, static_argnames=static_argnames)

    @functools.cache  # made on the first top-level call
    def quick():
        return jax.jit(fn, static_argnames=static_argnames, compiler_options=_quick_options())

    def pick():
        return quick() if _top_level() and _quick_options() else plain

    @functools.wraps(fn)
    def call(*args, **kwargs):
        return pick()(*args, **kwargs)

    call.lower = lambda *args, **kwargs: pick().lower(*args, **kwargs)
    return call
