"""Several processes joined by JAX's own runtime agree bit for bit with one process.

Each layout (processes × simulated CPU devices per process) runs one worker
script, as real processes on 127.0.0.1 with a coordinator on a free port: it
makes every sharded call once (multistart, basin_map, sweep_learning_rates,
grid_search, fit from many starts and on many data sets) and saves every
field of every record it got. Every process must hold the same records as a
single-process run, bit for bit. The 2 × 1 layout
also checks what goes wrong: arguments that differ between processes, a
process that never arrives. The command line runs as two processes, and a
process alone, or one that cannot reach its coordinator, fails with a message.

Every process runs under a deadline and is killed in ``finally``, so a failed
test leaves nothing running.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

DEADLINE_S = 400  # for one layout's processes together, on a busy 2-core machine
JOIN_TIMEOUT_S = 60  # gradlab.parallel's wait for the coordinator and for each other

WORKER = r"""
import json, os, sys, time
import jax
jax.config.update("jax_enable_x64", True)
from gradlab import parallel
several = parallel.initialize()  # from JAX_COORDINATOR_ADDRESS, JAX_NUM_PROCESSES, JAX_PROCESS_ID
import jax.numpy as jnp
import numpy as np
import gradlab as gl

me = jax.process_index()
fields = {"processes": jax.process_count(), "devices": parallel.device_count()}

def keep(name, record):
    for path, leaf in jax.tree_util.tree_flatten_with_path(record)[0]:
        fields[name + jax.tree_util.keystr(path)] = np.asarray(leaf)

keep("himmelblau", gl.multistart("himmelblau", n_starts=512, seed=0))
keep("sine", gl.multistart("sine", n_starts=203, seed=1))  # 203: padded to the devices
keep("basins", gl.basin_map("himmelblau", num=[16, 32]))  # 512 starts: compiled already
keep("sweep", gl.sweep_learning_rates("bowl", [-1.0, -1.0], [0.01, 0.1, 0.5, 1.2, 1.5],
                                      steps=50))
keep("grid", gl.grid_search("rastrigin", num=301, batch_size=1000))  # 91 chunks, all values
line = gl.fit_cost(gl.models.linear, gl.datasets.line(n=100, seed=0), bounds=[(-5, 5), (-5, 0)])
keep("fit_grid", gl.grid_search(line, num=201, keep_values=False))  # the running best only
t = np.linspace(0.0, 4.0, 30)  # least squares: an exponential decay, from many starts ...
decay = gl.fit_cost(lambda p, x: p[0] * jnp.exp(-p[1] * x), (t, 3.0 * np.exp(-1.3 * t)
                                                             + 0.01 * np.sin(37.0 * t)))
rng = np.random.default_rng(0)
# 70 starts: padded to the devices; one process on one device steps them in groups, and
# more devices (35 or 9 each) step them all at once: the same bits either way
keep("fit_starts", gl.fit(decay, rng.uniform([0.5, 0.1], [6.0, 4.0], (70, 2))))
decays = 3.0 * np.exp(-rng.uniform(0.3, 3.0, (27, 1)) * t) + 0.02 * rng.standard_normal((27, 30))
keep("fit_sets", gl.fit(decay, [1.0, 1.0], datasets=gl.Data(np.broadcast_to(t, (27, 30)),
                                                            decays)))  # ... and on 27 data sets
np.savez(os.path.join(sys.argv[1], f"process{me}.npz"), **fields)

if several and os.environ.get("CHECK_FAILURES"):
    said = {}
    for what, call in [
        ("n_starts", lambda: gl.multistart("himmelblau", n_starts=512 + 512 * me, seed=0)),
        ("seed", lambda: gl.multistart("himmelblau", n_starts=512, seed=me)),
        ("num", lambda: gl.grid_search("bowl", num=11 + me)),
    ]:
        try:
            call()
            said[what] = None
        except ValueError as err:
            said[what] = str(err)
    said["then_agree"] = len(gl.multistart("himmelblau", n_starts=512, seed=0).minima.points)
    from jax._src import distributed  # no coordinator client (as on some TPU pods)
    client, distributed.global_state.client = distributed.global_state.client, None
    try:
        parallel.check_same_on_all_processes("a call", seed=me)
    except ValueError as err:
        said["no_client"] = str(err)
    finally:
        distributed.global_state.client = client
    parallel.initialize(timeout=2)
    if me == 0:  # process 1 never makes this call
        start = time.monotonic()
        try:
            gl.grid_search("bowl", num=11)
        except TimeoutError as err:
            said["timeout"] = str(err)
        said["waited"] = time.monotonic() - start
    with open(os.path.join(sys.argv[1], f"process{me}.json"), "w") as f:
        json.dump(said, f)
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _clean_environment(devices: int, **extra) -> dict:
    """This environment without any launcher's settings, on ``devices`` simulated CPU devices."""
    launchers = ("SLURM_", "OMPI_", "PMI_", "JAX_COORDINATOR", "JAX_NUM_PROCESSES",
                 "JAX_PROCESS_ID", "GRADLAB_DISTRIBUTED")
    env = {k: v for k, v in os.environ.items() if not k.startswith(launchers)}
    return env | {"JAX_PLATFORMS": "cpu", "PYTHONUNBUFFERED": "1",
                  "XLA_FLAGS": f"--xla_force_host_platform_device_count={devices}",
                  "GRADLAB_DISTRIBUTED_TIMEOUT": str(JOIN_TIMEOUT_S)} | extra


def _launch(argv, folder: Path, *, processes: int, devices: int = 1, ids=None,
            deadline_s: float = DEADLINE_S, **extra_env) -> list[tuple[int, str, str]]:
    """Run ``argv`` as ``processes`` processes joined on 127.0.0.1; (returncode, out, err) each.

    ``ids`` picks which process ids to start (default all): fewer than
    ``processes`` starts a job whose other members never come.
    """
    address = f"127.0.0.1:{_free_port()}"
    ids = range(processes) if ids is None else ids
    running = []
    try:
        for i in ids:
            env = _clean_environment(devices, **extra_env)
            if processes > 1:
                env |= {"JAX_COORDINATOR_ADDRESS": address, "JAX_NUM_PROCESSES": str(processes),
                        "JAX_PROCESS_ID": str(i)}
            out, err = (open(folder / f"{name}{i}.txt", "w+") for name in ("out", "err"))
            running.append((subprocess.Popen(argv, env=env, cwd=folder, stdout=out, stderr=err,
                                             stdin=subprocess.DEVNULL), out, err))
        end = time.monotonic() + deadline_s
        finished = []
        for proc, out, err in running:
            proc.wait(timeout=max(1.0, end - time.monotonic()))
            out.seek(0)
            err.seek(0)
            finished.append((proc.returncode, out.read(), err.read()))
        return finished
    finally:  # a failure or a timeout above must not leave a process behind
        for proc, out, err in running:
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=30)
            out.close()
            err.close()


def _run_worker(folder: Path, processes: int, devices: int, **extra_env) -> list[dict]:
    results = _launch([sys.executable, "-c", WORKER, str(folder)], folder, processes=processes,
                      devices=devices, **extra_env)
    for i, (code, _, err) in enumerate(results):
        assert code == 0, f"process {i} of {processes} × {devices} failed:\n{err[-3000:]}"
    return [dict(np.load(folder / f"process{i}.npz")) for i in range(processes)]


def _assert_bitwise_equal(records: dict, reference: dict, who: str) -> None:
    assert records.keys() == reference.keys()
    differ = [name for name, value in reference.items() if name not in ("processes", "devices")
              and (records[name].dtype != value.dtype or records[name].shape != value.shape
                   or records[name].tobytes() != value.tobytes())]
    assert not differ, f"{who} differs from one process in {differ}"


@pytest.fixture(scope="module")
def one_process(tmp_path_factory):
    """The records of a single process on one device: the reference for every layout."""
    (records,) = _run_worker(tmp_path_factory.mktemp("one"), processes=1, devices=1)
    assert records["processes"] == 1 and records["devices"] == 1
    return records


def test_one_process_records_are_the_library_answers(one_process):
    # the reference itself is right, not just shared: the four minima of Himmelblau, the
    # course's sine fit's global minimum, the sweep's statuses and the grid's best point
    assert len(one_process["himmelblau.minima.points"]) == 4
    assert one_process["himmelblau.minima.is_global"].all()
    assert one_process["sine.minima.points"][0, 0] == pytest.approx(10.0, abs=1e-6)
    # bowl: L = 2, so 1.2 and 1.5 pass 2/L and diverge, 0.5 lands in one step, and the
    # slow rates contract by 0.98 and 0.8 per step: still moving after 50
    assert one_process["sweep.status"].tolist() == [1, 1, 0, 2, 2]
    np.testing.assert_allclose(one_process["grid.x"], [0.0, 0.0], atol=1e-12)
    assert one_process["basins.labels"].shape == (16, 32)
    # every fit from the 70 starts and on the 27 data sets converged; the starts all found
    # the one minimum near (3, 1.3)
    assert one_process["fit_starts.status"].tolist() == [0] * 70
    assert one_process["fit_sets.status"].tolist() == [0] * 27
    np.testing.assert_allclose(one_process["fit_starts.x"], [[3.0, 1.3]] * 70, atol=0.01)


@pytest.mark.slow
def test_two_processes_of_one_device_agree_bitwise_and_fail_clearly(one_process, tmp_path):
    processes = _run_worker(tmp_path, processes=2, devices=1, CHECK_FAILURES="1")
    for i, records in enumerate(processes):
        assert records["processes"] == 2 and records["devices"] == 2
        _assert_bitwise_equal(records, one_process, f"process {i} of 2 × 1 device")

    said = [json.loads((tmp_path / f"process{i}.json").read_text()) for i in range(2)]
    for message in said:  # both processes refuse, naming what differs, and then go on
        assert "different arguments" in message["n_starts"]
        assert "float64[512, 2]" in message["n_starts"]
        assert "float64[1024, 2]" in message["n_starts"]
        assert "starts:" in message["seed"] and "float64[512, 2]" in message["seed"]
        assert "axes:" in message["num"] and "grid_search" in message["num"]
        assert message["then_agree"] == 4
        assert "seed: process 0 has 0, process 1 has 1" in message["no_client"]
    assert "process 1 did not reach this call within 2 s" in said[0]["timeout"]
    assert 1.5 < said[0]["waited"] < 30


@pytest.mark.slow
def test_two_processes_of_four_devices_agree_bitwise(one_process, tmp_path):
    processes = _run_worker(tmp_path, processes=2, devices=4)
    for i, records in enumerate(processes):
        assert records["processes"] == 2 and records["devices"] == 8
        _assert_bitwise_equal(records, one_process, f"process {i} of 2 × 4 devices")


CLI = [sys.executable, "-m", "gradlab.cli", "minimize", "himmelblau", "--method", "multistart",
       "--starts", "512", "--seed", "0", "--steps", "100"]  # the worker's first call


@pytest.mark.slow
def test_command_line_as_two_processes_prints_and_writes_once(one_process, tmp_path):
    from gradlab._cli_output import fmt_vector

    (zero, out0, err0), (one, out1, err1) = _launch(
        [*CLI, "--plot", "basins.png"], tmp_path, processes=2)
    assert zero == 0 and one == 0, err0[-2000:] + err1[-2000:]
    assert out1 == ""  # process 1 computed, silently
    assert sorted(p.name for p in tmp_path.iterdir() if p.suffix == ".png") == ["basins.png"]
    assert "figure written to basins.png" in out0
    # the table shows the single-process run's minima and shares, to the digit
    points = one_process["himmelblau.minima.points"]
    assert f"{len(points)} distinct minima from 512 starts" in out0
    rows = [line for line in out0.splitlines() if "minimum" in line]
    assert len(rows) == len(points)
    for row, point, share in zip(rows, points, one_process["himmelblau.minima.shares"]):
        assert fmt_vector(point) in row and f"{share:.1%}" in row


def test_command_line_cannot_reach_its_coordinator(tmp_path):
    start = time.monotonic()
    ((code, out, err),) = _launch(CLI, tmp_path, processes=2, ids=[1], deadline_s=120,
                                  GRADLAB_DISTRIBUTED_TIMEOUT="1")
    assert code == 2 and out == ""
    assert err.startswith("gradlab minimize: error: process 1 of 2 could not reach the "
                          "coordinator at 127.0.0.1:") and len(err.splitlines()) == 1
    assert time.monotonic() - start < 60


def test_process_zero_alone_gives_up_with_a_message(tmp_path):
    start = time.monotonic()
    ((code, _, err),) = _launch(CLI, tmp_path, processes=2, ids=[0], deadline_s=120,
                                GRADLAB_DISTRIBUTED_TIMEOUT="1")
    assert code != 0  # XLA stops the process; gradlab said first what it was waiting for
    assert "process 0 of 2 is waiting for the other processes to join" in err
    assert time.monotonic() - start < 60
