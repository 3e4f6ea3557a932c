"""Sharding across devices: 1 and 8 simulated CPU devices give the same answers."""

import json
import os
import subprocess
import sys

import numpy as np

SCRIPT = """
import json, jax
jax.config.update("jax_enable_x64", True)
import gradlab as gl
from gradlab import parallel
out = {"devices": parallel.device_count()}
ms = gl.multistart("himmelblau", n_starts=203, seed=4)   # 203: not a multiple of 8
out["himmelblau"] = ms.minima.points.tolist()
out["himmelblau_ends"] = ms.trajectories.x.tolist()
sine = gl.multistart("sine", n_starts=120, seed=1)
out["sine"] = sine.minima.points[:, 0].tolist()
out["sine_counts"] = sine.minima.counts.tolist()
grid = gl.grid_search("rastrigin", num=301, batch_size=1000)
out["grid"] = [grid.x.tolist(), float(grid.fun)]
sweep = gl.sweep_learning_rates("bowl", [-1.0, -1.0], [0.1, 0.5, 1.5], steps=50)
out["sweep"] = sweep.status.tolist()
print(json.dumps(out))
"""


def _run(devices):
    env = dict(os.environ, XLA_FLAGS=f"--xla_force_host_platform_device_count={devices}",
               JAX_PLATFORMS="cpu")
    proc = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True,
                          env=env, timeout=600, check=True)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_one_and_eight_devices_agree():
    one, eight = _run(1), _run(8)
    assert one["devices"] == 1 and eight["devices"] == 8
    np.testing.assert_allclose(eight["himmelblau"], one["himmelblau"], atol=1e-9)
    np.testing.assert_allclose(eight["himmelblau_ends"], one["himmelblau_ends"], atol=1e-9)
    np.testing.assert_allclose(eight["sine"], one["sine"], atol=1e-9)
    assert eight["sine_counts"] == one["sine_counts"]
    assert eight["grid"] == one["grid"]
    assert eight["sweep"] == one["sweep"] == [1, 0, 2]  # max steps, converged, diverged
