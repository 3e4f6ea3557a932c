"""One free parameter: sweep the slope m of the course's line, b fixed, and find its best value."""

from _common import save

import gradlab as gl

line = gl.get_cost("line")
b = -3.0
slope_only = gl.fit_cost(lambda p, x: p[0] * x + b, line.data, bounds=[(-5.0, 5.0)],
                         name="line, b = -3", names=("m",))
sweep = gl.grid_search(slope_only, num=501)
print(f"best slope on the grid: m = {float(sweep.x[0]):.4f} (cost {float(sweep.fun):.4f})")
print(f"exact answer with b free: m = {float(gl.solve_exact(line).x[0]):.4f}")
save(gl.plot.cost_curve(sweep, cost=slope_only), "sweep.png")
