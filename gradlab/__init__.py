"""gradlab: a laboratory for gradient-based optimisation in JAX.

A cost function is written once in ``jax.numpy``; gradlab gives checked
gradients, three ways to its minimum (exact, grid search, gradient descent),
thousands of descents from random starts at once, and the figures of it all.
"""

from gradlab import datasets, models, optimizers, plot, suite  # suite registers the built-ins
from gradlab.costs import Cost, Minimum, get_cost, list_costs, register, unregister
from gradlab.datasets import Data
from gradlab.descent import Trajectory, descend
from gradlab.exact import solve_exact
from gradlab.fitting import Fit, fit
from gradlab.gradcheck import GradCheck, check_gradient
from gradlab.grid import GradientField, GridResult, gradient_field, grid_search
from gradlab.models import fit_cost
from gradlab.multistart import (
    BasinMap,
    LearningRateSweep,
    Minima,
    MultiStart,
    basin_map,
    multistart,
    sweep_learning_rates,
)
from gradlab.result import Result, Status

__version__ = "0.1.0"

__all__ = [
    "BasinMap",
    "Cost",
    "Data",
    "Fit",
    "GradCheck",
    "GradientField",
    "GridResult",
    "LearningRateSweep",
    "Minima",
    "Minimum",
    "MultiStart",
    "Result",
    "Status",
    "Trajectory",
    "basin_map",
    "check_gradient",
    "datasets",
    "descend",
    "fit",
    "fit_cost",
    "get_cost",
    "gradient_field",
    "grid_search",
    "list_costs",
    "models",
    "multistart",
    "optimizers",
    "plot",
    "register",
    "solve_exact",
    "suite",
    "sweep_learning_rates",
    "unregister",
]
