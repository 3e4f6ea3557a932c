"""Sharding across devices: a 1-D mesh over every device, batches split along rows.

Starts of a multi-start run and chunks of a grid are laid out along a mesh
axis named ``"batch"`` that spans ``jax.devices()``: all local devices on one
host, and every device of every host once ``jax.distributed.initialize()`` has
run. On one device all of this is a no-op, so the same code runs on a laptop,
a GPU or a pod. Results do not depend on the device count: each row is
computed by the same program wherever it lands.

Example:
  >>> import jax.numpy as jnp
  >>> from gradlab import parallel
  >>> parallel.shard_rows(jnp.zeros((8, 2))).shape
  (8, 2)
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
from jax.sharding import Mesh, NamedSharding, PartitionSpec

AXIS = "batch"


@functools.cache
def mesh() -> Mesh:
    """The 1-D mesh over all devices (cached: the device set does not change)."""
    return Mesh(jax.devices(), (AXIS,))


def device_count() -> int:
    return len(jax.devices())


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


def shard_rows(x: jax.Array) -> jax.Array:
    """Place ``x`` with its rows split across the mesh (``x`` must divide evenly)."""
    if device_count() == 1:
        return x
    spec = PartitionSpec(AXIS, *([None] * (x.ndim - 1)))
    return jax.device_put(x, NamedSharding(mesh(), spec))


def constrain_rows(x: jax.Array) -> jax.Array:
    """Inside ``jit``: ask for ``x``'s rows to be split across the mesh."""
    if device_count() == 1 or x.shape[0] % device_count():
        return x
    spec = PartitionSpec(AXIS, *([None] * (x.ndim - 1)))
    return jax.lax.with_sharding_constraint(x, NamedSharding(mesh(), spec))
