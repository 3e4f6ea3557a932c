"""Cost functions written once in ``jax.numpy``, and the registry that names them.

A `Cost` is a function of one 1-D parameter array that returns a scalar, plus
what the tools around it need: bounds (for grids and random starts), an
optional analytic gradient, the known global minima, parameter names, tags and
data. It is a JAX pytree whose only leaves are its data, so a jitted solver
that receives a new data set of the same shape reuses its compiled code.

With ``data=None`` the functions are called as ``fn(x)``; otherwise as
``fn(x, data)`` — that is how `gradlab.fit_cost` builds fitted models. Keep
``fn`` the same Python object across costs that should share compiled code.

Example:
  >>> import jax.numpy as jnp, gradlab as gl
  >>> bowl = gl.Cost("my-bowl", lambda p: (p[0] - 2) ** 2 + (p[1] + 3) ** 2,
  ...                bounds=[(-5, 5), (-5, 0)], minima=[gl.Minimum([2.0, -3.0], 0.0)])
  >>> float(bowl(jnp.array([2.0, -3.0])))
  0.0
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Sequence
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from gradlab import _static
from gradlab._checks import ModelShapeError, check_bounds, check_points, short


@dataclasses.dataclass(frozen=True)
class Minimum:
    """A known global minimum: location ``x`` and value ``f``."""

    x: tuple
    f: float

    def __init__(self, x, f):
        object.__setattr__(self, "x", tuple(float(v) for v in np.ravel(x)))
        object.__setattr__(self, "f", float(f))


@jax.tree_util.register_pytree_node_class
class Objective:
    """What compiled code needs of a `Cost`: its functions (static) and its data (traced).

    gradlab's solvers pass this, never the `Cost`, to their jitted functions, so
    a cost's name, bounds, minima or description are not part of any compile
    key: renaming a cost, or refitting to new data of the same shapes, reuses
    the compiled code. Functions made by gradlab (built-in costs, fit
    objectives of its models) are keyed by what they compute
    (`gradlab._static.key`); yours by identity, as JAX keys them.
    """

    __slots__ = ("__weakref__", "_static", "data", "fn", "grad")

    def __init__(self, fn, grad, data, _keyed=None):
        self.fn, self.grad, self.data = fn, grad, data
        # gradlab's own functions keyed by what they compute, yours by identity
        # (`gradlab._static`); taken once, not at every flatten
        self._static = _keyed or (_static.Keyed(fn), _static.Keyed(grad))

    def __call__(self, x):
        return self.fn(x) if self.data is None else self.fn(x, self.data)

    def analytic_grad(self, x):
        """The hand-written gradient at ``x``; None when there is none."""
        if self.grad is None:
            return None
        return self.grad(x) if self.data is None else self.grad(x, self.data)

    def tree_flatten(self):
        return (self.data,), self._static

    @classmethod
    def tree_unflatten(cls, static, children):
        return cls(static[0].value, static[1].value, children[0], static)


@jax.tree_util.register_pytree_node_class
@dataclasses.dataclass(frozen=True, eq=False)  # compared by identity: data are arrays
class Cost:
    """A cost function and what gradlab needs to know about it.

    Args:
      name: a short unique name (used by the registry and the CLI).
      fn: ``fn(x) -> scalar`` (or ``fn(x, data)`` when ``data`` is given),
        written in ``jax.numpy``; ``x`` has shape ``(d,)``.
      bounds: one ``(low, high)`` pair per parameter: the box that grids and
        random starts cover. Optional for costs only used by `descend`.
      grad: optional analytic gradient, same signature as ``fn``, returns ``(d,)``.
      minima: every known global minimum, as `Minimum` records.
      names: optional parameter names, e.g. ``("m", "b")``.
      tags: shape tags such as ``"bowl"``, ``"valley"``, ``"many-local-minima"``.
      data: a pytree of arrays that ``fn`` reads (traced under ``jit``).
      description: one line for listings.
    """

    name: str
    fn: Callable
    bounds: tuple | None = None
    grad: Callable | None = None
    minima: tuple = ()
    names: tuple | None = None
    tags: frozenset = frozenset()
    data: object = None
    description: str = ""

    def __post_init__(self):
        if not isinstance(self.name, str) or not self.name:
            raise TypeError(f"name must be a non-empty string; got {short(self.name)}")
        if not callable(self.fn):
            raise TypeError(f"fn must be callable; got {short(self.fn)}")
        if self.grad is not None and not callable(self.grad):
            raise TypeError(f"grad must be callable or None; got {short(self.grad)}")
        if self.bounds is not None:
            object.__setattr__(self, "bounds", check_bounds(self.bounds))
        minima = tuple(m if isinstance(m, Minimum) else Minimum(*m) for m in self.minima)
        object.__setattr__(self, "minima", minima)
        for field in ("tags", "names"):
            value = getattr(self, field)
            if isinstance(value, str) or (value is not None and not all(
                    isinstance(v, str) for v in value)):
                raise TypeError(
                    f"{field} must be a collection of strings such as ('m', 'b'), not one "
                    f"string (its letters would become the {field}); got {short(value)}"
                )
        object.__setattr__(self, "tags", frozenset(self.tags))
        if not isinstance(self.description, str):
            raise TypeError(f"description must be a string; got {short(self.description)}")
        dim = self.dim
        for i, m in enumerate(minima):
            if dim is not None and len(m.x) != dim:
                raise ValueError(
                    f"minima[{i}] must have {dim} coordinates (one per parameter); got {m.x}"
                )
        if self.names is not None:
            names = tuple(self.names)
            if dim is not None and len(names) != dim:
                raise ValueError(f"names must have {dim} entries; got {names}")
            object.__setattr__(self, "names", names)
        if dim is not None:
            check_output(self, jax.ShapeDtypeStruct((dim,), computation_dtype(self)))

    # -- evaluation ---------------------------------------------------------
    def __call__(self, x):
        return self.fn(x) if self.data is None else self.fn(x, self.data)

    def analytic_grad(self, x):
        """The hand-written gradient at ``x``; None when the cost has none."""
        if self.grad is None:
            return None
        return self.grad(x) if self.data is None else self.grad(x, self.data)

    @functools.cached_property  # a Cost never changes: its functions are keyed once
    def objective(self) -> Objective:
        """The functions and data alone: what gradlab's compiled code receives."""
        return Objective(self.fn, self.grad, self.data)

    # -- description --------------------------------------------------------
    @property
    def dim(self) -> int | None:
        if self.bounds is not None:
            return len(self.bounds)
        if self.minima:
            return len(self.minima[0].x)
        if self.names is not None:
            return len(self.names)
        return None

    @property
    def param_names(self) -> tuple:
        if self.names is not None:
            return self.names
        return tuple(f"x{i}" for i in range(self.dim or 0))

    @property
    def global_value(self) -> float | None:
        return min(m.f for m in self.minima) if self.minima else None

    def replace(self, **changes) -> Cost:
        """A copy with some fields changed (new data, bounds, name, ...)."""
        return dataclasses.replace(self, **changes)

    # -- pytree: the data is traced, everything else is static ---------------
    # (gradlab's own solvers pass `objective` instead, so metadata never recompiles)
    def tree_flatten(self):
        static = (self.name, self.fn, self.bounds, self.grad, self.minima,
                  self.names, self.tags, self.description)
        return (self.data,), static

    @classmethod
    def tree_unflatten(cls, static, children):
        obj = object.__new__(cls)
        names = ("name", "fn", "bounds", "grad", "minima", "names", "tags", "description")
        for field, value in zip(names, static):
            object.__setattr__(obj, field, value)
        object.__setattr__(obj, "data", children[0])
        return obj


class _NotTraced(TypeError):
    """A cost returned something that is not a JAX array."""


def computation_dtype(cost, x_dtype=None):
    """The float dtype a cost is computed in: its floating data's and ``x``'s, promoted.

    Data made under float64 and an ``x0`` of float32 compute in float64, rather
    than failing inside XLA on mixed widths.
    """
    dtypes = tuple(getattr(a, "dtype", np.dtype(np.float64)) for a in jax.tree.leaves(cost.data))
    return _promoted_float(dtypes, None if x_dtype is None else np.dtype(x_dtype),
                           jax.config.jax_enable_x64)


def with_float64_data(cost: Cost) -> Cost:
    """``cost`` with every data array in float64 (call under ``jax.enable_x64``): NumPy data
    converted on the host, float64 arrays used as they are (``jnp.asarray`` would run a
    program per array)."""
    return cost.replace(data=jax.tree.map(_as_float64, cost.data))


def _as_float64(a):
    if isinstance(a, jax.Array) and a.dtype == jnp.float64 and not a.weak_type:
        return a
    if isinstance(a, np.ndarray):  # converted on the host: no program
        return jax.device_put(a.astype(np.float64, copy=False))
    return jnp.asarray(a, jnp.float64)


@functools.lru_cache(maxsize=256)
def _promoted_float(data_dtypes: tuple, x_dtype, x64: bool):
    # cached: every solver call asks, and JAX's promotion costs tens of microseconds
    del x64  # part of the key only: the default width depends on it
    floating = [d for d in data_dtypes if jnp.issubdtype(d, jnp.floating)]
    return jnp.result_type(*floating, x_dtype if x_dtype is not None else jnp.result_type(float))


def check_output(cost, x) -> None:
    """Raise a clear error if ``cost`` does not map ``x`` to a real scalar, or its
    analytic gradient does not return one real number per parameter.

    ``x`` is an array or a ``jax.ShapeDtypeStruct``. Checked once per (functions,
    as `gradlab._static` keys them, shapes, dtypes): asking again with new values
    is a dictionary lookup, not a new trace.
    """
    leaves, treedef = jax.tree.flatten(cost.data)
    # (shape, dtype) pairs, not ShapeDtypeStructs: building those costs more than the lookup
    data = tuple((np.shape(a), a.dtype if isinstance(a, np.ndarray | jax.Array)
                  else jnp.result_type(a)) for a in leaves)
    # the functions as `gradlab._static` keys them (a built-in made again is not
    # traced again)
    fn, grad = cost.objective._static
    _checked_output(fn, grad, tuple(x.shape), np.dtype(x.dtype), treedef, data, name=cost.name)


@functools.lru_cache(maxsize=512)
def _checked_output(fn, grad, shape, dtype, treedef, data, *, name):
    _check_output(name, fn.value, grad.value, shape, dtype, treedef, data)


def _check_output(name, fn, grad, shape, dtype, treedef, data):
    data = jax.tree.unflatten(treedef, [jax.ShapeDtypeStruct(*leaf) for leaf in data])
    x = jax.ShapeDtypeStruct(shape, dtype)

    def traced(x, data):
        out = Objective(fn, grad, data)(x)
        if not isinstance(out, jax.Array):  # a Python number: not a function of x at all
            raise _NotTraced(f"cost {name!r}: fn returned {short(out)} ({type(out).__name__}), "
                             "not a JAX array computed from x; write it in jax.numpy")
        return out

    try:
        out = jax.eval_shape(traced, x, data)
    except (ModelShapeError, _NotTraced):  # already name the model and what it returned
        raise
    except Exception as err:  # the user's function failed: say whose and why
        raise ValueError(
            f"cost {name!r}: fn raised {type(err).__name__} when called with "
            f"x of shape {shape}: {err}"
        ) from err
    if not hasattr(out, "shape") or out.shape != ():
        got = getattr(out, "shape", type(out).__name__)
        raise ValueError(
            f"cost {name!r}: fn must return a scalar for x of shape {shape}; got shape {got}"
        )
    if not jnp.issubdtype(out.dtype, jnp.floating):
        raise TypeError(
            f"cost {name!r}: fn must return a real floating scalar; got dtype {out.dtype}"
        )
    if grad is None:
        return
    try:
        g = jax.eval_shape(lambda x, data: Objective(fn, grad, data).analytic_grad(x), x, data)
    except Exception as err:
        raise ValueError(
            f"cost {name!r}: grad raised {type(err).__name__} when called with "
            f"x of shape {shape}: {err}"
        ) from err
    if not hasattr(g, "shape") or g.shape != shape or not jnp.issubdtype(g.dtype, jnp.floating):
        got = (f"shape {g.shape}, dtype {g.dtype}" if hasattr(g, "shape")
               else type(g).__name__)
        raise ValueError(
            f"cost {name!r}: grad must return a real floating array of shape {shape} "
            f"(one entry per parameter); got {got}"
        )


def as_cost(cost, bounds=None, *, need_bounds: bool = False, what: str = "this") -> Cost:
    """Accept a `Cost`, a registered name, or a plain callable ``f(x) -> scalar``.

    ``bounds`` given here override the cost's own. With ``need_bounds=True``
    a cost without bounds is refused with a message naming ``what`` needs them.
    """
    if isinstance(cost, str):
        cost = get_cost(cost)
    elif not isinstance(cost, Cost):
        if not callable(cost):
            raise TypeError(
                f"cost must be a gradlab.Cost, a registered name or a callable; got {short(cost)}"
            )
        name = getattr(cost, "__name__", "cost")
        cost = Cost(name=name if name != "<lambda>" else "cost", fn=cost, bounds=bounds)
    if bounds is not None and cost.bounds != check_bounds(bounds):
        cost = cost.replace(bounds=bounds)
    if need_bounds and cost.bounds is None:
        raise ValueError(
            f"cost {cost.name!r} has no bounds, and {what} needs them: pass "
            "bounds=[(low, high), ...] (one pair per parameter)"
        )
    return cost


def prepare(cost, x0, bounds=None, *, name: str = "x0", batch: bool = False):
    """Resolve ``cost`` and check ``x0`` against it (shape, dtype, scalar output).

    ``x0`` comes back in the cost's computation dtype (`computation_dtype`).
    """
    cost = as_cost(cost, bounds)
    x0 = check_points(x0, name, cost.dim, batch=batch)
    dtype = computation_dtype(cost, x0.dtype)
    if x0.dtype != dtype:
        x0 = x0.astype(dtype)
    check_output(cost, _Point(x0.shape[-1:], x0.dtype))
    return cost, x0


class _Point(NamedTuple):
    """The shape and dtype of one point: what `check_output` reads of an ``x``."""

    shape: tuple
    dtype: np.dtype


# -- the registry -----------------------------------------------------------
# Built-in costs are stored as factories, built on first lookup and kept per float
# width, so their data take the width in force (jax_enable_x64 may be switched on
# after gradlab is imported) and a lookup by name costs a dictionary access.
# User costs are stored as given.
_REGISTRY: dict[str, Cost | Callable[[], Cost]] = {}
_BUILT: dict[tuple[str, np.dtype], Cost] = {}
_BUILT_INS_REGISTERED = False


def _registry() -> dict[str, Cost | Callable[[], Cost]]:
    """The registry, built-ins included: `gradlab.suite` registers them when first imported
    (``import gradlab`` imports nothing until a name is used; a user's cost registered
    first must still meet the built-in of the same name)."""
    global _BUILT_INS_REGISTERED
    if not _BUILT_INS_REGISTERED:
        import gradlab.suite  # noqa: F401

        _BUILT_INS_REGISTERED = True
    return _REGISTRY


def register_factory(name: str, factory: Callable[[], Cost]) -> None:
    """Register a cost built on demand by ``factory()`` (used for the built-ins)."""
    _REGISTRY[name] = factory
    _forget(name)


def _forget(name: str) -> None:
    for key in [k for k in _BUILT if k[0] == name]:
        del _BUILT[key]


def _resolve(name: str) -> Cost:
    entry = _REGISTRY[name]
    if isinstance(entry, Cost):
        return entry
    key = (name, np.dtype(jnp.result_type(float)))
    if key not in _BUILT:
        _BUILT[key] = entry()
    return _BUILT[key]


def register(cost: Cost, *, replace: bool = False) -> Cost:
    """Add ``cost`` to the registry, so `get_cost`, `list_costs` and the CLI find it.

    Registering a name that is taken is an error unless ``replace=True``.
    Returns the cost, so ``register`` can wrap a definition.
    """
    if not isinstance(cost, Cost):
        raise TypeError(f"register takes a gradlab.Cost; got {short(cost)}")
    if cost.name in _registry() and not replace:
        raise ValueError(
            f"a cost named {cost.name!r} is already registered; "
            "pass replace=True to replace it, or choose another name"
        )
    _REGISTRY[cost.name] = cost
    _forget(cost.name)
    return cost


def unregister(name: str) -> None:
    """Remove a cost from the registry (a no-op for unknown names)."""
    _registry().pop(name, None)
    _forget(name)


def get_cost(name: str) -> Cost:
    """The registered cost called ``name``; a `ValueError` lists the known ones."""
    if name not in _registry():
        known = ", ".join(sorted(_REGISTRY))
        raise ValueError(f"unknown cost {name!r}; known costs: {known}")
    return _resolve(name)


def is_builtin(cost) -> bool:
    """Whether ``cost`` is the built-in of its name as `gradlab.suite` makes it (in the
    float width in force), not a user's cost registered under that name or changed."""
    if not isinstance(cost, Cost) or cost.name not in _registry():
        return False
    from gradlab import suite

    return (_REGISTRY[cost.name] is suite.BUILTINS.get(cost.name)
            and _BUILT.get((cost.name, np.dtype(jnp.result_type(float)))) is cost)


def list_costs(*, dim: int | None = None, tag: str | None = None) -> list[Cost]:
    """Registered costs, sorted by name, optionally only those of one dimension or tag."""
    costs = [_resolve(name) for name in sorted(_registry())]
    if dim is not None:
        costs = [c for c in costs if c.dim == dim]
    if tag is not None:
        costs = [c for c in costs if tag in c.tags]
    return costs


def bounds_array(bounds: Sequence, dtype=None) -> tuple[jax.Array, jax.Array]:
    """``(low, high)`` arrays of shape ``(d,)`` from a tuple of pairs."""
    arr = np.asarray(bounds, dtype=float)
    dtype = dtype or jnp.result_type(float)
    return jnp.asarray(arr[:, 0], dtype), jnp.asarray(arr[:, 1], dtype)


# -- cost factories for the command line (`gradlab --cost module:attribute`) ------------------
COST_FACTORY_MARK = "__gradlab_cost_factory__"


def cost_factory(fn: Callable[[], Cost]) -> Callable[[], Cost]:
    """Mark ``fn`` as a function that builds a `Cost` when called with no arguments.

    The command line's ``--cost module:attribute`` accepts a `Cost` object, or a
    function marked with this decorator, which it calls; it never calls anything
    else it is pointed at (``--cost os:abort`` is refused, not run).

    Example:
      >>> import gradlab as gl
      >>> @gl.cost_factory
      ... def shifted_bowl():
      ...     return gl.Cost("shifted-bowl", lambda p: (p[0] - 1) ** 2, bounds=[(-3, 3)])
      >>> gl.costs.is_cost_factory(shifted_bowl), shifted_bowl().name
      (True, 'shifted-bowl')
    """
    if not callable(fn):
        raise TypeError("cost_factory decorates a function that returns a Cost; got "
                        f"a {type(fn).__name__}")
    try:
        setattr(fn, COST_FACTORY_MARK, True)
    except (AttributeError, TypeError):  # a built-in or a slotted object takes no attribute
        raise TypeError(
            f"cost_factory decorates a Python function (def ...); got a {type(fn).__name__}"
        ) from None
    return fn


def is_cost_factory(obj) -> bool:
    """Whether ``obj`` was marked with `cost_factory`."""
    return callable(obj) and getattr(obj, COST_FACTORY_MARK, False) is True
