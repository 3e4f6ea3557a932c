"""How gradlab's loops are compiled: XLA:CPU's LLVM IR kernel emitters, at the top level.

A solver's loop is a hundred-odd tiny fused kernels, and XLA:CPU compiles
each one through MLIR by default (about 30 ms apiece on 2 cores). Its older
LLVM IR emitters compile the same programs in 45–65% of the time (gl.fit on
NIST Thurber: 2.1 s against 3.7 s; a 1000-step descent: 1.0 s against
1.6–2.1 s) and run them as fast (measured: a descent, 1,000 fit starts, 10⁴
data sets, all within noise). Not for a grid search, one big vectorised
evaluation, which ran 5× slower with them.

A batch of descents (`multistart`, `basin_map`, `sweep_learning_rates`) gets
them too, with LLVM's vectorisers off (``loop_jit(vectorize=False)``:
``xla_cpu_prefer_vector_width=64``, narrower than any vector register), for
gradlab promises that a run does not depend on its batch, bit for bit
(`tests/test_multistart.py`), and vectorised code breaks that promise. Why
(found 2026-11-30): XLA:CPU always lets LLVM fuse a multiply and an add into
one FMA (``llvm::FPOpFusion::Fast``, no option turns it off), and LLVM's
instruction selector fuses a multiply only into its sole user. The LLVM IR
emitters compute a loop fusion element by element, so a subexpression two
outputs share is computed twice; the loop vectoriser merges the two copies
into one vector multiply with two users (not fused: two roundings), while its
scalar remainder loop keeps one multiply per copy (fused: one rounding). Which
rows fall in the remainder depends on the batch's size. The smallest case:
``jax.vmap(jax.grad(rosenbrock))`` over n starts computes ``x1 - x0**2`` as
``vmulps``, ``vsubps`` in the vector body and ``vfnmadd213ss`` in the remainder;
compiled with the vectorising LLVM IR emitters, 177 of the batch sizes 1–299
gave some start other bits than a batch of 300 (float32; 122 in float64),
with XLA's default emitters (which reuse the shared multiply) and with the
vectorisers off, none. Options that do not help: ``xla_cpu_max_isa`` (SSE4_2
or AVX: XLA still emits FMAs), ``xla_cpu_prefer_vector_width=128``,
``xla_cpu_strict_dot_conv_math``, ``xla_cpu_enable_fast_min_max=False``;
without HLO fusion (``xla_disable_hlo_passes=fusion``) more runs differ. With
the vectorisers off, every run of the suite's 14 costs × 3 optimisers
(trust-region Newton, L-BFGS, Adam), in a batch of 300 (stepped in groups),
equals the same run in a batch of its last 40 (stepped whole) and of its last
70, every field bit for bit, in float32 (and for 6 of them in float64). The
batch then compiles in about half the CPU time of XLA's default and runs about
as fast (`python -m benchmarks.batch_compile --rounds 3 --repeats 15`,
2026-11-30 10:43, load 10 falling to 6; medians, each against the default:
64 Himmelblau starts compiled in 2.37 s of CPU against 4.84 (0.49×; wall
0.38×) and ran 1.07×; 1,000 sine starts 1.88 s against 3.57 (0.53×) and 1.00×;
300 Rosenbrock starts 2.92 s against 5.54 (0.53×) and 1.28× (34.0 ms against
26.6; the vectorised LLVM IR emitters: 1.39×). Run ratios swing at such loads:
0.75–1.34× over three runs of the benchmark (load 8–11), the vectorised
emitters' 0.66–1.65×. Turning the vectorisers off itself saves compile time:
0.49–0.53× against 0.58–0.66× with them). `tests/test_multistart.py` (``-n 2``)
took 145 s of CPU against 227 s before (0.64×), 152 s against 222 s of wall
time (one pair, the old checkout first, 10:46–10:53, load 4–5). A
batch of fits keeps its loop vectorised (its runs step in groups whose code gave
the same bits for every batch size tried: `tests/test_fit.py`); what runs once
after it, its verdicts and statistics, is a program of its own with the
vectorisers off (`gradlab.fitting._fit_many_end`): vectorised, a fit's
covariance depended on the batch around it (2026-12-01, a CPU without AVX2).
On a quiet machine (2026-11-30 11:28, old code against the new in fresh
processes taking turns, with `gradlab._rows`' packing): the first call's CPU time
0.50–0.68×, warm calls 0.64–0.67× on Himmelblau and Rosenbrock, but 1.2–1.5× on
the sine fit's 1,000 starts × 500 points, where scalar code costs its SIMD.

The kernel boundaries matter for the same reason, whatever the emitters: where
XLA cuts a program into kernels decides which multiplies can become FMAs. A
batch stepped as a plain ``vmap`` and the same step between a group's gather
and scatter are cut differently (with XLA's default emitters too: a float32
Rosenbrock run's first trust-region step differed in its last bits once the
groups' state was packed, `gradlab._rows`), and XLA treats an axis of length 1 as
a broadcast. So every batch steps through the same gather–step–scatter
structure whatever its size, and a batch of one runs as two
(`gradlab._loop.GROUPED_MIN_BATCH`; tested for batches of 1, 40 and 300).

Two more of XLA:CPU's choices follow an array's size, so a batch program turns
both off (found 2026-12-01; `tests/test_compile.py`):
- jaxlib 0.10 hands a reduction over 4,096 values or more to YNNPACK, which adds
  in another order than XLA's own loop. The vmapped value and gradient of a
  5-parameter cost gave a start other bits in a batch of 1,000 than in one of 8,
  and a trust-region Newton multistart's groups of 820 runs and more (4,100
  values) sent its runs elsewhere than alone, by up to float32's ``xtol``.
  ``xla_cpu_experimental_ynn_fusion_type`` empty: none.
- Its parallel task assigner cuts a large loop into pieces for the thread pool,
  at bounds that follow the batch's size: an L-BFGS multistart of 5,504 starts
  ended 354 of its first 3,000 runs elsewhere than one of 5,500 or of 3,000 (and
  than alone). ``xla_disable_hlo_passes=cpu-parallel-task-assigner``.
What they cost (``python -m benchmarks.batch_compile --rounds 3 --repeats 11``,
2026-12-01 02:40, load 1.0; medians, without them against with them): 1,000 sine
starts ran 1.08× as long (56.9 ms against 52.5) and compiled in 1.12× the CPU time;
300 Rosenbrock starts 1.01× and 0.95×; 20,000 Rosenbrock starts 0.83× (606 ms
against 735; the pool's pieces cost more than they saved) and 0.88×.

What runs once after a single fit's loop (its verdict and statistics) is a program
of its own compiled with `once_jit`: LLVM at ``xla_backend_optimization_level`` 0,
a third of the compile time for a quarter more run time on code that runs once, and
so is a multistart's analysis of its end points (`gradlab.multistart`). Not for
batches (a fit's covariance then depended on its batch in the last bits), nor a
descent's verdict, which compares the loop's ``f`` with what it computes: at level 0
XLA:CPU evaluates ``exp`` otherwise than at 1 or 2 (Meyer's cost 800 ulps apart in
float64 at the same point, Osborne 1's 5e-5 apart in float32), and a verdict
compiled apart changed three statuses of the MGH sweep (2026-12-01).

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

# the options that turn off XLA:CPU's kernels chosen by an array's size (module docstring):
# YNNPACK's reductions, and loops cut into pieces for the thread pool
NO_KERNELS_BY_SIZE = {"xla_cpu_experimental_ynn_fusion_type": "",
                      "xla_disable_hlo_passes": "cpu-parallel-task-assigner"}


def cpu_options(vectorize: bool) -> dict:
    """XLA:CPU's options for a loop: the LLVM IR emitters, vectorised or not (none before
    jaxlib 0.10, which does not know them)."""
    version = tuple(int(v) for v in jaxlib.__version__.split(".")[:2])
    if version < (0, 10):
        return {}
    if vectorize:
        return {"xla_cpu_use_fusion_emitters": False}
    # no vector register is as narrow as 64 bits: LLVM vectorises nothing
    return {"xla_cpu_use_fusion_emitters": False, "xla_cpu_prefer_vector_width": 64,
            **NO_KERNELS_BY_SIZE}


@functools.cache
def _quick_options(vectorize: bool = True) -> dict:
    # asked on the first call, not at import: the backend is chosen then
    return cpu_options(vectorize) if jax.default_backend() == "cpu" else {}


def _top_level() -> bool:
    """Whether a call is made outside every JAX transformation (pjit's own test); where
    this JAX does not say, treated as nested: the program is then compiled plainly."""
    clean = getattr(jax._src.core, "trace_state_clean", None)
    return clean is not None and clean()


def loop_jit(fn=None, *, static_argnames=(), vectorize: bool = True):
    """``jax.jit(fn, static_argnames=...)``, compiled with the quick emitters at the top level.

    ``vectorize=False``: and with LLVM's vectorisers off, so that every run of a batch
    goes through the same machine code (see the module docstring).
    Usable as a decorator: ``@loop_jit(static_argnames=("config",))``.
    """
    if fn is None:
        return functools.partial(loop_jit, static_argnames=static_argnames, vectorize=vectorize)
    return _top_level_jit(fn, static_argnames, lambda: _quick_options(vectorize))


def once_jit(fn=None, *, static_argnames=()):
    """`loop_jit` for code that runs once per call, after a loop (the final verdict and a
    fit's statistics): compiled without LLVM's optimisations at the top level.

    Such code is a hundred-odd small kernels that each run once, so their compile time
    is the whole of their cost: gl.fit's verdict and statistics on NIST Thurber took 2.4 s
    of CPU to compile optimised and 0.7 s unoptimised (``xla_backend_optimization_level``
    0), and 0.45 ms to run against 0.33 ms (2026-12-01). No vectoriser runs at that
    level, so a batch's runs still share their machine code.
    """
    if fn is None:
        return functools.partial(once_jit, static_argnames=static_argnames)
    return _top_level_jit(fn, static_argnames, _once_options)


@functools.cache
def _once_options() -> dict:
    quick = _quick_options()
    return {**quick, "xla_backend_optimization_level": 0} if quick else {}


def _top_level_jit(fn, static_argnames, options):
    """``jax.jit(fn)``, with ``options()`` as its compiler options where called at the top
    level and they are not empty (inside a caller's trace: as part of the caller's)."""
    plain = jax.jit(fn, static_argnames=static_argnames)

    @functools.cache  # made on the first top-level call
    def quick():
        return jax.jit(fn, static_argnames=static_argnames, compiler_options=options())

    def pick():
        return quick() if _top_level() and options() else plain

    @functools.wraps(fn)
    def call(*args, **kwargs):
        return pick()(*args, **kwargs)

    call.lower = lambda *args, **kwargs: pick().lower(*args, **kwargs)
    return call
