"""Settings for the whole test run (tests/ and the doctests in gradlab/): float64, Agg."""

import jax
import matplotlib

jax.config.update("jax_enable_x64", True)
matplotlib.use("Agg")
