"""Where a batched Levenberg–Marquardt step spends its time: the pieces of one group step.

A batch of fits (`gradlab._lm_batch.run_many`) steps its running runs a group at a
time, each group under ``vmap``. This times the pieces of one such group step,
each compiled as the batch is (`gradlab._compile.loop_jit`) and repeated inside
one compiled loop (so no call overhead is counted), the pieces taking turns:

* ``thurber``: 32 runs of NIST Thurber (37 points, 7 parameters), as the
  1,000-start benchmark groups them, after ``--trials`` trials from its starts;
* ``datasets``: 313 runs of ``a·exp(−b·x) + c`` (50 points, 3 parameters), each
  on its own data set, as the 10⁴-data-set benchmark groups them.

Process CPU time, not wall time: on a shared machine the wall clock swings 2–3×
with the load, the CPU time far less. The pieces overlap (a whole step holds the
others); read them as a breakdown, not a sum.

Run: ``python -m benchmarks.lm_step [--problem thurber|datasets] [--trials 10]``
"""

from __future__ import annotations

import argparse
import statistics
import time

import jax
import jax.numpy as jnp
import numpy as np

import gradlab as gl
from gradlab import _compile, _linalg, _lm_algebra, _lm_batch, fitting, leastsq, nist
from gradlab.costs import Objective
from gradlab.stopping import Stop

REPEATS = 100  # a piece's calls inside one compiled loop


def _thurber(size: int):
    p = nist.load("Thurber")
    rng = np.random.default_rng(0)
    starts = p.starts[0] * np.exp(rng.uniform(np.log(0.5), np.log(2), (size, 7)))
    cost = gl.fit_cost(p.model, p.data())
    return jnp.asarray(starts), (cost.objective, None), None


def _datasets(size: int):
    from benchmarks.fitting import decay

    rng = np.random.default_rng(1)
    x = np.linspace(0.0, 4.0, 50)
    truth = np.stack([rng.uniform(1, 3, size), rng.uniform(0.5, 2, size),
                      rng.uniform(-1, 1, size)], 1)
    ys = truth[:, :1] * np.exp(-truth[:, 1:2] * x) + truth[:, 2:]
    ys = ys + rng.normal(0, 0.05, (size, 50))
    cost = gl.fit_cost(decay, (x, ys[0]))
    data = gl.Data(jnp.broadcast_to(jnp.asarray(x), (size, 50)), jnp.asarray(ys))
    starts = jnp.broadcast_to(jnp.asarray([1.0, 1.0, 0.0]), (size, 3))
    return starts, (Objective(cost.fn, cost.grad, data), None), 0


def pieces(problem, axis):
    """name -> f(carry, problem) for the pieces of one group step (all vmapped)."""
    _, loop_tols = fitting._tolerances(np.dtype("float64"), None, None, None)
    opts = leastsq.Options(vectorised=True)
    vmap = lambda f: jax.vmap(f, in_axes=(0, axis))

    def vstep(o):
        return vmap(lambda c, p: leastsq.step_running(p[0], p[1], c, None, loop_tols, o))

    step = _lm_batch.group_step(None, loop_tols, opts, axis)  # as `_lm_batch.run_many` does
    refreshed = jax.vmap(lambda c: leastsq.refresh(c, True))
    held = lambda c: c._replace(spectrum_here=jnp.ones_like(c.spectrum_here))

    def rj(c, p):
        return leastsq.residuals_and_jacobian(p[0], c.point.x, leastsq.in_units(p[1], c.unit))

    def qr(c, p):
        r, jac = rj(c, p)
        return jnp.linalg.qr(jnp.concatenate([jac, r[:, None]], 1), mode="r")

    def arrive(c, p):
        return leastsq._arrive(p[0], leastsq.in_units(p[1], c.unit), c.point.scale,
                               c.point.scale_rr, False, c.point.x, *rj(c, p), c.point.rr, None,
                               loop_tols, True)

    return step, {
        "whole step (damped or not, as the batch)": step,
        "whole step, every SVD held (after a refusal)": lambda c, p: step(held(c), p),
        "step, damped branch (SVDs held)": lambda c, p: vstep(opts)(c, p),
        "refresh: the SVDs, warm": lambda c, p: refreshed(c),
        "step, undamped branch": lambda c, p: vstep(opts._replace(damped=False))(c, p),
        "residuals + Jacobian": vmap(rj),
        "  + LAPACK QR": vmap(qr),
        "  + QR, solve, scaling, tests (_arrive)": vmap(arrive),
        "damped step (lm_step: λ, SVD held)": vmap(
            lambda c, p: _lm_algebra.lm_step(c.point.factors, c.radius, True, c.spectrum)),
        "  Jacobi SVD alone, warm": vmap(
            lambda c, p: _linalg.jacobi_svd(c.point.factors.tri, c.spectrum.v)),
        "column norms of J": vmap(lambda c, p: gl.stopping.column_norms(rj(c, p)[1])),
    }


def _looped(fn):
    """``fn`` run REPEATS times in one compiled loop; a zero that XLA cannot see through
    makes each call depend on the last, so nothing is hoisted out of the loop."""
    @_compile.loop_jit
    def run(c, p, zero):
        def body(_, acc):
            shift = lambda a: a if a.dtype == bool else a + (acc * zero).astype(a.dtype)
            moved = jax.tree.map(shift, c)
            out = [leaf for leaf in jax.tree.leaves(fn(moved, p)) if leaf.dtype != bool]
            return acc + sum(jnp.sum(leaf).astype(acc.dtype) for leaf in out) * zero
        return jax.lax.fori_loop(0, REPEATS, body, zero)
    return run


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--problem", choices=("thurber", "datasets"), default="thurber")
    parser.add_argument("--trials", type=int, default=10, help="trials before timing")
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args(argv)
    jax.config.update("jax_enable_x64", True)
    size = 32 if args.problem == "thurber" else 313
    starts, problem, axis = (_thurber if args.problem == "thurber" else _datasets)(size)
    step, table = pieces(problem, axis)
    carry = jax.vmap(lambda p, x0: leastsq.start(*p, x0), in_axes=(axis, 0))(problem, starts)
    advance = jax.jit(step)
    for _ in range(args.trials):
        carry = advance(carry, problem)
    opts = leastsq.Options(vectorised=True)
    print(f"{args.problem}: a group of {size} runs after {args.trials} trials; "
          f"{int(jnp.sum(carry.stop == Stop.RUNNING))} running, "
          f"{int(jnp.sum(jax.vmap(lambda c: leastsq.needs_svd(c, opts))(carry)))} need a "
          "damped step")
    zero = jnp.zeros((), jnp.float64)
    calls = {name: _looped(fn) for name, fn in table.items()}
    for call in calls.values():
        jax.block_until_ready(call(carry, problem, zero))
    times = {name: [] for name in calls}
    for _ in range(args.rounds):  # the pieces take turns
        for name, call in calls.items():
            t0 = time.process_time()
            jax.block_until_ready(call(carry, problem, zero))
            times[name].append((time.process_time() - t0) / REPEATS)
    for name, t in times.items():
        print(f"{name:45s} {statistics.median(t) * 1e6:8.1f} µs CPU (median of {args.rounds})")


if __name__ == "__main__":
    main()
