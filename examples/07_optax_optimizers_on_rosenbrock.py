"""Compare optax optimisers on Rosenbrock's valley: same start, same budget, one figure."""

import optax
from _common import QUICK, save

import gradlab as gl

rosen = gl.get_cost("rosenbrock")
steps = 500 if QUICK else 2000
optimizers = {
    "sgd 1e-3": optax.sgd(1e-3),
    "momentum 1e-3": optax.sgd(1e-3, momentum=0.9),
    "adam 0.02": optax.adam(0.02),
    "lbfgs": optax.lbfgs(),
}
runs = []
for name, opt in optimizers.items():
    run = gl.descend(rosen, [-1.2, 1.0], optimizer=opt, steps=steps)
    runs.append(run)
    print(f"{name:14s} cost {float(run.fun):9.2e} after {int(run.nit):4d} steps, "
          f"{int(run.nfev):4d} evaluations: {gl.Status(int(run.status)).name}")
grid = gl.grid_search(rosen, num=200)
save(gl.plot.trajectories(grid, runs, labels=list(optimizers), cost=rosen), "rosenbrock.png")
