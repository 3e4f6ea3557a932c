"""Seeded synthetic data sets: the course's noisy line and its sine.

Data are drawn with NumPy's ``default_rng`` so that a seed gives the same
numbers on every platform and JAX version, then handed to JAX.

Example:
  >>> import gradlab as gl
  >>> data = gl.datasets.line(n=100, seed=0)
  >>> data.x.shape, data.y.shape
  ((100,), (100,))
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import numpy as np

from gradlab._checks import check_positive, float_dtype, short


class Data(NamedTuple):
    """Observations to fit: inputs ``x`` and targets ``y``, both shape ``(n,)``."""

    x: jax.Array
    y: jax.Array


def as_data(data, name: str = "data") -> Data:
    """Check and convert ``data`` (a `Data` or an ``(x, y)`` pair) to float arrays.

    Refuses mismatched lengths, empty data, non-numeric or complex values, and
    NaN or inf, naming what was wrong.
    """
    if isinstance(data, Data):
        x, y = data
    else:
        try:
            x, y = data
        except (TypeError, ValueError):
            raise TypeError(
                f"{name} must be a gradlab.Data or an (x, y) pair; got {short(data)}"
            ) from None
    arrays = []
    for label, values in (("x", x), ("y", y)):
        try:
            arr = np.asarray(values)
        except Exception:
            raise TypeError(
                f"{name}.{label} must be an array of numbers; got {short(values)}"
            ) from None
        if arr.dtype.kind == "c":
            raise TypeError(f"{name}.{label} must be real; got complex values")
        if arr.dtype.kind not in "fiub":
            raise TypeError(f"{name}.{label} must be numeric; got dtype {arr.dtype}")
        if arr.size == 0:
            raise ValueError(f"{name}.{label} must not be empty; got shape {arr.shape}")
        if not np.all(np.isfinite(arr)):
            bad = int(np.size(arr) - np.count_nonzero(np.isfinite(arr)))
            raise ValueError(f"{name}.{label} must be finite; it holds {bad} NaN or inf values")
        arrays.append(arr)
    if len(arrays[0]) != len(arrays[1]):
        raise ValueError(
            f"{name}.x and {name}.y must have the same length; "
            f"got {len(arrays[0])} and {len(arrays[1])}"
        )
    dtype = float_dtype()  # cast on the host: jnp.asarray(..., dtype) compiles a conversion
    return Data(*(jax.device_put(np.asarray(a, dtype=dtype)) for a in arrays))


def line(n: int = 100, slope: float = 2.0, intercept: float = -3.0, noise: float = 0.25,
         seed: int = 0, *, low: float = -1.0, high: float = 1.0) -> Data:
    """The course's data: ``n`` evenly spaced ``x`` in ``[low, high]``.

    ``y = slope·x + intercept + noise·N(0, 1)``, the noise seeded by ``seed``.
    """
    n = check_positive(n, "n", integer=True, minimum=2)
    x = np.linspace(low, high, n)
    y = slope * x + intercept + noise * np.random.default_rng(seed).standard_normal(n)
    return as_data((x, y))


def sine(n: int = 500, w: float = 10.0, noise: float = 0.0, seed: int = 0, *,
         low: float = -1.0, high: float = 1.0) -> Data:
    """``n`` evenly spaced ``x`` in ``[low, high]`` and ``y = sin(w·x)`` (+ optional noise)."""
    n = check_positive(n, "n", integer=True, minimum=2)
    x = np.linspace(low, high, n)
    y = np.sin(w * x) + noise * np.random.default_rng(seed).standard_normal(n)
    return as_data((x, y))
