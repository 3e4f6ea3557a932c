"""Check a hand-derived gradient against jax.grad and finite differences — and catch a wrong one."""

import jax.numpy as jnp
from _common import save  # noqa: F401  (sets float64 and the Agg backend)

import gradlab as gl


def fn(p):
    return jnp.sin(p[0]) * p[1] ** 2


def grad(p):
    return jnp.array([jnp.cos(p[0]) * p[1] ** 2, 2 * jnp.sin(p[0]) * p[1]])


def wrong_grad(p):
    return jnp.array([jnp.cos(p[0]) * p[1] ** 2, 2.02 * jnp.sin(p[0]) * p[1]])  # 1% off


mine = gl.Cost("sin-times-square", fn, bounds=[(-3, 3), (-2, 2)], grad=grad)
check = gl.check_gradient(mine, n=10)
print(f"right gradient: passed={check.passed}, max relative error {float(check.max_rel_error):.1e}")
bad = gl.check_gradient(mine.replace(grad=wrong_grad), n=10)
print(f"wrong gradient: passed={bad.passed}, "
      f"max relative error {float(jnp.nanmax(bad.analytic_rel_error)):.1e}")
assert check.passed and not bad.passed
