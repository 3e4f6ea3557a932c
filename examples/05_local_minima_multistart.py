"""Many local minima: fit sin(w·x) to sin(10x) from many random starts and find the global one."""

from _common import QUICK, save

import gradlab as gl

sine = gl.get_cost("sine")
one = gl.descend(sine, [25.0], learning_rate=1.0, steps=200)
print(f"one descent from w = 25 stops at w = {float(one.x[0]):.3f} (cost {float(one.fun):.3f})")

ms = gl.multistart(sine, n_starts=200 if QUICK else 1000, seed=0)
for w, value, share, is_global in zip(ms.minima.points[:, 0], ms.minima.values,
                                      ms.minima.shares, ms.minima.is_global):
    label = "GLOBAL" if is_global else ""
    print(f"  w = {w:8.4f}  cost {value:.4f}  {share:6.1%} of starts  {label}")
print(f"starts needed for 99% confidence: {ms.starts_for_99:.0f}")
save(gl.plot.basins(gl.basin_map(sine, num=200), cost=sine), "basins.png")
