"""The batch driver of `gradlab.leastsq`'s loop: many fits in one compiled loop, a group of
running runs at a time (`run_many`, behind `gradlab.fit` with several starts or data sets).

**A refused trial keeps its SVD** (`gradlab.leastsq.refresh`). A batch computes
it for a whole group at once (under ``vmap`` both sides of a ``cond`` run), only
when one of its runs needs a damped step and holds no SVD of its ``R``
(`group_step`), and the running runs are grouped in that order: those that need
a new SVD first, then the other damped steps, then the Gauss–Newton ones
(`run_many`). Counted on the 1,000 Thurber starts of `benchmarks.fitting`:
27,227 of 73,725 trials are damped, 9,877 of them right after a refusal at the
same point, but a group of 32 in the previous order could skip its SVD in only
152 of 3,472 damped group steps; grouped by need, the SVDs run in 1,722 of 3,455
group steps. A single fit's path is unchanged (LAPACK gives the same SVD again;
the 54 NIST runs take the same trials, 4,555, and end at the same points to
roundoff); in a batch the kept SVD differs in rounding from the one a warm
Jacobi start would give again, and some paths change with it. Measured against
the previous code in one process, taking turns (`benchmarks.fit_versions`,
2026-11-30, 2 loaded cores): 1,000 Thurber starts 0.78–0.90× its CPU time, 10⁴
data sets 0.87×, a single fit unchanged (1.01×); the batch compiles 1.12× longer
(README.md).

**A batch's sums stay batch-independent.** On XLA:CPU a plain sum under ``vmap``
(along the minor axis or not) gives bits that depend on the batch's size (sums
of squares over N = 30, 37 and 50 residuals, batches of 1–64 against the same
rows in a batch of 70); `gradlab.stopping.column_norms` does not. Holding ``J``
by its columns and summing along the minor axis made 10⁴ data-set fits 0.8× as
long, but the covariance of a fit then changed in its last bits with the number
of starts beside it, which breaks the promise that 1 and 2 processes, or 1 and 8
devices, give the same records bit for bit (`tests/test_distributed.py`,
`tests/test_fit.py`); not kept (2026-11-30).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from gradlab import stopping
from gradlab._loop import _step_batch, batch_carry, batch_view
from gradlab.leastsq import (
    Options,
    Solution,
    _Carry,
    judge,
    needs_fresh_svd,
    needs_svd,
    probe,
    refresh,
    running,
    start,
    step_running,
)
from gradlab.stopping import Tolerances

# A batch steps its running runs in groups of GROUP runs, but in no more than
# GROUPS groups: a few slow runs then cost a group of 32, not an eighth of the batch
# (1000 starts on NIST's Thurber, with LAPACK's SVD: 2.7 s against 5.0 s with 8
# groups; 128 groups: 3.3 s), while a big batch that runs evenly does not pay each
# group's own overhead too often (10⁴ data sets, with the vectorised SVD: 0.47–0.52 s
# in 32 groups, 0.71 s in 16, 0.58 s in 64; 2 cores under load). A smaller group
# for the last few runs (16 of 1000 Thurber starts) saved nothing measurable and
# doubled the batch's compile time. Measured again on 2026-11-30: a step of a group
# of Thurber runs costs about 80 µs for 1 run, 166 for 4, 236 for 8, 351 for 16, 533
# for 32 (each run crawling, steps=500, medians of 5 interleaved, load 3.4); with the
# new radius rule 885 of the 1,241 loop passes have 8 runs or fewer left, and a
# second step of 8 runs for them took the batch from 2.94 s to 2.47 s (medians of 2
# interleaved fresh processes, load 9) but its compile time from 20.6 s to 37.1 s
# (medians of 3, same load): not kept.
GROUP, GROUPS = 32, 32


def _refreshed_where(need, c):
    """`refresh` of one run's carry ``c`` where it ``need``s a fresh SVD, else ``c``."""
    return jax.tree.map(lambda a, b: jnp.where(need, a, b), refresh(c, True), c)


def group_step(box, loop_tols: Tolerances, options: Options, axis):
    """``step(c, p)``: one trial of every run of a group (a batch's carry ``c`` and its
    problems ``p``, with the data sets along ``axis`` or shared when None).

    Under ``vmap`` both sides of a ``cond`` run, so the SVDs of ``R`` are computed
    (`refresh`) for the whole group, and only when a run needs one that its carry does
    not hold (after a refused trial it holds it); each run keeps its own only if it
    needed it. A run's path must not depend on the runs beside it, and two such
    couplings made it do so (found 2026-12-01 by a hostile test): every run of the group
    took the new SVD, so the next one started from another ``V`` (a start of (5, −5)
    on ``p₀·p₁·x`` in float32 ended at three points, by its neighbours), and a group
    whose runs all took Gauss–Newton steps ran a second compiled step without the damped
    code, whose kernels round otherwise (of 3,000 float32 fits, the 2,908th differed in
    its last bits between the whole batch and its last 100). One step, one refresh rule
    per run: no slower (`benchmarks.fit_versions`, 1,000 Thurber starts 1.00× the wall
    time, 10⁴ data sets 0.97×; their first calls 0.72× and 0.76× as long, one step
    compiled instead of two; 2026-12-01, against c04fde4). A third: the step's plain
    norms, whose bits under ``vmap`` follow the group's size (with ``p₀·p₁·x`` in float64
    the trust radius came out an ulp apart in a group of 2 and one of 41, and the run
    ended elsewhere): the loop's norms of a run's vectors are `stopping.vector_norm`.
    """
    def step(c, p):
        if options.damped and not options.gauss_newton:
            need = jax.vmap(lambda c: needs_fresh_svd(c, options))(c)
            c = jax.lax.cond(jnp.any(need), lambda: jax.vmap(_refreshed_where)(need, c),
                             lambda: c)
        return jax.vmap(lambda c, p: step_running(p[0], p[1], c, box, loop_tols, options),
                        in_axes=(0, axis))(c, p)

    return step


def run_many(objective, sigma, x0s, steps, box, loop_tols: Tolerances, options: Options, *,
             data_axis: bool) -> _Carry:
    """A batch of fits in one loop: starts ``(n, d)``, and with ``data_axis`` one data set
    (and ``sigma``) per start along the leading axis of ``objective.data``. Returns each
    run's last state (`finish_many` judges them).

    Runs that stopped are skipped a group of `GROUP` runs at a time
    (`gradlab._loop._step_batch`); each group gathers its own data sets, which are
    never written back (`group_step`).
    """
    axis = 0 if data_axis else None
    problems = (objective, sigma)
    options = options._replace(vectorised=True)
    c0 = batch_carry(jax.vmap(lambda p, x0: start(*p, x0), in_axes=(axis, 0))(problems, x0s))

    step = group_step(box, loop_tols, options, axis)

    groups = min(GROUPS, -(-x0s.shape[0] // GROUP))

    def rank(c):  # runs that need a new SVD first, then the other damped steps, then the rest
        fresh = jax.vmap(lambda c: needs_fresh_svd(c, options))(c)
        damped = jax.vmap(lambda c: needs_svd(c, options))(c)
        return jnp.where(fresh, 0, jnp.where(damped, 1, 2)).astype(jnp.int32)

    return batch_view(jax.lax.while_loop(
        lambda c: jnp.any(running(batch_view(c), steps)),
        lambda c: _step_batch(step, c, problems, data_axis, groups, rank, ranks=3), c0))


def finish_many(objective, sigma, last: _Carry, box, tols: Tolerances, *,
                data_axis: bool) -> Solution:
    """`gradlab.leastsq.finish` for each run of a batch (`run_many`'s ``last``), the verdicts
    settled together (`stopping.settle_batch`)."""
    problems = (objective, sigma)
    sols, pending = jax.vmap(lambda c, p: judge(p[0], p[1], c, box, tols),
                             in_axes=(0, 0 if data_axis else None))(last, problems)
    status = stopping.settle_batch(
        pending, lambda row: probe(*(row[0] if data_axis else problems), row[1]),
        (problems if data_axis else None, last.unit), box)
    return sols._replace(status=status)
