"""How batch programs are compiled (`gradlab._compile`): a run's bits do not depend on its batch."""

import jax
import jax.numpy as jnp
import numpy as np

from gradlab._compile import loop_jit


def _rosenbrock(x):
    return jnp.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)


def test_a_batch_program_computes_every_row_with_the_same_code():
    # the smallest case found: with XLA:CPU's LLVM IR emitters vectorised, `x1 - x0**2`
    # took two roundings in the vector loop and one (an FMA) in its remainder, so a
    # start's gradient depended on the batch's size (9 of these 12 sizes differed)
    gradients = loop_jit(jax.vmap(jax.grad(_rosenbrock)), vectorize=False)
    starts = np.random.default_rng(5).uniform(-2.048, 2.048, (300, 2)).astype(np.float32)
    whole = np.asarray(gradients(starts))
    for n in (1, 2, 5, 9, 16, 17, 33, 38, 40, 63, 65, 299):
        np.testing.assert_array_equal(np.asarray(gradients(starts[:n])), whole[:n])
