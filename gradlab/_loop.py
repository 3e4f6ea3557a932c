"""The compiled descent loop behind `gradlab.descent`; its rules live in `gradlab.stopping`.

One loop, run two ways, judged by the same rules:

* every step recorded and no line search: one ``lax.scan`` of bare optimiser
  steps, two per iteration; the history is judged afterwards, all steps at
  once, with `stopping.stop_code` (the first step that stops the run wins and
  the history after it is frozen, exactly as the step-by-step loop leaves it);
* otherwise step by step (`_start`, `_step`, `_finish`): stopped runs freeze,
  the steps between two records exit early, and a batch of runs (`run_many`)
  steps only the groups of runs that still run (`_step_batch`).

Either way the run ends with `stopping.verdict` at its last point, with the
Hessian there (`derivatives.value_grad_hessian`) for the stationarity test.

An optimiser is described by a static `Method` (`gradlab._method`, with the
loop's `LoopConfig`): a ready optax transformation, or a factory called inside
the trace with traced hyperparameters (a learning rate, a trust radius), so
new values of those never recompile.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax
import optax.tree_utils as otu

from gradlab import derivatives, models, parallel, progress, stopping
from gradlab._method import LoopConfig, Method
from gradlab._rows import Rows
from gradlab.optimizers import TrustNewtonState
from gradlab.result import Status, Trajectory
from gradlab.stopping import STALL_PATIENCE, Stop, Tolerances


def plain_descent(learning_rate) -> optax.GradientTransformationExtraArgs:
    """``x ← x − α·∇f(x)``, the course's rule: optax.sgd's update, with no state."""

    def update(grads, state, params=None, **extra_args):
        del params, extra_args
        return jax.tree.map(lambda g: -learning_rate * g, grads), state

    return optax.GradientTransformationExtraArgs(lambda params: optax.EmptyState(), update)


def _optimizer(method: Method, hyperparams) -> optax.GradientTransformationExtraArgs:
    opt = method.transformation if method.factory is None else method.factory(**hyperparams)
    if isinstance(opt, optax.GradientTransformationExtraArgs):
        return opt
    return optax.with_extra_args_support(opt)


class _Carry(NamedTuple):
    x: jax.Array
    state: optax.OptState
    f: jax.Array
    g: jax.Array
    gnorm: jax.Array  # ‖g‖ (`stopping.norm`: no underflow), once per step for test and record
    stop: jax.Array  # a stopping.Stop code; RUNNING while the run runs
    nit: jax.Array
    nfev: jax.Array
    stalls: jax.Array  # consecutive steps that left x in place
    x0: jax.Array
    f0: jax.Array
    f_limit: jax.Array  # the runaway limit, from the start's cost


# Steps per loop iteration in the plain loop. On CPU an iteration costs about a
# microsecond of its own, as much as a step of a small cost: two steps per
# iteration ran 1000 steps on the course's line ~20% faster for ~0.1 s more
# compile (four: ~35% faster, ~0.3 s more compile).
UNROLL = 2

# The states of transformations that hold the cost and gradient at the point
# they move to (optax's line searches; gradlab's trust region) — reusable when
# such a transformation is the last of its chain, optax's own contract for
# `optax.value_and_grad_from_state`.
_LINE_SEARCHES = (optax.ScaleByZoomLinesearchState, optax.ScaleByBacktrackingLinesearchState)


def _last_state(state):
    """The state of the transformation that produces the final update, or None."""
    while True:
        if isinstance(state, (TrustNewtonState, *_LINE_SEARCHES)):
            return state
        if hasattr(state, "inner_state"):  # inject_hyperparams and its relatives
            state = state.inner_state
        elif type(state) is tuple and state:  # optax.chain: the last link acts last
            state = state[-1]
        else:
            return None


def _stored_point(opt, x, config: LoopConfig):
    """The type of state whose value and gradient the loop may reuse, or None.

    Decided from the structure of the optimiser's state at trace time: reuse is
    only sound when the final update is the one whose value was stored, and not
    when projection moves the point afterwards.
    """
    if config.project:
        return None
    last = _last_state(jax.eval_shape(opt.init, x))
    if last is None or last.grad is None:  # a backtracking search may not store it
        return None
    return type(last)


def _linesearch_evals(state):
    """Cost evaluations the line searches in ``state`` made in the last update."""
    counts = [c for _, c in otu.tree_get_all_with_path(state, "num_linesearch_steps")]
    return sum(counts) if counts else 0


def _advance(cost, opt, box, config: LoopConfig, x, state, f, g):
    """One optimiser step from ``x``: new point, state, cost, gradient, evaluations, Hessian.

    The Hessian is the one the optimiser holds at the new point (trust region),
    else None.
    """
    updates, state = opt.update(g, state, x, value=f, grad=g, value_fn=cost)
    x = optax.apply_updates(x, updates)
    if config.project:
        x = jnp.clip(x, box[0], box[1])
    if _stored_point(opt, x, config) is None:
        f, g = derivatives.value_and_grad(cost, x)
        return x, state, f, g, 1 + _linesearch_evals(state), None
    last = _last_state(state)
    if isinstance(last, TrustNewtonState):
        return x, state, last.value, last.grad, 1, last.hessian
    return x, state, last.value, last.grad, jnp.maximum(_linesearch_evals(state), 1), None


def _start(cost, x0, method: Method, hyperparams, tols: Tolerances) -> _Carry:
    """The step-by-step loop's state before the first step."""
    f0, g0 = derivatives.value_and_grad(cost, x0)
    finite0 = jnp.isfinite(f0) & jnp.all(jnp.isfinite(g0))
    return _Carry(x0, _optimizer(method, hyperparams).init(x0), f0, g0, stopping.norm(g0),
                  jnp.where(finite0, Stop.RUNNING, Stop.NONFINITE).astype(jnp.int32),
                  jnp.asarray(0, jnp.int32), jnp.asarray(1, jnp.int32),
                  jnp.asarray(0, jnp.int32), x0, f0, stopping.runaway_limit(f0, tols))


def _step(cost, c: _Carry, method: Method, hyperparams, box, tols: Tolerances,
          config: LoopConfig) -> _Carry:
    """One step of the step-by-step loop: stopped runs stay as they are."""
    opt = _optimizer(method, hyperparams)
    running = c.stop == Stop.RUNNING
    take = running & ~stopping.small_gradient(c.gnorm, tols)
    # A stopped run skips its step (a real branch for one run). Under vmap both
    # branches run, so stopped members also get a zero gradient: a line search
    # then settles at once instead of grinding at roundoff to its limit.
    g_in = jnp.where(take, c.g, 0.0)
    holds_hessian = _stored_point(opt, c.x, config) is TrustNewtonState

    def moved():
        x, state, f, g, evals, hessian = _advance(cost, opt, box, config, c.x, c.state, c.f, g_in)
        # stop early only where a Newton step could not move x any more (xtol at the
        # stall tolerance, ~4 eps) and did not remove a tenth of f either (near a minimum
        # at 0 such a step can still remove most of it: `stopping.progress`): the run
        # ends as accurate as the width allows
        at_rest = (stopping.stationary(x, c.x0, f, g, hessian, tols._replace(xtol=tols.stall),
                                       box, minimum=True) & ~stopping.progress(c.f, f)
                   if holds_hessian else jnp.asarray(False))
        return x, state, f, g, jnp.asarray(evals, jnp.int32), at_rest

    x, state, f, g, evals, at_rest = jax.lax.cond(
        take, moved,
        lambda: (c.x, c.state, c.f, c.g, jnp.zeros((), jnp.int32), jnp.asarray(False)))
    gnorm = stopping.norm(g)
    x_size = jnp.maximum(stopping.size(x), stopping.size(c.x0))
    finite = jnp.isfinite(f + gnorm + x_size)  # NaN and inf survive the sum
    still = stopping.is_still(x - c.x, x_size, tols)
    stalls = jnp.where(take & still, c.stalls + 1, jnp.where(take, 0, c.stalls))
    code = stopping.stop_code(small_before=running & ~take, finite=finite | ~take,
                              runaway=take & (f > c.f_limit),
                              stalled=take & (stalls >= STALL_PATIENCE),
                              stationary=take & at_rest)
    # the step is kept only where it is finite: one branch, not a select per array (the
    # carry is a dozen arrays, the optimiser's state included, and XLA:CPU runs each
    # select as a kernel of its own at every step); under vmap it is a select again
    x, state, f, g, gnorm = jax.lax.cond(take & finite, lambda: (x, state, f, g, gnorm),
                                         lambda: (c.x, c.state, c.f, c.g, c.gnorm))
    return c._replace(x=x, state=state, f=f, g=g, gnorm=gnorm,
                      stop=jnp.where(running, code, c.stop),
                      nit=c.nit + take.astype(jnp.int32),
                      nfev=c.nfev + jnp.where(take, evals, 0), stalls=stalls.astype(jnp.int32))


def _record_chunks(advance_all, running, carry0, config: LoopConfig, token=None,
                   view=lambda c: c):
    """Scan over the recorded points; between two records, up to ``record_every`` steps.

    ``advance_all`` steps the carry (one run, or a batch); ``running`` says
    whether any run in it still runs, so the steps between records stop early.
    With a progress ``token``, steps done are reported every few records.
    ``view(carry)``: the `_Carry` itself (a batch may hold it packed: `batch_carry`).
    """
    records = config.steps // config.record_every

    def record_chunk(c, i):
        now = view(c)
        seen = (now.x, now.f, now.gnorm)
        if config.record_every == 1:
            c = advance_all(c)
        else:
            _, c = jax.lax.while_loop(
                lambda ic: (ic[0] < config.record_every) & running(ic[1]),
                lambda ic: (ic[0] + 1, advance_all(ic[1])), (0, c))
        progress.maybe_report(token, (i + 1) * config.record_every, config.steps)
        return c, seen

    return jax.lax.scan(record_chunk, carry0, jnp.arange(records, dtype=jnp.int32))


def _judged(cost, stop, x, x0, f, f0, tols, box):
    """`stopping.verdict` at a run's last point, with the Hessian there for the test, as a
    `stopping.Pending` verdict (`_settled` asks the cost where it must).

    Returns it and the gradient at ``x``.
    """
    if x.shape[-1] > stopping.HESSIAN_MAX_DIM:
        _, g = derivatives.value_and_grad(cost, x)
        hessian = None
    else:
        _, g, hessian = derivatives.value_grad_hessian(cost, x)
    rounding = models.rounding(cost, x)  # known for fits
    # f's rounding as measured at x: below it no evaluation of f confirms a decrease
    measured = stopping.measured_rounding(cost, x, f, g) if hessian is not None else None
    judged, question = stopping.rest_asking(
        x, x0, f, g, hessian, tols, box,
        floor=None if rounding is None else stopping.NOISE * rounding, measured=measured)
    verdict = lambda descends: stopping.verdict(stop, judged.stationary, f, f0, descends)
    return stopping.Pending(verdict(judged.descends), verdict(True), question), g


def _finish(cost, last: _Carry, xs, fs, gns, tols, box):
    """The Trajectory of one run of the step-by-step loop, and its pending verdict."""
    pending, _ = _judged(cost, last.stop, last.x, last.x0, last.f, last.f0, tols, box)
    return Trajectory(
        x=last.x, fun=last.f, grad=last.g, success=pending.status == Status.CONVERGED,
        status=pending.status, nit=last.nit, nfev=last.nfev,
        xs=jnp.concatenate([xs, last.x[None]]), fs=jnp.concatenate([fs, last.f[None]]),
        grad_norms=jnp.concatenate([gns, last.gnorm[None]]),
    ), pending


def _with_status(traj: Trajectory, status) -> Trajectory:
    return dataclasses.replace(traj, status=status, success=status == Status.CONVERGED)


def _settled(cost, traj: Trajectory, pending: stopping.Pending, box) -> Trajectory:
    """A run's Trajectory with its verdict settled (`stopping.settle`)."""
    return _with_status(traj, stopping.settle(pending, jax.vmap(cost), box))


def _settled_batch(cost, trajs: Trajectory, pending: stopping.Pending, box) -> Trajectory:
    """A batch's Trajectories with their verdicts settled in one branch
    (`stopping.settle_batch`)."""
    return _with_status(trajs, stopping.settle_batch(pending, lambda _: jax.vmap(cost), None,
                                                     box))


def _judged_after(method: Method, hyperparams, x0, config: LoopConfig) -> bool:
    """Whether the plain loop, judged afterwards, runs this descent (see `run_one`)."""
    return (config.record_every == 1
            and _stored_point(_optimizer(method, hyperparams), x0, config) is None)


def run_one(cost, x0, method: Method, hyperparams, box, tols: Tolerances,
            config: LoopConfig, token=None) -> Trajectory:
    """The loop itself, for one start; jitted by `gradlab.descent`.

    ``token``: a `gradlab.progress` token (steps done are reported), or None.
    """
    return _settled(cost, *_run_pending(cost, x0, method, hyperparams, box, tols, config, token),
                    box)


def _run_pending(cost, x0, method: Method, hyperparams, box, tols: Tolerances,
                 config: LoopConfig, token=None) -> tuple[Trajectory, stopping.Pending]:
    """`run_one`, its verdict left pending (a batch settles its runs' together)."""
    if _judged_after(method, hyperparams, x0, config):
        # Every step is recorded, so nothing can exit early: run the plain loop and
        # judge the history afterwards, vectorised, at a bare scan's cost per step.
        # (Not for line searches: run on past their stop, they would grind at
        # roundoff; frozen by the step-by-step loop, they cost nothing.)
        opt = _optimizer(method, hyperparams)
        f0, g0 = derivatives.value_and_grad(cost, x0)

        def plain(carry, k):
            x, state, f, g, evals, _ = _advance(cost, opt, box, config, *carry)
            counted = None if isinstance(evals, int) else evals  # a constant: not recorded
            if token is not None:
                progress.maybe_report(token, k + 1, config.steps)
            return (x, state, f, g), (x, f, stopping.norm(g), counted)

        steps = None if token is None else jnp.arange(config.steps, dtype=jnp.int32)
        _, (xs, fs, gns, evals) = jax.lax.scan(
            plain, (x0, opt.init(x0), f0, g0), steps, length=config.steps, unroll=UNROLL)
        return _judge_history(cost, x0, f0, g0, xs, fs, gns, evals, tols, box)

    last, (xs, fs, gns) = _record_chunks(
        lambda c: _step(cost, c, method, hyperparams, box, tols, config),
        lambda c: c.stop == Stop.RUNNING, _start(cost, x0, method, hyperparams, tols), config,
        token)
    return _finish(cost, last, xs, fs, gns, tols, box)


def _judge_history(cost, x0, f0, g0, xs, fs, gns, evals, tols: Tolerances, box):
    """`stopping.stop_code` applied to a whole history of ``steps`` unfrozen steps at once:
    the Trajectory and its pending verdict.

    Step ``k`` (1-based) leads from index ``k − 1`` to ``k``. The first step
    whose code is not RUNNING stops the run; the history after it is frozen at
    the stopping point (the one before it, for a step not taken or not finite).
    Written as a few elementwise passes, no cumulative scans: on a small cost
    this pass is a visible share of the whole call.
    """
    steps = fs.shape[0]
    xs = jnp.concatenate([x0[None], xs])
    fs = jnp.concatenate([f0[None], fs])
    gns = jnp.concatenate([stopping.norm(g0)[None], gns])
    x_size = jnp.maximum(stopping.size(xs), stopping.size(x0))
    finite = jnp.isfinite(fs + gns + x_size)
    still = stopping.is_still(xs[1:] - xs[:-1], x_size[1:], tols)
    # step k ends a stall when it and the STALL_PATIENCE - 1 steps before it were all still
    padded = jnp.concatenate([jnp.zeros(STALL_PATIENCE - 1, bool), still])
    stalled = functools.reduce(jnp.logical_and, [padded[j:j + steps]
                                                 for j in range(STALL_PATIENCE)])
    codes = stopping.stop_code(small_before=stopping.small_gradient(gns[:-1], tols),
                               finite=finite[1:],
                               runaway=finite[1:] & (fs[1:] > stopping.runaway_limit(f0, tols)),
                               stalled=stalled)
    i = jnp.argmax(codes != Stop.RUNNING)  # the first step that stopped the run, if any
    code = codes[i]
    stopped = code != Stop.RUNNING
    undone = stopped & ((code == Stop.SMALL_GRADIENT) | (code == Stop.NONFINITE))
    broke0 = ~finite[0]
    stop = jnp.where(broke0, Stop.NONFINITE, jnp.where(stopped, code, Stop.RUNNING))
    nit = jnp.where(broke0, 0, jnp.where(stopped, jnp.where(code == Stop.SMALL_GRADIENT, i,
                                                             i + 1), steps))
    freeze = jnp.where(broke0, 0, jnp.where(undone, i, nit))
    index = jnp.arange(steps)
    nfev = 1 + nit if evals is None else 1 + jnp.sum(jnp.where(index < nit, evals, 0))
    held = jnp.arange(steps + 1) <= freeze
    x, f, gnorm = xs[freeze], fs[freeze], gns[freeze]
    pending, grad = _judged(cost, stop, x, x0, f, f0, tols, box)
    return Trajectory(
        x=x, fun=f, grad=grad, success=pending.status == Status.CONVERGED,
        status=pending.status, nit=nit.astype(jnp.int32), nfev=nfev.astype(jnp.int32),
        xs=jnp.where(held[:, None], xs, x), fs=jnp.where(held, fs, f),
        grad_norms=jnp.where(held, gns, gnorm),
    ), pending


def run_many(cost, x0s, method: Method, hyperparams, box, tols: Tolerances,
             config: LoopConfig, token=None) -> Trajectory:
    """A batch of runs (with one set of hyperparameters per run if ``method.per_run``)."""
    if x0s.shape[0] == 1:
        # XLA treats a batch of one as a broadcast, and cuts its kernels differently
        # (the bits then differ from the same run's in a larger batch): run it twice
        twice = lambda a: jnp.concatenate([a, a])
        both = run_many(cost, twice(x0s), method,
                        jax.tree.map(twice, hyperparams) if method.per_run else hyperparams,
                        box, tols, config, token)
        return jax.tree.map(lambda a: a[:1], both)
    hyper_axis = 0 if method.per_run else None
    one = jax.tree.map(lambda a: a[0], hyperparams) if method.per_run else hyperparams
    if _judged_after(method, one, x0s[0], config):
        run = lambda x0, h: _run_pending(cost, x0, method, h, box, tols, config, token)
        return _settled_batch(cost, *jax.vmap(run, in_axes=(0, hyper_axis))(x0s, hyperparams),
                              box)

    step = jax.vmap(lambda c, h: _step(cost, c, method, h, box, tols, config),
                    in_axes=(0, hyper_axis))
    carry0 = batch_carry(jax.vmap(lambda x0, h: _start(cost, x0, method, h, tols),
                                  in_axes=(0, hyper_axis))(x0s, hyperparams))
    last, (xs, fs, gns) = _record_chunks(
        lambda c: _step_batch(step, c, hyperparams, method.per_run),
        lambda c: jnp.any(batch_view(c).stop == Stop.RUNNING), carry0, config, token,
        view=batch_view)
    last = batch_view(last)
    # the scan stacked the records in front: runs first, as everywhere else
    xs, fs, gns = (jnp.moveaxis(a, 0, 1) for a in (xs, fs, gns))
    return _settled_batch(cost, *jax.vmap(lambda c, x, f, g: _finish(cost, c, x, f, g, tols, box))(
        last, xs, fs, gns), box)


# A batch of runs is stepped in groups of (about) n / STEP_GROUPS runs, and only
# the groups that hold running runs: under plain vmap every run costs a full step
# until the slowest is done. On 1000 starts of the sine fit most converge in 5
# steps and a few take 11 (23 in float32), so most of that tail is skipped. One
# group size means one compiled step. Per device: under `parallel.map_rows` each
# device groups its own runs; not on rows split by SPMD partitioning, where the
# gathers would cross devices.
#
# A batch of fewer than GROUPED_MIN_BATCH runs is one group, stepped the same way
# (gathered, stepped, scattered), so that a run's bits never depend on its batch:
# XLA:CPU always contracts a·b + c into one fused multiply-add within a kernel
# (and cannot be told not to), so the bits of a step depend on where XLA cuts the
# program into kernels, and a step written as a plain vmap over the whole batch is
# cut differently from the same step between a gather and a scatter (a Rosenbrock
# run in float32, trust-region Newton: its first step differed in the last bits).
STEP_GROUPS = 8
GROUPED_MIN_BATCH = 64


def batch_carry(carry):
    """The form in which a batch loop should hold its carry (a pytree of per-run arrays
    with a ``stop`` field): packed into `Rows` where `_step_batch` moves groups of runs
    (one gather and one scatter per dtype instead of one per array), else as it is."""
    return Rows.pack(carry) if parallel.rows_are_local() else carry


def batch_view(carry):
    """The carry itself, from the form `batch_carry` gave it."""
    return carry.tree if isinstance(carry, Rows) else carry


def _step_batch(step, carry, hyperparams, per_run: bool,
                groups: int = STEP_GROUPS, rank=None, ranks: int = 1):
    """Advance a batch of runs by one step; stopped runs are skipped a group at a time.

    ``carry``: as `batch_carry` made it, from any pytree of per-run arrays with a
    ``stop`` field (`stopping.Stop` codes); ``step(tree, hyperparams)`` steps the
    pytree. ``groups``: how many groups the batch is cut into; ``rank``: None, or
    ``rank(tree)``, an integer in ``[0, ranks)`` per run: running runs are grouped in
    its order (runs that need the same costly work share groups), else in their own.
    """
    if not isinstance(carry, Rows):
        return step(carry, hyperparams)
    tree = carry.tree
    n = tree.stop.shape[0]
    groups = groups if n >= GROUPED_MIN_BATCH else 1
    size = -(-n // groups)
    running = tree.stop == Stop.RUNNING
    count = jnp.sum(running)
    order = _running_first(running, size * groups, None if rank is None else rank(tree), ranks)
    used = -(-count // size)
    rows = lambda tree, index: jax.tree.map(lambda a: a.at[index].get(mode="clip"), tree)

    def one_group(j, c: Rows):
        index = jax.lax.dynamic_slice_in_dim(order, j * size, size)
        sub = step(c.take(index).tree, rows(hyperparams, index) if per_run else hyperparams)
        return c.put(index, Rows.pack(sub))

    return jax.lax.fori_loop(0, used, one_group, carry)


def _running_first(running, length: int, rank=None, ranks: int = 1):
    """The indices of the running runs, then ``n`` (past the end) up to ``length``; the
    running runs in the order of ``rank`` (an integer in ``[0, ranks)`` each; None: all
    alike), and in their own order within a rank.

    A stable partition: each running run's place among the running runs of its rank
    (a cumulative sum per rank) after those of the lower ranks, then one scatter. Not
    a stable sort (``argsort`` of the rank, which gives the same order): XLA:CPU
    cannot serialize a sort (``LessThan is not serializable``), so the tour's
    multistart batch could not be kept whole (`gradlab._programs`); and
    ``gl.multistart`` of 1,000 starts of the sine fit takes 0.83–0.87× as long
    without it (two runs of 15 and 20 calls, in turns).
    """
    n = running.shape[0]
    rank = jnp.zeros(n, jnp.int32) if rank is None else rank
    member = (rank[:, None] == jnp.arange(ranks)) & running[:, None]  # (n, ranks)
    counts = jnp.sum(member, axis=0)
    before = jnp.cumsum(counts) - counts  # running runs of lower ranks
    place = jnp.take_along_axis(jnp.cumsum(member, axis=0), rank[:, None], axis=1)[:, 0] - 1
    slot = jnp.where(running, before[rank] + place, length)  # length: dropped
    return jnp.full(length, n).at[slot].set(jnp.arange(n), mode="drop")

