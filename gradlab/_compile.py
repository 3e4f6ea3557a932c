"""How gradlab's loops are compiled: XLA:CPU's LLVM IR kernel emitters, at the top level.

A solver's loop is a hundred-odd tiny fused kernels, and XLA:CPU compiles
each one through MLIR by default (about 30 ms apiece on 2 cores). Its older
LLVM IR emitters compile the same programs in 45–65% of the time (gl.fit on
NIST Thurber: 2.1 s against 3.7 s; a 1000-step descent: 1.0 s against
1.6–2.1 s) and run them as fast (measured: a descent, 1,000 fit starts, 10⁴
data sets, all within noise). Not for a grid search, one big vectorised
evaluation, which ran 5× slower with them. Nor for a batch of descents
(`multistart`, `basin_map`, `sweep_learning_rates`), though its compile took
about 60% of the time (9.6 s against 17.4 s for 64 Himmelblau starts, load 11)
and it ran within milliseconds of the default: with them a run's bits depend
on its place in the batch (a Rosenbrock run in float32 recorded points 5e-7
(relative) away from the same run's in a larger batch; the cause is not pinned
down, likely a vectorised loop's body and its remainder rounding differently),
and gradlab promises that a run does not depend on its batch, bit for bit
(`tests/test_multistart.py`). A batch of fits promises it to
roundoff, and keeps them.

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
