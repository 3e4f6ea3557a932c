"""What a compiled descent loop is specialised on: its `LoopConfig` and its optimiser's `Method`.

Both are static arguments of the loop's programs (`gradlab._loop`), so they are
hashable and compared by value. They live apart from the loop because a
command that loads its program whole (`gradlab._programs`) builds the loop's
arguments and configuration but never traces the loop: this module imports
neither optax nor the loop's numerics (0.15-0.25 s of a command's start).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import TYPE_CHECKING, NamedTuple

from gradlab import _static

if TYPE_CHECKING:  # for the annotations only
    import optax


class LoopConfig(NamedTuple):
    """What the compiled loop is specialised on (hashable, static under jit)."""

    steps: int
    record_every: int
    project: bool


@dataclasses.dataclass(frozen=True, eq=False)
class Method:
    """How each run's optimiser is made (static under jit).

    Compared by what the optimiser computes (`gradlab._static.key`, taken once, when
    made), not by identity: ``optax.adam(0.1)`` built afresh for every call must
    not compile afresh.

    Attributes:
      transformation: an optax transformation, used as given; or None, and
      factory: called as ``factory(**hyperparams)`` inside the trace, with the
        hyperparameters traced (``plain_descent`` with a learning rate, ...).
      per_run: the hyperparameters carry a leading axis of one value per run.
    """

    transformation: optax.GradientTransformation | None = None
    factory: Callable | None = None
    per_run: bool = False
    key: tuple = dataclasses.field(init=False, repr=False)

    def __post_init__(self):
        object.__setattr__(self, "key", (_static.key(self.transformation),
                                         _static.key(self.factory), self.per_run))

    def __eq__(self, other):
        return isinstance(other, Method) and self.key == other.key

    def __hash__(self):
        return hash(self.key)
