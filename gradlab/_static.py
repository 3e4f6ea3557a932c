"""Compile keys for the functions a user hands over: equal when they provably compute the same.

JAX keys a compiled program on its static arguments' ``hash``/``==``; for a
function that is its identity, so ``gl.descend(cost, x0, optimizer=optax.adam(0.1))``
compiled again on every call (``optax.adam`` builds new closures each time), and
so did a notebook cell's lambda each time the cell ran: about a second each.

`key` is equal for two functions made by the same code from equal immutable
values: the same code (compared as Python compares code objects), equal
defaults, attributes, closure cells and referenced globals, compared
recursively. Only values that cannot change after the key is taken are
compared by value: numbers, strings, bytes, None, numpy scalars, tuples,
frozen dataclasses and ``functools.partial`` of such values; ``jax.Array``
(immutable), dtypes, classes and builtins by identity; a module by identity
and the attributes the code may read of it (`_module_key`). Anything else
— a numpy array, a list, an object with state — could be changed in place
between two calls, where a new trace would see the change: a function that
reaches one is keyed by its identity, and such an object handed over itself
by its own ``==`` and ``hash`` (identity if it has none), as JAX keys them; a
bound method by its function and its instance, as JAX does.

A function's key is remembered while the function lives: passing the same
optimiser again costs a lookup, not a walk (a walk: 50–460 µs for optax's sgd,
adam and lbfgs), and it is keyed by what it was when first seen — as JAX keys
a function it has seen.
"""

from __future__ import annotations

import dataclasses
import functools
import threading
import types
import weakref
from collections.abc import Hashable

import jax
import numpy as np

_SCALARS = (bool, int, float, complex, str, bytes, type(None), type(Ellipsis))
_BY_IDENTITY = (jax.Array, np.dtype, types.ModuleType, type, types.BuiltinFunctionType)


class _Identity:
    """A key equal only to the key of the same object (which it keeps alive)."""

    __slots__ = ("obj",)

    def __init__(self, obj):
        self.obj = obj

    def __eq__(self, other):
        return isinstance(other, _Identity) and other.obj is self.obj

    def __hash__(self):
        return id(self.obj)


class _Mutable(Exception):
    """Raised inside a walk that reached a value which could change in place."""


_memo: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # function → its key
_lock = threading.Lock()


def key(obj):
    """A hashable key: equal keys ⇒ the same computation under a new trace (module docstring)."""
    if type(obj) in _SCALARS:
        return _scalar_key(obj)
    if isinstance(obj, tuple):  # optax's transformations: a NamedTuple of two functions
        return (type(obj), tuple(key(item) for item in obj))
    if _frozen_dataclass(obj) and hasattr(obj, "__dict__"):  # a fit's objective
        return (type(obj), tuple(sorted((name, key(value)) for name, value in vars(obj).items())))
    if not isinstance(obj, types.FunctionType):
        return _walked(obj)
    with _lock:
        known = _memo.get(obj)
    if known is not None:
        return known
    found = _walked(obj)
    if found[0] == "value":  # an identity key would keep the function alive in the memo
        with _lock:
            _memo[obj] = found
    return found


def _walked(obj):
    try:
        return ("value", _key(obj, {}))
    except _Mutable:  # as JAX keys it: by its own == and hash if it has them, else identity
        return ("own", obj) if isinstance(obj, Hashable) else ("identity", _Identity(obj))


def _scalar_key(obj):
    # the type keeps 1, 1.0 and True apart; repr keeps -0.0 from 0.0, and NaN equal to itself
    return (type(obj), repr(obj) if type(obj) in (float, complex) else obj)


def _frozen_dataclass(obj) -> bool:
    params = getattr(type(obj), "__dataclass_params__", None)
    return params is not None and params.frozen


def _key(obj, seen: dict):
    if type(obj) in _SCALARS:
        return _scalar_key(obj)
    if isinstance(obj, np.generic):
        return (type(obj), obj.tobytes())
    if isinstance(obj, _BY_IDENTITY):
        return ("is", _Identity(obj))
    if id(obj) in seen:  # a cycle (a recursive closure): where it was first met
        return ("seen", seen[id(obj)])
    seen[id(obj)] = len(seen)
    if isinstance(obj, tuple):  # NamedTuples too: the type is part of the key
        return (type(obj), tuple(_key(item, seen) for item in obj))
    if isinstance(obj, types.FunctionType):
        return _function_key(obj, seen)
    if isinstance(obj, types.MethodType):  # a new object at every attribute access
        try:
            owner = _key(obj.__self__, seen)
        except _Mutable:  # the instance itself, as JAX keys a bound method
            owner = ("is", _Identity(obj.__self__))
        return ("method", _key(obj.__func__, seen), owner)
    if type(obj) is functools.partial:
        return ("partial", _key(obj.func, seen), _key(obj.args, seen),
                _items_key(obj.keywords, seen))
    if _frozen_dataclass(obj):  # every attribute, not only the fields
        state = (_items_key(vars(obj), seen) if hasattr(obj, "__dict__")
                 else tuple(_key(getattr(obj, f.name), seen) for f in dataclasses.fields(obj)))
        return (type(obj), state)
    raise _Mutable


def _items_key(mapping, seen: dict):
    return tuple(sorted((name, _key(value, seen)) for name, value in (mapping or {}).items()))


def _function_key(fn: types.FunctionType, seen: dict):
    cells = tuple(_key(cell.cell_contents, seen) if _filled(cell) else ("empty",)
                  for cell in fn.__closure__ or ())
    found = fn.__globals__
    names = _global_names(fn.__code__)
    used = tuple((name, _module_key(found[name], names) if isinstance(found[name], types.ModuleType)
                  else _key(found[name], seen)) for name in names if name in found)
    return ("function", fn.__code__, _Identity(found), cells, _key(fn.__defaults__, seen),
            _items_key(fn.__kwdefaults__, seen), _items_key(fn.__dict__, seen), used)


def _module_key(module: types.ModuleType, names: tuple[str, ...]):
    """A module, and what the code may read of it (``config.SCALE`` as well as ``jnp.sum``).

    Its attributes named in the code (attribute names are among the code's names):
    numbers and strings by value, functions, classes, modules and other callables by
    identity — not walked: a library's internals reach mutable state everywhere —,
    and anything else (an array, a list) makes the function keyed by identity.
    """
    attrs, found = [], vars(module)  # not getattr: a module's __getattr__ may warn or import
    for name in names:
        value = found.get(name, _ABSENT)
        if value is _ABSENT:
            continue
        if type(value) in _SCALARS or isinstance(value, np.generic):
            attrs.append((name, _key(value, {})))
        elif isinstance(value, _BY_IDENTITY) or callable(value):
            attrs.append((name, _Identity(value)))
        else:
            raise _Mutable
    return ("module", _Identity(module), tuple(attrs))


_ABSENT = object()


def _filled(cell) -> bool:
    try:
        _ = cell.cell_contents
    except ValueError:  # a cell not yet assigned
        return False
    return True


@functools.lru_cache(maxsize=4096)
def _global_names(code: types.CodeType) -> tuple[str, ...]:
    """Names the code (and the code of functions defined in it) may read as globals, sorted."""
    names = set(code.co_names)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            names.update(_global_names(const))
    return tuple(sorted(names))


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
