"""How batch programs are compiled (`gradlab._compile`): a run's bits do not depend on its batch."""

import functools

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax

import gradlab as gl
from gradlab import costs, descent
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


# -- kernels XLA:CPU picks by size ----------------------------------------------------------------
def _wavy(p):  # 5 parameters: each run's value and gradient reduce over 5 numbers
    return jnp.sum(p ** 2) / 10 + jnp.sum(jnp.sin(3 * p)) + 0.3 * jnp.sum(p[:-1] * p[1:])


def test_no_kernel_of_a_batch_program_is_chosen_by_the_batch_s_size():
    # jaxlib 0.10's XLA:CPU gives a reduction over 4,096 values or more to YNNPACK, which
    # adds in another order than XLA's own loop (here from 1,000 runs of 5 parameters on),
    # and cuts a large loop into pieces for its thread pool, whose bounds follow the batch
    # (an L-BFGS multistart of 5,504 starts ended elsewhere than one of 5,500); a batch
    # program is compiled with neither (`gradlab._compile.cpu_options`)
    starts = np.random.default_rng(5).uniform(-3, 3, (20_000, 5)).astype(np.float32)
    value_and_grad = jax.vmap(jax.value_and_grad(_wavy))
    default = jax.jit(value_and_grad).lower(starts).compile().as_text()
    assert "ynn" in default and "outer_dimension_partitions" in default  # what XLA writes
    batch = loop_jit(value_and_grad, vectorize=False)
    first = jax.tree.map(np.asarray, batch(starts[:8]))
    for n in (1_000, 5_000, 20_000):
        chex.assert_trees_all_equal(jax.tree.map(lambda a: np.asarray(a)[:8], batch(starts[:n])),
                                    first)
    # gradlab's batch program itself, 10⁴ starts, L-BFGS
    cost = costs.as_cost(_wavy, bounds=[(-3.0, 3.0)] * 5)
    method = descent.method(optax.lbfgs())
    config, box, tols = descent.resolve_options(cost, jnp.float32, steps=5, record_every=1,
                                                bounds=None)
    compiled = descent._descend_many.lower(
        cost.objective, jnp.asarray(starts[:10_000]), None, box, tols, None,
        method=method, config=config).compile().as_text()
    assert "ynn" not in compiled and "outer_dimension_partitions" not in compiled


def test_a_run_in_a_batch_of_thousands_is_the_same_as_alone():
    # trust-region Newton, float32: groups of 825 runs (6,600 / 8) held 4,125 values of 5
    # parameters, past YNNPACK's 4,096, and these runs ended elsewhere than alone
    starts = jnp.asarray(np.random.default_rng(5).uniform(-3, 3, (6_600, 5)), jnp.float32)
    run = functools.partial(gl.multistart, _wavy, bounds=[(-3.0, 3.0)] * 5, steps=30,
                            optimizer=gl.optimizers.trust_newton())
    big = run(starts=starts).trajectories
    for i in (1, 15, 140):
        chex.assert_trees_all_equal(jax.tree.map(lambda a, i=i: a[i:i + 1], big),
                                    run(starts=starts[i:i + 1]).trajectories)
