"""Compile keys for optimisers and costs: library-made ones by value, yours as JAX keys them.

JAX keys a compiled program on its static arguments' ``hash``/``==``; for a
function that is its identity. ``optax.adam(0.1)`` builds new closures on every
call, so ``gl.descend(cost, x0, optimizer=optax.adam(0.1))`` compiled again on
every call (about a second each).

`key` compares by value only what provably computes the same when equal:
functions *defined in optax, gradlab, chex or JAX* (the same code object, and
equal closure values, defaults and attributes; their module globals are the
library's own and are not read), built from numbers, strings, None, numpy
scalars, tuples, ``functools.partial`` and gradlab's frozen records of such
values; ``jax.Array`` (immutable), dtypes, classes and callables of those
libraries by identity. Floats are compared by their bits (``-0.0`` is not
``0.0``, a NaN's sign and payload count).

Everything else — your own function, a lambda, a numpy array, a list, an
object with state — is keyed as JAX keys it: itself (its identity, or its own
``==`` and ``hash``), and a library closure that reaches one is keyed by its
identity too. A user's function is never looked into: what it reads (a global,
a class attribute, a module's attribute, an object's state) could change
between two calls where a new trace would see it, and no key taken from
outside can promise otherwise.

A library function's key is remembered while the function lives (it holds no
reference to the function): passing the same optimiser again costs a lookup.
"""

from __future__ import annotations

import dataclasses
import functools
import struct
import threading
import types
import weakref
from collections.abc import Hashable

import jax
import numpy as np

_LIBRARIES = frozenset({"optax", "gradlab", "chex", "jax", "jaxlib", "numpy"})
_SCALARS = (bool, int, str, bytes, type(None), type(Ellipsis))
_MAX_DEPTH = 64  # deeper than any optax transformation: keyed by identity instead


class _Identity:
    """A key equal only to the key of the same object (which it keeps alive)."""

    __slots__ = ("obj",)

    def __init__(self, obj):
        self.obj = obj

    def __eq__(self, other):
        return isinstance(other, _Identity) and other.obj is self.obj

    def __hash__(self):
        return id(self.obj)


class _NotByValue(Exception):
    """Raised inside a walk that reached a value not keyed by value (module docstring)."""


_memo: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # library function → key
_lock = threading.Lock()


def key(obj):
    """A hashable key: equal keys ⇒ the same computation under a new trace (module docstring)."""
    if type(obj) in _SCALARS or type(obj) in (float, complex):
        return _scalar_key(obj)
    if _plain_tuple(obj):  # optax's transformations: a NamedTuple of two functions
        return (type(obj), tuple(key(item) for item in obj))
    if isinstance(obj, types.FunctionType):
        if not _from_library(obj):  # yours: itself (a function's == is its identity)
            return ("own", obj)
        with _lock:
            known = _memo.get(obj)
        if known is not None:
            return known
        found = _walked(obj)
        if found[0] == "value":
            with _lock:
                _memo[obj] = found
        return found
    return _walked(obj)


def _walked(obj):
    try:
        return ("value", _key(obj, {}, 0))
    except _NotByValue:  # as JAX keys it: by its own == and hash if it has them, else identity
        return ("own", obj) if _hashable(obj) else ("identity", _Identity(obj))


def _hashable(obj) -> bool:
    # an object whose class sets __hash__ to None is not; a function's hash never fails
    return isinstance(obj, Hashable)


def _scalar_key(obj):
    if type(obj) is float:  # the bits: -0.0 is not 0.0, a NaN's sign and payload count
        return (float, struct.pack("<d", obj))
    if type(obj) is complex:
        return (complex, struct.pack("<dd", obj.real, obj.imag))
    return (type(obj), obj)  # the type keeps 1 and True apart


def _from_library(obj) -> bool:
    module = getattr(obj, "__module__", None)
    return isinstance(module, str) and module.partition(".")[0] in _LIBRARIES


def _plain_tuple(obj) -> bool:
    """A tuple or NamedTuple with no attributes of its own besides its items."""
    return isinstance(obj, tuple) and not getattr(obj, "__dict__", None)


def _key(obj, seen: dict, depth: int):
    if depth > _MAX_DEPTH:
        raise _NotByValue
    if type(obj) in _SCALARS or type(obj) in (float, complex):
        return _scalar_key(obj)
    if isinstance(obj, np.generic):
        return (type(obj), obj.tobytes())
    if isinstance(obj, jax.Array | np.dtype):
        return ("is", _Identity(obj))
    if isinstance(obj, type | types.ModuleType):  # optax's state classes, say
        if not _from_library(obj) and not isinstance(obj, types.ModuleType):
            raise _NotByValue
        return ("is", _Identity(obj))
    if id(obj) in seen:  # a cycle: where it was first met
        return ("seen", seen[id(obj)])
    seen[id(obj)] = len(seen)
    depth += 1
    if _plain_tuple(obj):
        return (type(obj), tuple(_key(item, seen, depth) for item in obj))
    if type(obj) is functools.partial:
        return ("partial", _key(obj.func, seen, depth), _key(obj.args, seen, depth),
                _items_key(obj.keywords, seen, depth))
    if not _from_library(obj if isinstance(obj, types.FunctionType) else type(obj)):
        raise _NotByValue  # yours: never looked into
    if isinstance(obj, types.FunctionType):
        return _function_key(obj, seen, depth)
    if dataclasses.is_dataclass(obj) and obj.__dataclass_params__.frozen \
            and hasattr(obj, "__dict__"):  # gradlab's records: every attribute
        return (type(obj), _items_key(vars(obj), seen, depth))
    if isinstance(obj, types.BuiltinFunctionType | types.MethodType):
        raise _NotByValue  # bound to an instance whose state may change
    if callable(obj) and not hasattr(obj, "__dict__"):  # a jitted function, a ufunc
        return ("is", _Identity(obj))
    raise _NotByValue


def _items_key(mapping, seen: dict, depth: int):
    items = (mapping or {}).items()
    return tuple(sorted((name, _key(value, seen, depth)) for name, value in items))


def _function_key(fn: types.FunctionType, seen: dict, depth: int):
    cells = tuple(_key(cell.cell_contents, seen, depth) if _filled(cell) else ("empty",)
                  for cell in fn.__closure__ or ())
    return ("function", fn.__code__, cells, _key(fn.__defaults__, seen, depth),
            _items_key(fn.__kwdefaults__, seen, depth), _items_key(fn.__dict__, seen, depth))


def _filled(cell) -> bool:
    try:
        _ = cell.cell_contents
    except ValueError:  # a cell not yet assigned
        return False
    return True


class Keyed:
    """``value`` as static data of a jitted function: equal by `key`, not by identity."""

    __slots__ = ("_key", "value")

    def __init__(self, value):
        self.value, self._key = value, key(value)

    def __eq__(self, other):
        return isinstance(other, Keyed) and self._key == other._key

    def __hash__(self):
        return hash(self._key)

    def __repr__(self):
        return f"Keyed({self.value!r})"
