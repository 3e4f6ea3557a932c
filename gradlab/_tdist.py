"""Student's t quantiles, exactly, with no dependency beyond NumPy (for confidence intervals).

`t_quantile(p, dof)` is ``t`` with ``P(T ≤ t) = p`` for Student's t with an
integer ``dof`` degrees of freedom (a fit's ``N − d``): exact up to 10⁵ (the
closed form of Abramowitz & Stegun 26.7.3–4 in the angle ``θ = atan(t/√ν)``,
inverted by bisection to full double precision), and beyond that the
Cornish–Fisher expansion about the normal quantile (A&S 26.7.5, three terms:
its error there is far below double precision). NaN for ``dof < 1``.

Example:
  >>> from gradlab._tdist import t_quantile
  >>> round(t_quantile(0.975, 10), 6)
  2.228139
"""

from __future__ import annotations

import math
import statistics

import numpy as np


def t_quantile(p: float, dof) -> float:
    """Student's t quantile: ``t`` with ``P(T ≤ t) = p`` for ``dof`` degrees of freedom.

    ``dof`` an integer (see the module docstring); NaN for ``dof < 1``.
    """
    if not 0 < p < 1:
        raise ValueError(f"p must lie strictly between 0 and 1; got {p}")
    nu = float(dof)
    if nu != int(nu):
        raise ValueError(f"dof must be an integer; got {dof}")
    if not nu >= 1:
        return math.nan
    if p < 0.5:
        return -t_quantile(1 - p, dof)
    if p == 0.5:
        return 0.0
    if nu > 1e5:
        z = statistics.NormalDist().inv_cdf(p)
        return (z + (z**3 + z) / (4 * nu) + (5 * z**5 + 16 * z**3 + 3 * z) / (96 * nu**2)
                + (3 * z**7 + 19 * z**5 + 17 * z**3 - 15 * z) / (384 * nu**3))
    nu = int(nu)
    target = 2 * p - 1  # P(|T| ≤ t)
    low, high = 0.0, math.pi / 2
    for _ in range(200):
        mid = 0.5 * (low + high)
        if mid in (low, high):
            break
        if _central(mid, nu) < target:
            low = mid
        else:
            high = mid
    return math.sqrt(nu) * math.tan(0.5 * (low + high))


def _central(theta: float, nu: int) -> float:
    """``P(|T| ≤ √ν·tan θ)`` for integer ``ν`` (Abramowitz & Stegun 26.7.3 and 26.7.4)."""
    c2 = math.cos(theta) ** 2
    if nu % 2 == 0:  # sin θ·(1 + ½cos²θ + (1·3)/(2·4)·cos⁴θ + ...), ν/2 terms
        k = np.arange(1, nu // 2)
        terms = np.cumprod((2 * k - 1) / (2 * k) * c2)
        return math.sin(theta) * (1.0 + float(terms.sum()))
    if nu == 1:
        return 2 * theta / math.pi
    k = np.arange(1, (nu - 1) // 2)  # 2/π·(θ + sin θ·cos θ·(1 + (2/3)cos²θ + ...))
    terms = np.cumprod((2 * k) / (2 * k + 1) * c2)
    return 2 / math.pi * (theta + math.sin(theta) * math.cos(theta) * (1.0 + float(terms.sum())))
