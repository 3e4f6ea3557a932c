"""Sharding across devices and processes: one 1-D mesh over every device, batches split by rows.

The contract:

* Starts of a multi-start run, rates of a learning-rate sweep, the fits of a
  batch (many starts, or many data sets) and blocks of a grid are laid out
  along a mesh axis named ``"batch"`` that spans ``jax.devices()``: every
  local device in one process, and every device of every process once JAX
  runs as several processes (`initialize`).
* Several processes run the same program (SPMD): each makes the same calls
  with the same arguments and builds the same whole batch (the same seed
  gives the same starts); `shard_rows` places only the rows its own devices
  hold; inside the compiled computation `map_rows` (``jax.shard_map``) lets
  every device run its own loops over its own rows, stopping when its own
  runs stop; `gather` then gives every process the complete result, once, at
  the end. Code written for one process runs unchanged, and every process
  gets the same record.
* What is sent: a fingerprint of the arguments before the call
  (`check_same_on_all_processes`, a few hundred bytes through the
  coordinator), one all-gather of the result at the end (`gather`), and
  nothing per step: the compiled loops hold no collective
  (``tests/test_parallel.py`` reads the compiled programs to check).
* Before a sharded computation the processes exchange a fingerprint of its
  arguments (`check_same_on_all_processes`): different arguments raise a
  ``ValueError`` that names them; a process that does not arrive within
  `timeout_seconds` raises a ``TimeoutError``. Nothing waits forever.
* In one process with one device all of this is a no-op, so the same code
  runs on a laptop, a GPU, a pod or a cluster. Results do not depend on the
  number of devices or processes: each row is computed by the same
  arithmetic wherever it lands, and what is combined across rows (a grid's
  best point) is combined by a rule that does not depend on the layout.

Example:
  >>> import jax.numpy as jnp
  >>> from gradlab import parallel
  >>> parallel.shard_rows(jnp.zeros((8, 2))).shape
  (8, 2)
  >>> parallel.gather({"x": jnp.ones(3)})["x"].tolist()
  [1.0, 1.0, 1.0]
"""

from __future__ import annotations

import functools
import hashlib
import itertools
import json
import logging
import os
import socket
import threading
import time

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

AXIS = "batch"
DEFAULT_TIMEOUT_S = 120.0
TIMEOUT_VARIABLE = "GRADLAB_DISTRIBUTED_TIMEOUT"
ENVIRONMENT = ("JAX_COORDINATOR_ADDRESS", "JAX_NUM_PROCESSES", "JAX_PROCESS_ID")
_timeout_s: float | None = None  # set by `initialize(timeout=...)`
_LOG = logging.getLogger("gradlab")


@functools.cache
def mesh() -> Mesh:
    """The 1-D mesh over all devices of all processes (cached: the device set does not change)."""
    return Mesh(jax.devices(), (AXIS,))


def device_count() -> int:
    """Devices in the mesh: every process's, not only this one's."""
    return len(jax.devices())


def is_main_process() -> bool:
    """Whether this is process 0, the one that prints and writes files (always, in one process)."""
    return jax.process_index() == 0


def timeout_seconds() -> float:
    """How long any wait for another process may last before it is an error.

    `initialize`'s ``timeout``, else the ``GRADLAB_DISTRIBUTED_TIMEOUT`` variable, else 120.
    """
    if _timeout_s is not None:
        return _timeout_s
    return float(os.environ.get(TIMEOUT_VARIABLE, DEFAULT_TIMEOUT_S))


def round_up_to_devices(n: int) -> int:
    """``n`` rounded up to a multiple of the device count, so rows split evenly."""
    k = device_count()
    return -(-n // k) * k


def pad_rows(x: jax.Array) -> tuple[jax.Array, int]:
    """Pad ``x`` along axis 0 (repeating its last row) to a multiple of the device count."""
    n = x.shape[0]
    padded = round_up_to_devices(n)
    if padded == n:
        return x, n
    return jnp.concatenate([x, jnp.repeat(x[-1:], padded - n, axis=0)]), n


def _rows(ndim: int) -> NamedSharding:
    return NamedSharding(mesh(), PartitionSpec(AXIS, *([None] * (ndim - 1))))


def shard_rows(x: jax.Array) -> jax.Array:
    """``x`` with its rows split across the mesh (they must split evenly: see `pad_rows`).

    ``x`` is the whole batch, the same on every process; each process places
    only the rows that its own devices hold.
    """
    if device_count() == 1:
        return x
    if jax.process_count() == 1:
        return jax.device_put(x, _rows(x.ndim))
    host = np.asarray(x)
    return jax.make_array_from_callback(host.shape, _rows(host.ndim), lambda index: host[index])


_per_device = threading.local()  # set while a `map_rows` body is traced


def map_rows(f, rows, shared):
    """Inside ``jit``: ``f(rows, shared)`` run by every device on its own rows, and only them.

    ``rows`` is a pytree whose every leaf has the batch's rows along axis 0 (as
    many as a multiple of the device count: see `pad_rows`); ``shared`` a
    pytree that every device sees whole. ``f`` must return a pytree whose every
    leaf again has one row per input row. On several devices ``f`` runs under
    ``jax.shard_map``: each device runs its own loops over its own rows, its
    stopping conditions read only its own runs, and nothing is sent between
    devices, during the loops or after them (the result stays split by rows,
    for `gather`). On one device this is ``f(rows, shared)``.
    """
    if device_count() == 1:
        return f(rows, shared)

    def body(rows, shared):
        depth = getattr(_per_device, "depth", 0)
        _per_device.depth = depth + 1
        try:
            return f(rows, shared)
        finally:
            _per_device.depth = depth

    return jax.shard_map(body, mesh=mesh(), in_specs=(PartitionSpec(AXIS), PartitionSpec()),
                         out_specs=PartitionSpec(AXIS), check_vma=False)(rows, shared)


def rows_are_local() -> bool:
    """Whether the rows being traced all lie on one device: one device in all, or inside
    a `map_rows` body (where a gather of rows by index crosses no device)."""
    return device_count() == 1 or getattr(_per_device, "depth", 0) > 0


def device_index():
    """Inside a `map_rows` body: this device's place along the mesh (0 on one device)."""
    if device_count() == 1:
        return jnp.asarray(0, jnp.int32)
    return jax.lax.axis_index(AXIS)


@functools.cache
def _replicate() -> jax.stages.Wrapped:
    # one jitted identity per mesh, so gathers of the same shapes compile once
    return jax.jit(lambda leaves: leaves, out_shardings=NamedSharding(mesh(), PartitionSpec()))


def gather(tree):
    """``tree`` with every array complete on this process: read a sharded result with it.

    Arrays that span other processes' devices are gathered in one compiled call
    for the whole tree (one all-gather) and come back as arrays on this
    process's first device; everything else comes back as it is. In one
    process this is the identity. Every process must call it (it is collective).
    """
    if jax.process_count() == 1:  # every array is this process's already
        return tree
    leaves, treedef = jax.tree.flatten(tree)
    spread = [i for i, leaf in enumerate(leaves)
              if isinstance(leaf, jax.Array) and not leaf.is_fully_addressable]
    if not spread:
        return tree
    complete = _replicate()([leaves[i] for i in spread])
    for i, array in zip(spread, complete):
        leaves[i] = array.addressable_data(0)
    return jax.tree.unflatten(treedef, leaves)


# -- the same call on every process -------------------------------------------------
_calls = itertools.count()  # processes make the same calls in the same order: this numbers them
_MAX_TEXT = 8192  # bytes of one process's descriptions (each argument's is at most ~300)


def check_same_on_all_processes(what: str, **arguments) -> None:
    """Raise unless every process makes this call (``what``) with the same ``arguments``.

    Each process publishes a short description of every argument (small values
    as they are, arrays by dtype, shape and a digest of their bytes) through the
    coordinator's key-value store and reads the others', each wait bounded by
    `timeout_seconds`. Call it before a sharded computation: processes that
    disagree on its shapes would otherwise deadlock or compute nonsense.
    Arguments must be arrays, numbers, strings, None, or pytrees of them
    (never functions: their descriptions differ between processes). A no-op
    in one process.

    Raises:
      ValueError: the processes disagree; the message names each argument that differs.
      TimeoutError: another process did not reach this call in time.
    """
    if jax.process_count() == 1:
        return
    mine = {"what": what, "arguments": {name: _describe(v) for name, v in arguments.items()}}
    everyone = [json.loads(text) for text in
                _exchange(next(_calls), json.dumps(mine), what)]
    if any(theirs["what"] != what for theirs in everyone):
        at = ", ".join(f"process {i} at {theirs['what']}" for i, theirs in enumerate(everyone))
        raise ValueError(f"the processes are at different calls ({at}): every process must "
                         "make the same calls in the same order")
    seen = lambda name: [theirs["arguments"].get(name) for theirs in everyone]
    differ = [name for name in arguments if len(set(seen(name))) > 1]
    if differ:
        detail = "; ".join(f"{name}: " + ", ".join(f"process {i} has {text}"
                                                  for i, text in enumerate(seen(name)))
                           for name in differ)
        raise ValueError(f"{what}: the processes were called with different arguments "
                         f"({detail}). Every process must make the same calls with the same "
                         "arguments (the same seed, sizes and options)")


def _describe(value) -> str:
    """A short description that differs whenever ``value`` differs."""
    leaves, treedef = jax.tree.flatten(value)
    arrays = [np.asarray(leaf) for leaf in leaves]
    if sum(a.size for a in arrays) <= 8:  # small: show it
        return repr(jax.tree.unflatten(treedef, [a.tolist() for a in arrays]))[:300]
    digest = hashlib.sha256(str(treedef).encode())
    for a in arrays:
        digest.update(f"{a.dtype}{a.shape}".encode())
        digest.update(np.ascontiguousarray(a).tobytes())
    shapes = ", ".join(f"{a.dtype}{list(a.shape)}" for a in arrays[:4])
    return f"{shapes}{', ...' if len(arrays) > 4 else ''} #{digest.hexdigest()[:12]}"


def _exchange(call: int, text: str, what: str) -> list[str]:
    """Every process's ``text`` for this ``call``, in process order, each wait bounded."""
    from jax._src import distributed  # JAX keeps its coordinator's client here (no public name)

    client = distributed.global_state.client
    count, me = jax.process_count(), jax.process_index()
    if client is None:  # several processes without JAX's coordinator: an unbounded all-gather
        from jax.experimental import multihost_utils

        padded = np.zeros(_MAX_TEXT, np.uint8)
        raw = np.frombuffer(text.encode()[:_MAX_TEXT], np.uint8)
        padded[:raw.size] = raw
        rows = multihost_utils.process_allgather(padded)
        return [bytes(row).rstrip(b"\0").decode() for row in rows]
    key = f"gradlab/check/{call}"
    client.key_value_set(f"{key}/{me}", text)
    if call >= 2:  # every process has read it: all published call - 1, after reading call - 2
        client.key_value_delete(f"gradlab/check/{call - 2}/{me}")
    deadline = time.monotonic() + timeout_seconds()
    everyone = []
    for index in range(count):
        if index == me:
            everyone.append(text)
            continue
        wait_ms = max(1, int(1000 * (deadline - time.monotonic())))
        try:
            everyone.append(client.blocking_key_value_get(f"{key}/{index}", wait_ms))
        except RuntimeError as err:  # JAX's runtime error: DEADLINE_EXCEEDED, or a lost peer
            raise TimeoutError(
                f"{what}: process {index} did not reach this call within "
                f"{timeout_seconds():g} s (set by gradlab.parallel.initialize(timeout=...) or "
                f"{TIMEOUT_VARIABLE}); every process must make the same calls "
                f"[{str(err).splitlines()[0][:120]}]"
            ) from err
    return everyone


# -- starting several processes ---------------------------------------------------
def initialize(coordinator_address: str | None = None, num_processes: int | None = None,
               process_id: int | None = None, *, timeout: float | None = None) -> bool:
    """Join JAX's multi-process runtime when this program runs as several processes.

    The settings come from the arguments, else from the environment
    (``JAX_COORDINATOR_ADDRESS``: ``host:port`` of process 0, which hosts the
    coordinator; ``JAX_NUM_PROCESSES``; ``JAX_PROCESS_ID``), else from a
    cluster launcher: under SLURM's ``srun`` or Open MPI's ``mpirun`` with more
    than one task, JAX reads all three from the launcher. With none of them
    this is a single process: nothing is done and False is returned. Call it
    before anything else uses JAX; calling it again only sets the timeout.

    Args:
      coordinator_address, num_processes, process_id: as for ``jax.distributed.initialize``.
      timeout: seconds to wait for the coordinator when joining, and later for
        the other processes at each sharded call (default: the
        ``GRADLAB_DISTRIBUTED_TIMEOUT`` variable, else 120).

    Returns:
      True when JAX now runs as several processes.

    Raises:
      ConnectionError: a process other than 0 could not reach the coordinator in time.
      ValueError: the settings are incomplete or inconsistent.

    Example (two processes on one machine, each in its own shell)::

      JAX_COORDINATOR_ADDRESS=127.0.0.1:8476 JAX_NUM_PROCESSES=2 JAX_PROCESS_ID=0 python run.py
      JAX_COORDINATOR_ADDRESS=127.0.0.1:8476 JAX_NUM_PROCESSES=2 JAX_PROCESS_ID=1 python run.py
    """
    global _timeout_s
    if timeout is not None:
        if isinstance(timeout, bool) or not (isinstance(timeout, int | float) and timeout > 0):
            raise ValueError(f"timeout must be a positive number of seconds; got {timeout!r}")
        _timeout_s = float(timeout)
    if jax.distributed.is_initialized():
        return True
    address = coordinator_address or os.environ.get(ENVIRONMENT[0])
    count = _whole_number(num_processes, ENVIRONMENT[1], "num_processes")
    index = _whole_number(process_id, ENVIRONMENT[2], "process_id")
    launched = _launcher_tasks() > 1
    if (address, count, index) == (None, None, None) and not launched:
        return False
    if not launched and None in (address, count, index):
        raise ValueError(
            "to run as several processes give all of coordinator_address, num_processes and "
            f"process_id (or the variables {', '.join(ENVIRONMENT)}); got "
            f"coordinator_address={address!r}, num_processes={count!r}, process_id={index!r}")
    if count is not None and (count < 1 or (index is not None and not 0 <= index < count)):
        raise ValueError(f"need num_processes >= 1 and 0 <= process_id < num_processes; got "
                         f"num_processes={count}, process_id={index}")
    if count == 1:
        return False
    if jax.config.jax_cpu_collectives_implementation is None:
        # CPU devices of different processes talk through gloo (JAX's default since 0.5)
        jax.config.update("jax_cpu_collectives_implementation", "gloo")
    limit = timeout_seconds()
    if address is not None and index:  # process 0 hosts the coordinator: nothing to reach yet
        _wait_for_coordinator(address, index, count, limit)
    seconds = max(1, round(limit))
    # XLA stops a process whose peers do not all join in time, with a fatal log line of
    # its own; say beforehand what it is waiting for (a log record, not a print)
    who = "this process" if index is None else f"process {index} of {count}"
    waiting = threading.Timer(min(10.0, limit / 2), _LOG.warning, (
        "gradlab: %s is waiting for the other processes to join at %s; it gives up after %g s",
        who, address or "the launcher's coordinator", limit))
    waiting.daemon = True
    waiting.start()
    try:
        jax.distributed.initialize(address, count, index, initialization_timeout=seconds,
                                   heartbeat_timeout_seconds=max(10, seconds),
                                   shutdown_timeout_seconds=seconds)
    finally:
        waiting.cancel()
    return True


def _whole_number(value, variable: str, name: str) -> int | None:
    """``value``, else the environment's ``variable``, as an int (None if neither is set)."""
    if value is None:
        value, name = os.environ.get(variable), variable
        if value is None:
            return None
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a whole number; got {value!r}") from None


def _launcher_tasks() -> int:
    """Tasks started by a cluster launcher that JAX recognises (srun, mpirun); 1 outside one.

    The same tests as JAX's own detection (``jax._src.clusters``), so gradlab joins
    exactly when ``jax.distributed.initialize()`` would find its settings.
    """
    slurm = ("SLURM_JOB_ID", "SLURM_STEP_NODELIST", "SLURM_NTASKS", "SLURM_PROCID", "SLURM_LOCALID")
    if all(name in os.environ for name in slurm):
        return int(os.environ["SLURM_NTASKS"])
    if "OMPI_MCA_orte_hnp_uri" in os.environ:
        return int(os.environ.get("OMPI_COMM_WORLD_SIZE", 1))
    return 1


def _wait_for_coordinator(address: str, index: int, count: int, seconds: float) -> None:
    """Return once ``address`` accepts connections; raise ``ConnectionError`` after ``seconds``.

    Without it, a process that cannot reach the coordinator is stopped by XLA
    after the timeout with a fatal log line that does not say what to check.
    """
    host, _, port = address.rpartition(":")
    deadline = time.monotonic() + seconds
    while True:
        try:
            with socket.create_connection((host.strip("[]"), int(port)), timeout=1.0):
                return
        except OSError as err:
            if time.monotonic() >= deadline:
                raise ConnectionError(
                    f"process {index} of {count} could not reach the coordinator at {address} "
                    f"within {seconds:g} s ({err.strerror or err}): start process 0 with the "
                    "same address, and check that it is reachable from here"
                ) from None
        time.sleep(0.2)
