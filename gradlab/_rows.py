"""A batch's per-run state held as one 2-D array per dtype, so groups of runs move cheaply.

Contract: ``Rows.pack(tree)`` takes a pytree of arrays that all have the runs
along their leading axis and lays every leaf's row out side by side in one
``(n, k)`` array per dtype; ``rows.tree`` gives the pytree back (slices of those
arrays, exactly the same values), ``rows.take(index)`` and ``rows.put(index, sub)``
gather and scatter the rows of a group of runs. `Rows` is itself a pytree (its
arrays are its children), so a ``while_loop`` or ``fori_loop`` can carry it.

Why: a batch of descents or fits steps its running runs a group at a time
(`gradlab._loop._step_batch`), moving each group's state out of the batch and
back in at every step. Leaf by leaf that is a gather and a scatter for each of
the state's fifteen-odd arrays, and XLA:CPU makes every one a kernel of its
own: compiled code (each kernel costs its own LLVM compile) and a call per
group per step. Packed, it is one gather and one scatter per dtype (three at
most: floats, integers, booleans).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import jax
import jax.numpy as jnp


class _Leaf(NamedTuple):
    block: int  # which of the packed arrays holds it
    start: int  # its first column there
    shape: tuple  # its shape after the runs' axis


@jax.tree_util.register_pytree_node_class
class Rows:
    """A pytree of per-run arrays (runs along axis 0), packed one array per dtype."""

    def __init__(self, blocks: tuple, layout: tuple):
        self.blocks = blocks  # (n, k) arrays, one per dtype
        self.layout = layout  # (treedef, leaves): static

    @classmethod
    def pack(cls, tree) -> Rows:
        leaves, treedef = jax.tree.flatten(tree)
        dtypes = list(dict.fromkeys(a.dtype for a in leaves))
        columns = [[] for _ in dtypes]
        widths = [0] * len(dtypes)
        placed = []
        for a in leaves:
            b = dtypes.index(a.dtype)
            width = math.prod(a.shape[1:])
            placed.append(_Leaf(b, widths[b], tuple(a.shape[1:])))
            columns[b].append(a.reshape(a.shape[0], width))
            widths[b] += width
        blocks = tuple(jnp.concatenate(c, axis=1) if len(c) > 1 else c[0] for c in columns)
        return cls(blocks, (treedef, tuple(placed)))

    @property
    def tree(self):
        """The pytree, unpacked (the same values, bit for bit)."""
        treedef, placed = self.layout
        leaves = []
        for leaf in placed:
            block = self.blocks[leaf.block]
            width = math.prod(leaf.shape)
            part = block[:, leaf.start:leaf.start + width]
            leaves.append(part.reshape(block.shape[0], *leaf.shape))
        return jax.tree.unflatten(treedef, leaves)

    def take(self, index) -> Rows:
        """The rows ``index`` (indices past the end read the last row: they are only
        ever written back with `put`, which drops them)."""
        return Rows(tuple(b.at[index].get(mode="clip") for b in self.blocks), self.layout)

    def put(self, index, sub: Rows) -> Rows:
        """These rows with rows ``index`` replaced by ``sub``'s (indices past the end dropped)."""
        return Rows(tuple(b.at[index].set(s, mode="drop")
                          for b, s in zip(self.blocks, sub.blocks)), self.layout)

    def tree_flatten(self):
        return self.blocks, self.layout

    @classmethod
    def tree_unflatten(cls, layout, blocks):
        return cls(tuple(blocks), layout)
