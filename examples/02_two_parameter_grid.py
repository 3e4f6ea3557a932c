"""Two free parameters: a grid over (m, b), its heat map and 3-D surface, and the exact answer."""

from _common import QUICK, save

import gradlab as gl

line = gl.get_cost("line")
grid = gl.grid_search(line, num=100 if QUICK else 500)
exact = gl.solve_exact(line)
print(f"grid:  m = {float(grid.x[0]):.4f}, b = {float(grid.x[1]):.4f}, {grid.nfev} evaluations")
print(f"exact: m = {float(exact.x[0]):.4f}, b = {float(exact.x[1]):.4f}")
save(gl.plot.landscape(grid, cost=line), "heatmap.png")
save(gl.plot.surface(grid, cost=line, stride=5), "surface.png")
