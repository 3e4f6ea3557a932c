"""Settings for the whole test run (tests/ and the doctests in gradlab/).

No global float64 switch: float32 is JAX's default and a first-class width, so
the doctests run in it, and tests choose their width with the ``width``
fixture (tests/conftest.py) or ``jax.enable_x64``.
"""

import matplotlib

matplotlib.use("Agg")
