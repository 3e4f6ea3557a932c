"""The NIST StRD nonlinear regression problems: data, models, starts and certified answers.

The National Institute of Standards and Technology's Statistical Reference
Datasets (https://www.itl.nist.gov/div898/strd/nls/nls_main.shtml, public
domain) are the standard test of least-squares software: 27 problems, each
with two official starts, certified parameters and standard errors (computed
by NIST in 128-bit arithmetic), the certified residual sum of squares and
residual standard deviation. The 27 files are vendored unchanged in
``gradlab/data/nist/`` (NIST's own format, as kept in lmfit-py's
``NIST_STRD`` directory; the tests check that each file's certified
parameters reproduce its certified RSS from its data); `load` parses one,
`names` lists them by difficulty.

Agreement is scored as NIST does, by the log relative error
``LRE = −log10(|estimate − certified| / |certified|)``: the number of
correct significant digits (`digits`).

Example:
  >>> from gradlab import nist
  >>> p = nist.load("Misra1a")
  >>> p.difficulty, p.starts.shape, p.x.shape
  ('lower', (2, 2), (14,))
"""

from __future__ import annotations

import dataclasses
import functools
import re
from pathlib import Path

import jax.numpy as jnp
import numpy as np

from gradlab.datasets import Data

DATA_DIR = Path(__file__).parent / "data" / "nist"


def _rational(numerator: int):
    """``(b1 + b2·x + ...) / (1 + b·x + ...)`` with ``numerator`` coefficients on top."""

    def model(b, x):
        top = jnp.polyval(b[numerator - 1::-1], x)
        bottom = 1.0 + x * jnp.polyval(b[:numerator - 1:-1], x)
        return top / bottom

    return model


def _lanczos(b, x):
    return b[0] * jnp.exp(-b[1] * x) + b[2] * jnp.exp(-b[3] * x) + b[4] * jnp.exp(-b[5] * x)


def _gauss(b, x):
    return (b[0] * jnp.exp(-b[1] * x) + b[2] * jnp.exp(-((x - b[3]) ** 2) / b[4] ** 2)
            + b[5] * jnp.exp(-((x - b[6]) ** 2) / b[7] ** 2))


def _chwirut(b, x):
    return jnp.exp(-b[0] * x) / (b[1] + b[2] * x)


def _exponential_rise(b, x):  # Misra1a and BoxBOD
    return b[0] * (1 - jnp.exp(-b[1] * x))


def _enso(b, x):
    w = 2 * jnp.pi * x
    return (b[0] + b[1] * jnp.cos(w / 12) + b[2] * jnp.sin(w / 12)
            + b[4] * jnp.cos(w / b[3]) + b[5] * jnp.sin(w / b[3])
            + b[7] * jnp.cos(w / b[6]) + b[8] * jnp.sin(w / b[6]))


# The model of each problem, as printed in its file (b1 is b[0]). Nelson has two
# predictors (x[:, 0] = x1, x[:, 1] = x2) and models log(y): its y is stored as log(y).
MODELS = {
    "Misra1a": _exponential_rise,
    "Chwirut2": _chwirut,
    "Chwirut1": _chwirut,
    "Lanczos3": _lanczos,
    "Gauss1": _gauss,
    "Gauss2": _gauss,
    "DanWood": lambda b, x: b[0] * x ** b[1],
    "Misra1b": lambda b, x: b[0] * (1 - (1 + b[1] * x / 2) ** -2),
    "Kirby2": _rational(3),
    "Hahn1": _rational(4),
    "Nelson": lambda b, x: b[0] - b[1] * x[:, 0] * jnp.exp(-b[2] * x[:, 1]),
    "MGH17": lambda b, x: b[0] + b[1] * jnp.exp(-x * b[3]) + b[2] * jnp.exp(-x * b[4]),
    "Lanczos1": _lanczos,
    "Lanczos2": _lanczos,
    "Gauss3": _gauss,
    "Misra1c": lambda b, x: b[0] * (1 - (1 + 2 * b[1] * x) ** -0.5),
    "Misra1d": lambda b, x: b[0] * b[1] * x / (1 + b[1] * x),
    "Roszman1": lambda b, x: b[0] - b[1] * x - jnp.arctan(b[2] / (x - b[3])) / jnp.pi,
    "ENSO": _enso,
    "MGH09": lambda b, x: b[0] * (x**2 + x * b[1]) / (x**2 + x * b[2] + b[3]),
    "Thurber": _rational(4),
    "BoxBOD": _exponential_rise,
    "Rat42": lambda b, x: b[0] / (1 + jnp.exp(b[1] - b[2] * x)),
    "MGH10": lambda b, x: b[0] * jnp.exp(b[1] / (x + b[2])),
    "Eckerle4": lambda b, x: (b[0] / b[1]) * jnp.exp(-0.5 * ((x - b[2]) / b[1]) ** 2),
    "Rat43": lambda b, x: b[0] / (1 + jnp.exp(b[1] - b[2] * x)) ** (1 / b[3]),
    "Bennett5": lambda b, x: b[0] * (b[1] + x) ** (-1 / b[2]),
}
DIFFICULTIES = ("lower", "average", "higher")


@dataclasses.dataclass(frozen=True, eq=False)
class Problem:
    """One StRD problem, as certified (float64 numpy arrays).

    Attributes:
      name: the dataset's name (``"Thurber"``).
      difficulty: ``"lower"``, ``"average"`` or ``"higher"``.
      model: ``model(b, x) -> prediction`` in ``jax.numpy``.
      x: ``(n,)`` the predictor (``(n, 2)`` for Nelson).
      y: ``(n,)`` the response (``log y`` for Nelson, whose model is of ``log y``).
      starts: ``(2, d)`` NIST's Start 1 and Start 2.
      certified: ``(d,)`` certified parameters.
      stderr: ``(d,)`` certified standard errors (NIST's "standard deviation").
      rss: certified residual sum of squares.
      residual_sd: certified residual standard deviation ``sqrt(rss / dof)``.
      dof: degrees of freedom ``n − d`` (the Rat43 file prints 9, a misprint: its
        certified residual SD and standard errors are those of ``15 − 4 = 11``).
    """

    name: str
    difficulty: str
    model: object
    x: np.ndarray
    y: np.ndarray
    starts: np.ndarray
    certified: np.ndarray
    stderr: np.ndarray
    rss: float
    residual_sd: float
    dof: int

    def data(self, dtype=np.float64) -> Data:
        """The data as a `gradlab.Data` of ``dtype``."""
        return Data(jnp.asarray(self.x, dtype), jnp.asarray(self.y, dtype))


def names(difficulty: str | None = None) -> list[str]:
    """The problems in NIST's order (lower, average, then higher difficulty), or of one level."""
    if difficulty is not None and difficulty not in DIFFICULTIES:
        raise ValueError(f"difficulty must be one of {DIFFICULTIES}; got {difficulty!r}")
    chosen = [n for n in MODELS if difficulty in (None, load(n).difficulty)]
    return sorted(chosen, key=lambda n: DIFFICULTIES.index(load(n).difficulty))


def _number(text: str) -> float:
    return float(text.replace("D", "E"))


@functools.cache
def load(name: str) -> Problem:
    """Parse ``gradlab/data/nist/<name>.dat`` (a `ValueError` for an unknown name)."""
    if name not in MODELS:
        raise ValueError(f"unknown NIST problem {name!r}; known: {', '.join(MODELS)}")
    lines = (DATA_DIR / f"{name}.dat").read_text(encoding="ascii").splitlines()
    text = "\n".join(lines)
    first, last = (int(v) for v in re.search(r"Data\s+\(lines\s+(\d+)\s+to\s+(\d+)\)",
                                              text).groups())
    rows = np.array([[_number(v) for v in line.split()] for line in lines[first - 1:last]])
    params = [line.split("=")[1].split() for line in lines
              if re.match(r"\s*b\d+\s*=", line)]
    table = np.array([[_number(v) for v in row] for row in params])

    def certified_value(label):
        return _number(re.search(label + r":\s+(\S+)", text).group(1))

    n = int(certified_value("Number of Observations"))
    if rows.shape[0] != n:
        raise ValueError(f"{name}: {rows.shape[0]} data rows, but the file certifies {n}")
    y, x = rows[:, 0], (rows[:, 1] if rows.shape[1] == 2 else rows[:, 1:])
    if name == "Nelson":
        y = np.log(y)
    difficulty = re.search(r"(Lower|Average|Higher) Level of Difficulty", text).group(1)
    return Problem(name=name, difficulty=difficulty.lower(), model=MODELS[name], x=x, y=y,
                   starts=table[:, :2].T.copy(), certified=table[:, 2].copy(),
                   stderr=table[:, 3].copy(), rss=certified_value("Residual Sum of Squares"),
                   residual_sd=certified_value("Residual Standard Deviation"),
                   dof=n - table.shape[0])


def digits(estimate, certified) -> np.ndarray:
    """NIST's log relative error: correct significant digits, capped at 15 (0 when none)."""
    estimate, certified = np.asarray(estimate, float), np.asarray(certified, float)
    with np.errstate(divide="ignore", invalid="ignore"):
        error = np.abs(estimate - certified) / np.abs(certified)
        lre = -np.log10(error)
    lre = np.where(error == 0, 15.0, lre)
    return np.clip(np.nan_to_num(lre, nan=0.0, neginf=0.0), 0.0, 15.0)
