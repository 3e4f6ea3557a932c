"""gradlab: a laboratory for gradient-based optimisation in JAX.

A cost function is written once in ``jax.numpy``; gradlab gives checked
gradients, three ways to its minimum (exact, grid search, gradient descent),
thousands of descents from random starts at once, and the figures of it all.
"""

import importlib as _importlib
import sys as _sys
import types as _types

# Where each public name lives. `import gradlab` imports none of them (nor JAX): a name is
# imported when first used, so the command line starts at once (and Ctrl-C works at once).
_SUBMODULES = ("datasets", "models", "optimizers", "plot", "suite")
_NAMES = {
    "gradlab._budget": ("memory_budget", "set_memory_budget"),
    "gradlab.costs": ("Cost", "Minimum", "cost_factory", "get_cost", "list_costs", "register",
                      "unregister"),
    "gradlab.datasets": ("Data",),
    "gradlab.descent": ("Trajectory", "descend"),
    "gradlab.exact": ("solve_exact",),
    "gradlab.fitting": ("Fit", "fit"),
    "gradlab.gradcheck": ("GradCheck", "check_gradient"),
    "gradlab.grid": ("GradientField", "GridResult", "gradient_field", "grid_search"),
    "gradlab.models": ("fit_cost",),
    "gradlab.multistart": ("BasinMap", "Minima", "MultiStart", "basin_map", "multistart"),
    "gradlab.result": ("Result", "Status"),
    "gradlab.sweep": ("LearningRateSweep", "sweep_learning_rates"),
}
_HOME = {name: module for module, names in _NAMES.items() for name in names}

__version__ = "0.1.0"

__all__ = sorted([*_SUBMODULES, *_HOME])


def __getattr__(name: str):
    """Import a public name on first use (PEP 562), then keep it in the module."""
    if name in _SUBMODULES:
        value = _importlib.import_module(f"gradlab.{name}")
    elif name in _HOME:
        value = getattr(_importlib.import_module(_HOME[name]), name)
    else:
        raise AttributeError(f"module 'gradlab' has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


class _Package(_types.ModuleType):
    """gradlab's module type: a public function keeps its name when its module is imported.

    Importing ``gradlab.multistart`` binds the module as ``gradlab.multistart``,
    where users expect the function of that name (as an eager ``from ... import``
    left it). The import system's binding is skipped for such names; the module
    stays reachable through ``sys.modules`` and ``from gradlab.multistart import ...``.
    """

    def __setattr__(self, name, value):
        if name in _HOME and isinstance(value, _types.ModuleType):
            return
        super().__setattr__(name, value)


_sys.modules[__name__].__class__ = _Package
