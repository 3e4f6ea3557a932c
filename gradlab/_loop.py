"""The compiled descent loop behind `gradlab.descent` (see its docstring for the contract).

Two loops, one set of stopping rules:

* the plain loop (every step recorded, no line search): one ``lax.scan`` of bare
  optimiser steps, two per iteration, judged afterwards by `_judge` in a few
  vectorised passes;
* the step-by-step loop (`_start`, `_step`, `_finish`): frozen runs stop, the
  steps between two records exit early, and a batch of runs (`run_many`) steps
  only the groups of runs that still run (`_step_batch`).
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax
import optax.tree_utils as otu

from gradlab import derivatives, parallel
from gradlab.result import Status, Trajectory

_RUNNING = -1


class LoopConfig(NamedTuple):
    """What the compiled loop is specialised on (hashable, static under jit)."""

    steps: int
    record_every: int
    project: bool


class _Carry(NamedTuple):
    x: jax.Array
    state: optax.OptState
    f: jax.Array
    g: jax.Array
    g2: jax.Array  # ‖g‖², computed once per step for the test and the record
    status: jax.Array
    nit: jax.Array
    nfev: jax.Array
    stalls: jax.Array  # consecutive steps that did not move x
    f0: jax.Array  # the start's cost, and the runaway limits derived from the start
    f_limit: jax.Array
    x_limit: jax.Array


# A run is CONVERGED by stalling only after this many steps in a row that leave x
# in place: one refused step of a trust region or line search is not convergence.
STALL_PATIENCE = 8

# Steps per loop iteration in the plain loop. On CPU an iteration costs about a
# microsecond of its own, as much as a step of a small cost: two steps per
# iteration ran 1000 steps on the course's line ~20% faster for ~0.1 s more
# compile (four: ~35% faster, ~0.3 s more compile).
UNROLL = 2


def _plain_descent(learning_rate) -> optax.GradientTransformationExtraArgs:
    """``x ← x − α·∇f(x)``: optax.sgd's update with the rate traced, and no state."""

    def update(grads, state, params=None, **extra_args):
        del params, extra_args
        return jax.tree.map(lambda g: -learning_rate * g, grads), state

    return optax.GradientTransformationExtraArgs(lambda params: optax.EmptyState(), update)


def _ensure_extra_args(opt):
    if isinstance(opt, optax.GradientTransformationExtraArgs):
        return opt
    return optax.with_extra_args_support(opt)


def _linesearch_evals(state):
    """Cost evaluations the optimiser's line search made in its last update (0 if none)."""
    try:
        count = otu.tree_get(state, "num_linesearch_steps")
    except KeyError:  # several line searches chained: not counted separately
        return 0
    return 0 if count is None else count


def _optimizer(optimizer, learning_rate):
    """The transformation one run uses: ``optimizer``, or built from its learning rate."""
    if learning_rate is None:
        opt = optimizer
    elif optimizer is optax.sgd:  # the course's rule, without inject_hyperparams' bookkeeping
        opt = _plain_descent(learning_rate)
    else:
        opt = optax.inject_hyperparams(optimizer)(learning_rate=learning_rate)
    return _ensure_extra_args(opt)


def _reuses_stored(opt, x, config: LoopConfig) -> bool:
    """Whether the optimiser stores the cost and gradient of the point it accepts.

    Line-search optimisers do; the loop then reuses them instead of evaluating
    again (not when projection moves the point).
    """
    state = jax.eval_shape(opt.init, x)
    return (not config.project and otu.tree_get(state, "value") is not None
            and otu.tree_get(state, "grad") is not None)


def _advance(cost, opt, box, config: LoopConfig, x, state, f, g):
    """One optimiser step from ``x``: the new point, state, cost, gradient, evaluations."""
    updates, state = opt.update(g, state, x, value=f, grad=g, value_fn=cost)
    x = optax.apply_updates(x, updates)
    if config.project:
        x = jnp.clip(x, box[0], box[1])
    if _reuses_stored(opt, x, config):
        f, g = otu.tree_get(state, "value"), otu.tree_get(state, "grad")
        evals = jnp.maximum(_linesearch_evals(state), 1)
    else:
        f, g = derivatives.value_and_grad(cost, x)
        evals = 1 + _linesearch_evals(state)
    return x, state, f, g, evals


def _runaway_limits(x0, f0, divergence):
    """DIVERGED once ``|f|`` or ``max |x|`` passes these, scaled from the start."""
    return (divergence * jnp.maximum(1.0, jnp.abs(f0)),
            divergence * (1.0 + jnp.max(jnp.abs(x0))))


def _start(cost, x0, learning_rate, tols, optimizer) -> _Carry:
    """The step-by-step loop's state before the first step."""
    divergence = tols[2]
    f0, g0 = derivatives.value_and_grad(cost, x0)
    finite0 = jnp.isfinite(f0) & jnp.all(jnp.isfinite(g0))
    return _Carry(x0, _optimizer(optimizer, learning_rate).init(x0), f0, g0, jnp.sum(g0 * g0),
                  jnp.where(finite0, _RUNNING, Status.NONFINITE), jnp.asarray(0, jnp.int32),
                  jnp.asarray(1, jnp.int32), jnp.asarray(0, jnp.int32), f0,
                  *_runaway_limits(x0, f0, divergence))


def _step(cost, c: _Carry, learning_rate, box, tols, optimizer, config: LoopConfig) -> _Carry:
    """One step of the step-by-step loop: frozen runs stay as they are.

    Written with few reductions: on small costs the loop's own overhead is what
    separates it from a bare scan.
    """
    gtol, xtol, _ = tols
    opt = _optimizer(optimizer, learning_rate)
    running = c.status == _RUNNING
    take = running & (c.g2 > gtol * gtol)
    converged_here = running & ~take
    # A frozen run skips its step (a real branch for one run). Under vmap both
    # branches run, so frozen members also get a zero gradient: a line search
    # then settles at once instead of grinding at roundoff to its limit.
    g_in = jnp.where(take, c.g, 0.0)

    def moved():
        x, state, f, g, evals = _advance(cost, opt, box, config, c.x, c.state, c.f, g_in)
        return x, state, f, g, jnp.asarray(evals, jnp.int32)

    x, state, f, g, evals = jax.lax.cond(
        take, moved, lambda: (c.x, c.state, c.f, c.g, jnp.zeros((), jnp.int32)))
    g2 = jnp.sum(g * g)
    size = jnp.max(jnp.abs(x))
    finite = jnp.isfinite(f + g2 + size)  # NaN and inf survive the sum
    runaway = (jnp.abs(f) > c.f_limit) | (size > c.x_limit)
    still = jnp.sum((x - c.x) ** 2) <= (xtol * (1.0 + size)) ** 2
    stalls = jnp.where(take & still, c.stalls + 1, jnp.where(take, 0, c.stalls))
    status = jnp.select(
        [converged_here, ~take, ~finite, runaway, stalls >= STALL_PATIENCE],
        [Status.CONVERGED, c.status, Status.NONFINITE, Status.DIVERGED, Status.CONVERGED],
        _RUNNING,
    )
    accept = take & finite
    keep = lambda new, old: jnp.where(accept, new, old)
    return c._replace(x=keep(x, c.x), state=jax.tree.map(keep, state, c.state), f=keep(f, c.f),
                      g=keep(g, c.g), g2=keep(g2, c.g2), status=status.astype(c.status.dtype),
                      nit=c.nit + take.astype(jnp.int32),
                      nfev=c.nfev + jnp.where(take, evals, 0), stalls=stalls.astype(jnp.int32))


def _record_chunks(advance_all, running, carry0, config: LoopConfig):
    """Scan over the recorded points; between two records, up to ``record_every`` steps.

    ``advance_all`` steps the carry (one run, or a batch); ``running`` says
    whether any run in it still runs, so the steps between records stop early.
    """

    def record_chunk(c, _):
        seen = (c.x, c.f, jnp.sqrt(c.g2))
        if config.record_every == 1:
            return advance_all(c), seen
        _, c = jax.lax.while_loop(
            lambda ic: (ic[0] < config.record_every) & running(ic[1]),
            lambda ic: (ic[0] + 1, advance_all(ic[1])), (0, c))
        return c, seen

    return jax.lax.scan(record_chunk, carry0, None, length=config.steps // config.record_every)


def _finish(last: _Carry, xs, fs, gns, tols) -> Trajectory:
    """The Trajectory of one run of the step-by-step loop."""
    gtol = tols[0]
    gnorm = jnp.sqrt(last.g2)
    # Out of steps: converged if the gradient is small now; diverging if the cost
    # went up overall (slow divergence, below the runaway threshold); else MAX_STEPS.
    out_of_steps = jnp.select([gnorm <= gtol, last.f > last.f0],
                              [Status.CONVERGED, Status.DIVERGED], Status.MAX_STEPS)
    status = jnp.where(last.status == _RUNNING, out_of_steps, last.status)
    return Trajectory(
        x=last.x, fun=last.f, grad=last.g, success=status == Status.CONVERGED,
        status=status.astype(jnp.int32), nit=last.nit, nfev=last.nfev,
        xs=jnp.concatenate([xs, last.x[None]]), fs=jnp.concatenate([fs, last.f[None]]),
        grad_norms=jnp.concatenate([gns, gnorm[None]]),
    )


def _judged_after(optimizer, learning_rate, x0, config: LoopConfig) -> bool:
    """Whether the plain loop, judged afterwards, runs this descent (see `run_one`)."""
    return (config.record_every == 1
            and not _reuses_stored(_optimizer(optimizer, learning_rate), x0, config))


def run_one(cost, x0, learning_rate, box, tols, optimizer, config: LoopConfig) -> Trajectory:
    """The loop itself, for one start; jitted and vmapped by `gradlab.descent`."""
    if _judged_after(optimizer, learning_rate, x0, config):
        # Every step is recorded, so nothing can exit early: run the plain loop and
        # judge the stopping rules afterwards on the whole history, vectorised. The
        # history after the stop is frozen at the stopping point, exactly as the
        # step-by-step rules would leave it, at a bare scan's cost per step.
        # (Not for line-search optimisers: run on past convergence, their searches
        # would grind at roundoff; frozen by the step-by-step loop, they cost nothing.)
        gtol, xtol, divergence = tols
        opt = _optimizer(optimizer, learning_rate)
        f0, g0 = derivatives.value_and_grad(cost, x0)

        def plain(carry, _):
            x, state, f, g, evals = _advance(cost, opt, box, config, *carry)
            counted = None if isinstance(evals, int) else evals  # a constant: not recorded
            return (x, state, f, g), (x, f, jnp.sum(g * g), counted)

        (_, _, _, g_last), (xs, fs, g2s, evals) = jax.lax.scan(
            plain, (x0, opt.init(x0), f0, g0), None, length=config.steps, unroll=UNROLL)
        grad_at = lambda x: derivatives.value_and_grad(cost, x)[1]
        return _judge(grad_at, x0, f0, g0, g_last, xs, fs, g2s, evals, gtol, xtol,
                      *_runaway_limits(x0, f0, divergence))

    last, (xs, fs, gns) = _record_chunks(
        lambda c: _step(cost, c, learning_rate, box, tols, optimizer, config),
        lambda c: c.status == _RUNNING, _start(cost, x0, learning_rate, tols, optimizer),
        config)
    return _finish(last, xs, fs, gns, tols)


def _judge(grad_at, x0, f0, g0, g_last, xs, fs, g2s, evals, gtol, xtol, f_limit,
           x_limit) -> Trajectory:
    """Apply the stopping rules to a whole history of ``steps`` unfrozen steps at once.

    Step ``k`` (1-based) leads from index ``k − 1`` to ``k``. The first step at
    which a rule fires decides, with the precedence of the step-by-step loop: the
    gradient at its start was already small (CONVERGED, stop before it), its
    point is not finite (NONFINITE, keep the previous one), runs away
    (DIVERGED), or ends `STALL_PATIENCE` steps that left x in place (CONVERGED).
    Written as a few elementwise passes (no cumulative scans, no gathers): on a
    small cost this pass is a visible share of the whole call.
    """
    steps = fs.shape[0]
    xs = jnp.concatenate([x0[None], xs])
    fs = jnp.concatenate([f0[None], fs])
    g2s = jnp.concatenate([jnp.sum(g0 * g0)[None], g2s])
    size = jnp.max(jnp.abs(xs), axis=1)
    finite = jnp.isfinite(fs + g2s + size)
    small = g2s <= gtol * gtol
    still = jnp.sum((xs[1:] - xs[:-1]) ** 2, axis=1) <= (xtol * (1.0 + size[1:])) ** 2
    # step k ends a stall when it and the STALL_PATIENCE - 1 steps before it were all still
    padded = jnp.concatenate([jnp.zeros(STALL_PATIENCE - 1, bool), still])
    stalled = functools.reduce(jnp.logical_and, [padded[j:j + steps]
                                                 for j in range(STALL_PATIENCE)])
    runaway = finite[1:] & ((jnp.abs(fs[1:]) > f_limit) | (size[1:] > x_limit))
    before, broke = small[:-1], ~finite[1:]
    fired = before | broke | runaway | stalled
    i = jnp.argmax(fired)  # the first step that fired (0-based), if any did
    status_fired = jnp.select([before[i], broke[i], runaway[i]],
                              [Status.CONVERGED, Status.NONFINITE, Status.DIVERGED],
                              Status.CONVERGED)
    status_end = jnp.select([small[-1], fs[-1] > f0], [Status.CONVERGED, Status.DIVERGED],
                            Status.MAX_STEPS)
    any_fired = fired[i]
    status = jnp.where(~finite[0], Status.NONFINITE, jnp.where(any_fired, status_fired, status_end))
    nit = jnp.where(~finite[0], 0, jnp.where(any_fired, jnp.where(before[i], i, i + 1), steps))
    freeze = jnp.where(~finite[0], 0, jnp.where(any_fired & (before[i] | broke[i]), i, nit))
    index = jnp.arange(steps)
    if evals is None:  # one evaluation per step
        nfev = 1 + nit
    else:
        nfev = 1 + jnp.sum(jnp.where(index < nit, evals, 0))
    held = (jnp.arange(steps + 1) <= freeze)
    x, f, g2 = xs[freeze], fs[freeze], g2s[freeze]
    # the loop's last gradient is the answer unless the run stopped early
    grad = jax.lax.cond(freeze == steps, lambda: g_last, lambda: grad_at(x))
    return Trajectory(
        x=x, fun=f, grad=grad, success=status == Status.CONVERGED,
        status=status.astype(jnp.int32), nit=nit.astype(jnp.int32), nfev=nfev.astype(jnp.int32),
        xs=jnp.where(held[:, None], xs, x), fs=jnp.where(held, fs, f),
        grad_norms=jnp.sqrt(jnp.where(held, g2s, g2)),
    )


def run_many(cost, x0s, learning_rates, box, tols, optimizer, config: LoopConfig) -> Trajectory:
    """A batch of runs (and, optionally, one rate per run), for the caller to jit."""
    rate_axis = None if learning_rates is None else 0
    one_rate = None if learning_rates is None else learning_rates[0]
    if _judged_after(optimizer, one_rate, x0s[0], config):
        run = lambda x0, lr: run_one(cost, x0, lr, box, tols, optimizer, config)
        return jax.vmap(run, in_axes=(0, rate_axis))(x0s, learning_rates)

    step = jax.vmap(lambda c, lr: _step(cost, c, lr, box, tols, optimizer, config),
                    in_axes=(0, rate_axis))
    carry0 = jax.vmap(lambda x0, lr: _start(cost, x0, lr, tols, optimizer),
                      in_axes=(0, rate_axis))(x0s, learning_rates)
    last, (xs, fs, gns) = _record_chunks(
        lambda c: _step_batch(step, c, learning_rates),
        lambda c: jnp.any(c.status == _RUNNING), carry0, config)
    # the scan stacked the records in front: runs first, as everywhere else
    xs, fs, gns = (jnp.moveaxis(a, 0, 1) for a in (xs, fs, gns))
    return jax.vmap(lambda c, x, f, g: _finish(c, x, f, g, tols))(last, xs, fs, gns)


# A batch of runs is stepped in groups of (about) n / STEP_GROUPS runs, and only
# the groups that hold running runs: under plain vmap every run costs a full step
# until the slowest is done. On 1000 starts of the sine fit most converge in 5
# steps and a few take 11 (23 in float32), so most of that tail is skipped. One
# group size means one compiled step. Not on several devices, where the
# gathers would cross them, nor for small batches.
STEP_GROUPS = 8
GROUPED_MIN_BATCH = 64


def _step_batch(step, carry: _Carry, learning_rates) -> _Carry:
    """Advance a batch of runs by one step; frozen runs are skipped a group at a time."""
    n = carry.status.shape[0]
    if n < GROUPED_MIN_BATCH or parallel.device_count() > 1:
        return step(carry, learning_rates)
    size = -(-n // STEP_GROUPS)
    running = carry.status == _RUNNING
    count = jnp.sum(running)
    # running runs first (a stable sort: one op, where nonzero's cumsum is many on
    # CPU); past the running ones, indices point past the end, and are dropped
    order = jnp.argsort(~running, stable=True)
    order = jnp.where(jnp.arange(n) < count, order, n)
    order = jnp.concatenate([order, jnp.full(size * STEP_GROUPS - n, n, order.dtype)])
    groups = -(-count // size)

    def one_group(j, c):
        index = jax.lax.dynamic_slice_in_dim(order, j * size, size)
        rates = None if learning_rates is None else learning_rates.at[index].get(mode="clip")
        sub = step(jax.tree.map(lambda a: a.at[index].get(mode="clip"), c), rates)
        return jax.tree.map(lambda a, b: a.at[index].set(b, mode="drop"), c, sub)

    return jax.lax.fori_loop(0, groups, one_group, carry)
