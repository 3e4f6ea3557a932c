"""Gradient descent on the bowl, and what the learning rate does: converge, oscillate, diverge."""

import jax.numpy as jnp
from _common import save

import gradlab as gl

bowl = gl.get_cost("bowl")
traj = gl.descend(bowl, [-1.0, -1.0], learning_rate=0.1, steps=50)
print(f"alpha = 0.1, 50 steps: ({float(traj.x[0]):.4f}, {float(traj.x[1]):.4f}), {traj.message}")
save(gl.plot.history(traj, cost=bowl), "history.png")

sweep = gl.sweep_learning_rates(bowl, [-1.0, -1.0], jnp.logspace(-2, 0.2, 30), steps=100)
print(f"stability limit 2/L = {sweep.stability_limit:g}")
for rate, status in zip(sweep.learning_rates[::6], sweep.status[::6]):
    print(f"  alpha = {float(rate):7.4f}: {gl.Status(int(status)).name}")
save(gl.plot.learning_rates(sweep, cost=bowl), "learning_rates.png")
