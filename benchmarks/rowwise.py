"""What writing a cost's matrix products out (`gradlab._rowwise`) costs a batch of descents.

`gl.multistart`'s program (`gradlab.descent._descend_many`) on costs with and
without matrix products, compiled two ways with the batch's own XLA options:
``rowwise`` (what gradlab runs: products with a contraction of at most
`gradlab._rowwise.MAX_CONTRACTION` as elementwise products and sums, so a run's
bits do not depend on its batch) and ``as written`` (the cost's ``dot_general``
left to XLA's kernels). Compiles take turns round after round (JAX's
persistent cache off); then the two programs are called in turns
(`benchmarks.harness.time_interleaved`). Medians; ratios against ``as written``.

  python -m benchmarks.rowwise [--rounds 3] [--repeats 15] [--cases quadratic-5 ...]
"""

from __future__ import annotations

import contextlib

import jax
import numpy as np

from benchmarks.batch_compile import batch_call, compare, run_cases
from gradlab._compile import cpu_options


def _cases() -> dict:
    """name: (cost, gl.multistart's keyword arguments); float64 data, as the course's."""
    import jax.numpy as jnp
    import optax

    import gradlab as gl

    rng = np.random.default_rng(0)

    def quadratic(d):
        a = rng.normal(size=(d, d))
        a = a @ a.T / d + np.eye(d)
        return gl.Cost(f"quadratic-{d}", lambda p: 0.5 * p @ a @ p + 0.01 * jnp.sum(p**4),
                       bounds=[(-1.0, 1.0)] * d)

    x = rng.normal(size=(500, 4))
    y = x @ np.array([1.0, -2.0, 0.5, 3.0]) + 0.1 * rng.normal(size=500)
    design = gl.Cost("design-500x4", lambda p: jnp.mean((x @ p - y) ** 2),
                     bounds=[(-5.0, 5.0)] * 4)
    return {
        "quadratic-5": (quadratic(5), {"n_starts": 1000}),
        "design-500x4": (design, {"n_starts": 1000}),
        "quadratic-16": (quadratic(16), {"n_starts": 200, "optimizer": optax.lbfgs()}),
        "quadratic-32": (quadratic(32), {"n_starts": 200, "optimizer": optax.lbfgs()}),
        "quadratic-64": (quadratic(64), {"n_starts": 200, "optimizer": optax.lbfgs()}),
        "rosenbrock": ("rosenbrock", {"n_starts": 1000}),  # no products: tracing alone
    }


@contextlib.contextmanager
def _as_written():
    from gradlab import _rowwise

    real, _rowwise.objective = _rowwise.objective, lambda objective: objective
    try:
        yield
    finally:
        _rowwise.objective = real


def measure(cost, kwargs: dict, rounds: int, repeats: int) -> dict:
    options = cpu_options(vectorize=False)
    variants = {"as written": (options, _as_written), "rowwise": (options, contextlib.nullcontext)}
    return compare(*batch_call(cost, kwargs), variants, rounds, repeats)


def main() -> None:
    jax.config.update("jax_enable_x64", True)
    cases = _cases()
    run_cases(__doc__, list(cases),
              lambda case, rounds, repeats: measure(*cases[case], rounds, repeats),
              "as written", repeats=15)


if __name__ == "__main__":
    main()
