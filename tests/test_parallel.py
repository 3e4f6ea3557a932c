"""Sharding across devices: 1 and 8 simulated CPU devices give the same answers, bit for bit;
and, in one process, what `gradlab.parallel` promises before other processes join (the
processes themselves are in test_distributed.py)."""

import json
import os
import subprocess
import sys

import jax.numpy as jnp
import pytest

from gradlab import parallel

SCRIPT = """
import json, jax
jax.config.update("jax_enable_x64", True)
import gradlab as gl
from gradlab import parallel
out = {"devices": parallel.device_count()}
ms = gl.multistart("himmelblau", n_starts=203, seed=4)   # 203: not a multiple of 8
out["himmelblau"] = ms.minima.points.tolist()
out["himmelblau_ends"] = ms.trajectories.x.tolist()
sine = gl.multistart("sine", n_starts=120, seed=1)
out["sine"] = sine.minima.points[:, 0].tolist()
out["sine_counts"] = sine.minima.counts.tolist()
grid = gl.grid_search("rastrigin", num=301, batch_size=1000)
out["grid"] = [grid.x.tolist(), float(grid.fun)]
sweep = gl.sweep_learning_rates("bowl", [-1.0, -1.0], [0.1, 0.5, 1.5], steps=50)
out["sweep"] = sweep.status.tolist()
print(json.dumps(out))
"""


def _run(devices):
    env = dict(os.environ, XLA_FLAGS=f"--xla_force_host_platform_device_count={devices}",
               JAX_PLATFORMS="cpu")
    proc = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True,
                          env=env, timeout=600, check=True)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_one_and_eight_devices_agree():
    one, eight = _run(1), _run(8)
    assert one["devices"] == 1 and eight["devices"] == 8
    # each row is computed by the same arithmetic wherever it lands: bitwise the same
    assert eight["himmelblau"] == one["himmelblau"]
    assert eight["himmelblau_ends"] == one["himmelblau_ends"]
    assert eight["sine"] == one["sine"]
    assert eight["sine_counts"] == one["sine_counts"]
    assert eight["grid"] == one["grid"]
    assert eight["sweep"] == one["sweep"] == [1, 0, 2]  # max steps, converged, diverged


# -- one process: what gradlab.parallel promises before any other process joins -----
LAUNCHERS = ("JAX_COORDINATOR_ADDRESS", "JAX_NUM_PROCESSES", "JAX_PROCESS_ID", "SLURM_JOB_ID",
             "OMPI_MCA_orte_hnp_uri", parallel.TIMEOUT_VARIABLE)


@pytest.fixture
def no_launcher(monkeypatch):
    for name in LAUNCHERS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(parallel, "_timeout_s", None)  # initialize(timeout=...) sets it
    return monkeypatch


def test_initialize_without_settings_is_one_process(no_launcher):
    assert parallel.initialize() is False
    assert parallel.initialize("127.0.0.1:1234", 1, 0) is False  # a job of one process
    assert parallel.is_main_process()


@pytest.mark.parametrize(("env", "args", "message"), [
    ({"JAX_COORDINATOR_ADDRESS": "127.0.0.1:1234"}, {}, "give all of"),
    ({"JAX_NUM_PROCESSES": "2", "JAX_PROCESS_ID": "0"}, {}, "coordinator_address=None"),
    ({"JAX_NUM_PROCESSES": "two"}, {}, "JAX_NUM_PROCESSES must be a whole number; got 'two'"),
    ({}, {"coordinator_address": "127.0.0.1:1", "num_processes": 2, "process_id": 2},
     "0 <= process_id < num_processes; got num_processes=2, process_id=2"),
    ({}, {"timeout": 0}, "timeout must be a positive number of seconds; got 0"),
])
def test_initialize_refuses_incomplete_settings(no_launcher, env, args, message):
    for name, value in env.items():
        no_launcher.setenv(name, value)
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parallel.initialize(**args)


def test_timeout_comes_from_initialize_else_the_environment(no_launcher):
    assert parallel.timeout_seconds() == parallel.DEFAULT_TIMEOUT_S
    no_launcher.setenv(parallel.TIMEOUT_VARIABLE, "7.5")
    assert parallel.timeout_seconds() == 7.5
    assert parallel.initialize(timeout=3) is False
    assert parallel.timeout_seconds() == 3.0


def test_one_process_gathers_and_checks_nothing():
    tree = {"x": jnp.arange(4.0), "n": 3, "none": None}
    assert parallel.gather(tree) is tree
    parallel.check_same_on_all_processes("a call", x=jnp.arange(4.0), seed=0)  # returns


def test_argument_descriptions_differ_whenever_the_arguments_do(x64):
    describe = parallel._describe
    starts = jnp.linspace(0.0, 1.0, 64).reshape(32, 2)
    assert describe(starts) == describe(jnp.array(starts))
    assert describe(starts).startswith("float64[32, 2] #")
    others = [starts.at[5, 1].add(1e-16), starts.astype(jnp.float32), starts.reshape(16, 4),
              starts[:16]]
    assert len({describe(starts), *map(describe, others)}) == 5
    assert describe((3, None, 0.5)) == "(3, None, 0.5)"  # small values are shown as they are
    assert describe("himmelblau") == "'himmelblau'"


# -- no communication per step: read the compiled programs ----------------------------
HLO_SCRIPT = r"""
import functools, importlib, json, re, jax
jax.config.update("jax_enable_x64", True)
import jax.numpy as jnp, numpy as np
import gradlab as gl
from gradlab import descent, fitting, leastsq, parallel
from gradlab import grid as grid_
multistart_ = importlib.import_module("gradlab.multistart")  # gl.multistart is the function

COLLECTIVE = re.compile(r"= .*\b(all-reduce|all-gather|collective-permute|all-to-all|"
                        r"reduce-scatter|collective-broadcast)(-start)?\(")
CALLED = re.compile(r"\b(?:condition|body|calls|to_apply|true_computation|false_computation)"
                    r"=%?([\w.\-]+)")

def read(text):
    # loops, collectives inside a loop (its condition, body and all they call), in all
    computations, name = {}, None
    for line in text.splitlines():
        head = re.match(r"^(?:ENTRY )?%?([\w.\-]+) .*\{$", line)
        if head:
            name = head.group(1)
            computations[name] = []
        elif name is not None:
            computations[name].append(line)
    loops = [c for lines in computations.values() for line in lines if " while(" in line
             for c in re.findall(r"\b(?:condition|body)=%?([\w.\-]+)", line)]
    inside, todo = set(), list(loops)
    while todo:
        c = todo.pop()
        if c in inside or c not in computations:
            continue
        inside.add(c)
        for line in computations[c]:
            todo += CALLED.findall(line)
            for branches in re.findall(r"branch_computations=\{([^}]*)\}", line):
                todo += [b.strip().lstrip("%") for b in branches.split(",")]
    found = lambda names: [line.strip()[:100] for c in names for line in computations[c]
                           if COLLECTIVE.search(line)]
    return {"loops": len(loops), "in_loops": found(inside), "all": found(computations)}

out = {"devices": parallel.device_count()}
cost = gl.get_cost("himmelblau")
starts = parallel.shard_rows(jnp.asarray(multistart_.sample_starts(cost.bounds, 512, 0)))
method, hyper = multistart_._default_method(cost, starts.dtype)
config, box, tols = descent.resolve_options(cost, starts.dtype, steps=100, record_every=10,
                                            bounds=None)
out["descents"] = read(descent._descend_many.lower(
    cost.objective, starts, hyper, box, tols, None, method=method, config=config
).compile().as_text())
rastrigin = gl.get_cost("rastrigin")
axes = grid_.grid_axes(rastrigin.bounds, (301, 301), jnp.float64)
for keep in (False, True):
    out[f"grid_keep_{keep}"] = read(grid_._grid.lower(
        rastrigin.objective, axes, None, shape=(301, 301), batch=1000, keep_values=keep,
        pointwise=False).compile().as_text())
t = np.linspace(0.0, 4.0, 30)
decay = gl.fit_cost(lambda p, x: p[0] * jnp.exp(-p[1] * x), (t, 3.0 * np.exp(-1.3 * t)))
tols, loop_tols = fitting._tolerances(np.dtype("float64"), None, None, None)
steps = jnp.asarray(100, jnp.int32)
for axis, objective, x0s in [
        (False, decay.objective, jnp.ones((256, 2))),
        (True, type(decay.objective)(decay.fn, None, gl.Data(jnp.ones((256, 30)),
                                                            jnp.ones((256, 30)))),
         jnp.ones((256, 2)))]:
    how = dict(options=leastsq.Options(), data_axis=axis, per_device=True)
    out[f"fits_data_axis_{axis}"] = read(fitting._fit_many_loop.lower(
        objective, None, x0s, steps, None, loop_tols, **how).compile().as_text())
    last = jax.eval_shape(functools.partial(fitting._fit_many_loop, **how), objective, None,
                          x0s, steps, None, loop_tols)
    out[f"fit_ends_data_axis_{axis}"] = read(fitting._fit_many_end.lower(
        objective, None, last, None, tols, absolute_sigma=False, data_axis=axis,
        per_device=True).compile().as_text())

# the reader itself: a batch whose loop asks, every step, whether any row still runs
rows = jax.device_put(jnp.arange(64.0), jax.sharding.NamedSharding(
    parallel.mesh(), jax.sharding.PartitionSpec(parallel.AXIS)))
out["spmd_any"] = read(jax.jit(lambda r: jax.lax.while_loop(
    lambda r: jnp.any(r < 100.0), lambda r: r * 1.5 + 1.0, r)).lower(rows).compile().as_text())
print(json.dumps(out))
"""


def test_sharded_programs_send_nothing_per_step():
    # on 4 simulated devices, each device loops over its own rows (shard_map): no
    # collective in any loop of the compiled descents, grids and fits, nor anywhere else
    # in them (the one gather at the end is a program of its own, parallel.gather)
    env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=4",
               JAX_PLATFORMS="cpu")
    proc = subprocess.run([sys.executable, "-c", HLO_SCRIPT], capture_output=True, text=True,
                          env=env, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out.pop("devices") == 4
    spmd = out.pop("spmd_any")  # the reader finds the per-step all-reduce it is looking for
    assert spmd["loops"] >= 1 and any("all-reduce" in line for line in spmd["in_loops"])
    ends = {name: out.pop(name) for name in ("fit_ends_data_axis_False",
                                             "fit_ends_data_axis_True")}
    assert set(out) == {"descents", "grid_keep_False", "grid_keep_True",
                        "fits_data_axis_False", "fits_data_axis_True"}
    for program, seen in ends.items():  # a batch of fits' verdicts: no loop of its own needed
        assert seen["all"] == [], f"{program} communicates: {seen['all']}"
    for program, seen in out.items():
        assert seen["loops"] >= 1, program
        assert seen["in_loops"] == [], f"{program} communicates per step: {seen['in_loops']}"
        assert seen["all"] == [], f"{program} communicates: {seen['all']}"
