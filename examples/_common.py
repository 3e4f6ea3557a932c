"""Shared by the examples: float64, the Agg backend, where figures go, and the CI size switch."""

import os
import tempfile

import jax
import matplotlib

jax.config.update("jax_enable_x64", True)
matplotlib.use("Agg")

QUICK = bool(os.environ.get("GRADLAB_EXAMPLE_QUICK"))  # CI sets it: smaller sizes
_OUT = []  # the figures' folder, made by the first figure saved (an example with none leaves none)


def out_dir() -> str:
    if not _OUT:
        given = os.environ.get("GRADLAB_EXAMPLE_OUT")
        _OUT.append(given or tempfile.mkdtemp(prefix="gradlab-example-"))
    return _OUT[0]


def save(ax, name):
    path = os.path.join(out_dir(), name)
    (ax[0] if hasattr(ax, "__len__") else ax).figure.savefig(path, dpi=90, bbox_inches="tight")
    print(f"figure: {path}")
