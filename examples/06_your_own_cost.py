"""Your own model and data: fit y = a·(1 − exp(−k·x)), register it, and use every tool on it."""

import numpy as np
import optax
from _common import save

import gradlab as gl

rng = np.random.default_rng(0)
x = np.linspace(0.0, 5.0, 60)
y = 3.0 * (1 - np.exp(-0.7 * x)) + 0.05 * rng.standard_normal(x.size)


def saturating(params, x):
    import jax.numpy as jnp

    return params[0] * (1 - jnp.exp(-params[1] * x))


growth = gl.fit_cost(saturating, (x, y), bounds=[(0.0, 6.0), (0.05, 3.0)], name="growth",
                     names=("a", "k"))
gl.register(growth, replace=True)
print("gradient check passed:", gl.check_gradient("growth").passed)
fit = gl.descend("growth", [1.0, 1.0], optimizer=optax.lbfgs(), steps=100)
print(f"a = {float(fit.x[0]):.3f}, k = {float(fit.x[1]):.3f} ({fit.message})")
grid = gl.grid_search("growth", num=200)
save(gl.plot.landscape(grid, cost=growth), "growth_landscape.png")
save(gl.plot.fit(growth, [fit.x], true_params=[3.0, 0.7]), "growth_fit.png")
