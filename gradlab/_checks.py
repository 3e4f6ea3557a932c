"""Argument checks shared by the public functions.

Every check runs before any tracing and raises a `ValueError` or `TypeError`
that names the argument, shows the value received and says what was expected.
Values that are JAX tracers (the caller is inside ``jit``/``vmap``) are only
checked for shape and dtype.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np


class ModelShapeError(ValueError):
    """A fitted model's prediction does not have the shape of the data it is fitted to."""


def is_traced(x) -> bool:
    return isinstance(x, jax.core.Tracer)


def short(value, limit: int = 80) -> str:
    """A one-line repr of ``value`` for error messages."""
    text = repr(value).replace("\n", " ")
    return text if len(text) <= limit else text[: limit - 3] + "..."


def check_bounds(bounds, name: str = "bounds", dim: int | None = None) -> tuple:
    """Bounds as a tuple of ``(low, high)`` float pairs, finite with ``low < high``."""
    if isinstance(bounds, str) or not isinstance(bounds, Sequence | np.ndarray):
        raise TypeError(
            f"{name} must be a sequence of (low, high) pairs, one per parameter; "
            f"got {short(bounds)}"
        )
    pairs = []
    for i, pair in enumerate(bounds):
        try:
            low, high = (float(v) for v in pair)
        except (TypeError, ValueError):
            raise TypeError(
                f"{name}[{i}] must be a (low, high) pair of numbers; got {short(pair)}"
            ) from None
        if not (math.isfinite(low) and math.isfinite(high)):
            raise ValueError(f"{name}[{i}] must be finite; got ({low}, {high})")
        if not low < high:
            raise ValueError(f"{name}[{i}] must have low < high; got ({low}, {high})")
        if not math.isfinite(high - low):
            raise ValueError(
                f"{name}[{i}] must have a finite width high - low; got ({low}, {high}), "
                "whose width overflows"
            )
        pairs.append((low, high))
    if not pairs:
        raise ValueError(f"{name} must hold at least one (low, high) pair; got {short(bounds)}")
    if dim is not None and len(pairs) != dim:
        raise ValueError(
            f"{name} must have one (low, high) pair per parameter ({dim}); got {len(pairs)}"
        )
    return tuple(pairs)


def float_dtype():
    """The default floating dtype: float64 when ``jax_enable_x64`` is on, else float32."""
    return jnp.result_type(float)


def check_points(x, name: str, dim: int | None, *, batch: bool = False, convert: bool = True):
    """A floating array of shape ``(d,)`` (or ``(n, d)`` with ``batch=True``).

    Python numbers and lists are converted to the default float dtype; arrays of
    an integer or complex dtype are refused, since silently casting them hides
    mistakes (an integer x0 would make every update integer-valued in numpy).
    Everything is checked on the host and only then placed on the device with
    ``jax.device_put`` (``jnp.asarray`` of a numpy array compiles, once per
    shape). With ``convert=False`` the input is returned as given, only checked.
    """
    if isinstance(x, list | tuple | int | float) and not isinstance(x, bool):
        if not _all_real_numbers(x):
            raise TypeError(f"{name} must be real numbers (not strings or booleans); "
                            f"got {short(x)}")
        try:
            arr = np.asarray(x, dtype=float)
        except (TypeError, ValueError):
            raise TypeError(f"{name} must be numbers; got {short(x)}") from None
        arr = arr.astype(float_dtype())
    elif isinstance(x, np.ndarray | jax.Array):
        kind = _kind(x.dtype)
        if kind == "complex":
            raise TypeError(f"{name} must be real; got a complex array {short(x)}")
        if kind != "float":
            raise TypeError(
                f"{name} must be a floating array; got dtype {x.dtype} "
                f"(cast it, e.g. jnp.asarray({name}, dtype=float))"
            )
        arr = x
    else:
        raise TypeError(f"{name} must be an array of numbers; got {short(x)}")
    want_ndim = 2 if batch else 1
    shape_text = "(n, d)" if batch else "(d,)"
    if arr.ndim != want_ndim:
        raise ValueError(f"{name} must have shape {shape_text}; got shape {arr.shape}")
    if arr.shape[-1] == 0 or (batch and arr.shape[0] == 0):
        raise ValueError(f"{name} must not be empty; got shape {arr.shape}")
    if dim is not None and arr.shape[-1] != dim:
        raise ValueError(
            f"{name} must have {dim} entries per point (the cost has {dim} parameters); "
            f"got shape {arr.shape}"
        )
    if not is_traced(arr) and not np.isfinite(np.asarray(arr)).all():  # on the host: no compile
        raise ValueError(f"{name} must be finite; got {short(np.asarray(arr))}")
    if not convert:
        return x
    if isinstance(arr, np.ndarray):
        # the width in force: float64 data become float32 unless x64 is on
        return jax.device_put(arr.astype(jax.dtypes.canonicalize_dtype(arr.dtype)))
    return arr


@functools.lru_cache(maxsize=64)
def _kind(dtype) -> str:
    """"float", "complex" or "other" (cached: JAX's subtype test is slow next to a solver call)."""
    if jnp.issubdtype(dtype, jnp.complexfloating):
        return "complex"
    return "float" if jnp.issubdtype(dtype, jnp.floating) else "other"


def _all_real_numbers(x) -> bool:
    """Whether a (nested) list or tuple holds only real numbers: no str, bool or complex."""
    if isinstance(x, list | tuple):
        return all(_all_real_numbers(v) for v in x)
    if isinstance(x, np.ndarray | jax.Array):
        return x.dtype.kind in "fiu"
    return isinstance(x, int | float | np.integer | np.floating) and not isinstance(x, bool)


def check_positive(value, name: str, *, integer: bool = False, minimum=None):
    """A positive (optionally integer) scalar, or one at least ``minimum``."""
    if integer:
        if isinstance(value, bool) or not isinstance(value, int | np.integer):
            raise TypeError(f"{name} must be an integer; got {short(value)}")
        low = 1 if minimum is None else minimum
        if value < low:
            raise ValueError(f"{name} must be at least {low}; got {value}")
        return int(value)
    if is_traced(value):
        return value
    if isinstance(value, float | int) and not isinstance(value, bool):  # the common case, fast
        if not (math.isfinite(value) and value > 0):
            raise ValueError(f"{name} must be positive and finite; got {short(value)}")
        return value
    if not _all_real_numbers(value):
        raise TypeError(f"{name} must be a number (not a string or a boolean); "
                        f"got {short(value)}")
    arr = np.asarray(value, dtype=float)
    if not np.all(np.isfinite(arr)) or not np.all(arr > 0):
        raise ValueError(f"{name} must be positive and finite; got {short(value)}")
    return value


# -- memory: one budget for every size that grows with an argument ------------------------------
# (in its own light module, so that the command line reads it without importing JAX)
from gradlab._budget import memory_budget  # noqa: E402


def human_bytes(nbytes: float) -> str:
    for unit, size in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if nbytes >= size:
            return f"{nbytes / size:.3g} {unit}"
    return f"{nbytes:.0f} bytes"


def check_memory(nbytes: float, what: str, advice: str) -> None:
    """Refuse, before anything is allocated, a call that would need more than the budget.

    ``what`` says what grows ("a history of 10⁹ steps"), ``advice`` which
    argument to change; both land in one `ValueError`.
    """
    if nbytes > memory_budget():
        raise ValueError(
            f"{what} needs about {human_bytes(nbytes)}, over gradlab's memory budget of "
            f"{human_bytes(memory_budget())}: {advice} (or raise the budget with "
            "gl.set_memory_budget)"
        )
