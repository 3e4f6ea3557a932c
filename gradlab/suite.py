"""The built-in costs: the course's three, and classic test functions of the literature.

Each comes with bounds, every global minimum (location and value to full
precision, checked by the registry's contract test), shape tags and an analytic
gradient. The n-dimensional ones are factories (``rosenbrock(d=5)``); the
registry holds their 2-D instances under the plain name.

References: Jamil & Yang (2013), "A literature survey of benchmark functions
for global optimisation problems"; Surjanovic & Bingham, Virtual Library of
Simulation Experiments. Values were re-derived here (e.g. Styblinski-Tang's
minimum is -39.16616570377142·d, not the -39.16599·d some tables print).
"""

from __future__ import annotations

import math

import jax.numpy as jnp
import numpy as np

from gradlab import datasets, models
from gradlab.costs import Cost, Minimum, register_factory

PI = math.pi


# -- the course -----------------------------------------------------------------
def _bowl(p):
    return (p[0] - 2.0) ** 2 + (p[1] + 3.0) ** 2


def _bowl_grad(p):
    return jnp.stack([2.0 * (p[0] - 2.0), 2.0 * (p[1] + 3.0)])


def bowl() -> Cost:
    """The course's bowl ``(m − 2)² + (b + 3)²``: one minimum at (2, −3)."""
    return Cost("bowl", _bowl, bounds=[(-5.0, 5.0), (-5.0, 0.0)], grad=_bowl_grad,
                minima=[Minimum([2.0, -3.0], 0.0)], names=("m", "b"),
                tags={"course", "bowl", "convex", "quadratic"},
                description="(m-2)^2 + (b+3)^2, the course's bowl")


def _line_grad(p, data):
    r = models.linear(p, data.x) - data.y
    return jnp.stack([2.0 * jnp.mean(r * data.x), 2.0 * jnp.mean(r)])


def line(n: int = 100, noise: float = 0.25, seed: int = 0) -> Cost:
    """MSE of ``m·x + b`` on the course's noisy line (true line ``y = 2x − 3``)."""
    data = datasets.line(n=n, noise=noise, seed=seed)
    x, y = np.asarray(data.x, float), np.asarray(data.y, float)
    design = np.stack([x, np.ones_like(x)], axis=1)
    best, *_ = np.linalg.lstsq(design, y, rcond=None)  # the closed form, in float64
    f_best = float(np.mean((design @ best - y) ** 2))
    return models.fit_cost(models.linear, data, bounds=[(-5.0, 5.0), (-5.0, 0.0)], name="line",
                           grad=_line_grad, minima=[Minimum(best, f_best)], names=("m", "b"),
                           tags={"course", "bowl", "convex", "quadratic", "fit"},
                           description="MSE of y = m*x + b on noisy data from y = 2x - 3")


def _sine_grad(p, data):
    wx = p[0] * data.x
    return jnp.stack([2.0 * jnp.mean((jnp.sin(wx) - data.y) * jnp.cos(wx) * data.x)])


def sine(n: int = 500, w: float = 10.0) -> Cost:
    """MSE of ``sin(w·x)`` against ``sin(10x)``: many local minima, the global one at w = 10."""
    return models.fit_cost(models.sine, datasets.sine(n=n, w=w), bounds=[(0.0, 50.0)],
                           name="sine", grad=_sine_grad, minima=[Minimum([w], 0.0)],
                           names=("w",), tags={"course", "many-local-minima", "fit"},
                           description="MSE of sin(w*x) against sin(10x) on 500 points")


# -- n-dimensional test functions -------------------------------------------------
def _sphere(x):
    return jnp.sum(x**2)


def _sphere_grad(x):
    return 2.0 * x


def sphere(d: int = 2) -> Cost:
    return Cost("sphere" if d == 2 else f"sphere-{d}d", _sphere, bounds=[(-5.12, 5.12)] * d,
                grad=_sphere_grad, minima=[Minimum(np.zeros(d), 0.0)],
                tags={"bowl", "convex", "quadratic"}, description="sum of x_i^2")


def _rosenbrock(x):
    return jnp.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)


def _rosenbrock_grad(x):
    inner = x[1:] - x[:-1] ** 2
    g = jnp.zeros_like(x)
    g = g.at[:-1].add(-400.0 * x[:-1] * inner - 2.0 * (1.0 - x[:-1]))
    return g.at[1:].add(200.0 * inner)


def rosenbrock(d: int = 2) -> Cost:
    return Cost("rosenbrock" if d == 2 else f"rosenbrock-{d}d", _rosenbrock,
                bounds=[(-2.048, 2.048)] * d, grad=_rosenbrock_grad,
                minima=[Minimum(np.ones(d), 0.0)], tags={"valley"},
                description="the banana valley; minimum at (1, ..., 1)")


def _rastrigin(x):
    return 10.0 * x.size + jnp.sum(x**2 - 10.0 * jnp.cos(2 * PI * x))


def _rastrigin_grad(x):
    return 2.0 * x + 20.0 * PI * jnp.sin(2 * PI * x)


def rastrigin(d: int = 2) -> Cost:
    return Cost("rastrigin" if d == 2 else f"rastrigin-{d}d", _rastrigin,
                bounds=[(-5.12, 5.12)] * d, grad=_rastrigin_grad,
                minima=[Minimum(np.zeros(d), 0.0)], tags={"many-local-minima"},
                description="a bowl covered in regularly spaced local minima")


def _safe_norm_rms(x):
    """sqrt(mean(x²)) with gradient 0 (a valid subgradient) at the origin, not NaN."""
    s = jnp.mean(x**2)
    positive = s > 0
    return jnp.where(positive, jnp.sqrt(jnp.where(positive, s, 1.0)), 0.0)


def _ackley(x):
    r = _safe_norm_rms(x)
    return (-20.0 * jnp.exp(-0.2 * r) - jnp.exp(jnp.mean(jnp.cos(2 * PI * x)))
            + 20.0 + math.e)


def _ackley_grad(x):
    d = x.size
    r = _safe_norm_rms(x)
    radial = jnp.where(r > 0, 4.0 * jnp.exp(-0.2 * r) * x / (d * jnp.where(r > 0, r, 1.0)), 0.0)
    wave = jnp.exp(jnp.mean(jnp.cos(2 * PI * x))) * 2 * PI * jnp.sin(2 * PI * x) / d
    return radial + wave


def ackley(d: int = 2) -> Cost:
    return Cost("ackley" if d == 2 else f"ackley-{d}d", _ackley,
                bounds=[(-32.768, 32.768)] * d, grad=_ackley_grad,
                minima=[Minimum(np.zeros(d), 0.0)],
                tags={"many-local-minima", "nonsmooth-minimum"},
                description="a nearly flat plate with a deep hole at 0 (a kink there)")


_ST_X = -2.9035340277711770951  # the root of 4x³ − 32x + 5 in [−5, 5] with the lowest value
_ST_F = -39.166165703771415464  # per dimension


def _styblinski_tang(x):
    return 0.5 * jnp.sum(x**4 - 16.0 * x**2 + 5.0 * x)


def _styblinski_tang_grad(x):
    return 2.0 * x**3 - 16.0 * x + 2.5


def styblinski_tang(d: int = 2) -> Cost:
    return Cost("styblinski-tang" if d == 2 else f"styblinski-tang-{d}d", _styblinski_tang,
                bounds=[(-5.0, 5.0)] * d, grad=_styblinski_tang_grad,
                minima=[Minimum(np.full(d, _ST_X), _ST_F * d)],
                tags={"many-local-minima"}, description="2^d local minima; global at x_i = -2.9035")


def _levy(x):
    w = 1.0 + (x - 1.0) / 4.0
    head = jnp.sin(PI * w[0]) ** 2
    body = jnp.sum((w[:-1] - 1.0) ** 2 * (1.0 + 10.0 * jnp.sin(PI * w[:-1] + 1.0) ** 2))
    tail = (w[-1] - 1.0) ** 2 * (1.0 + jnp.sin(2 * PI * w[-1]) ** 2)
    return head + body + tail


def _levy_grad(x):
    w = 1.0 + (x - 1.0) / 4.0
    g = jnp.zeros_like(w).at[0].add(PI * jnp.sin(2 * PI * w[0]))
    v = w[:-1]
    g = g.at[:-1].add(2.0 * (v - 1.0) * (1.0 + 10.0 * jnp.sin(PI * v + 1.0) ** 2)
                      + (v - 1.0) ** 2 * 10.0 * PI * jnp.sin(2.0 * (PI * v + 1.0)))
    u = w[-1]
    g = g.at[-1].add(2.0 * (u - 1.0) * (1.0 + jnp.sin(2 * PI * u) ** 2)
                     + (u - 1.0) ** 2 * 2 * PI * jnp.sin(4 * PI * u))
    return g / 4.0


def levy(d: int = 2) -> Cost:
    return Cost("levy" if d == 2 else f"levy-{d}d", _levy, bounds=[(-10.0, 10.0)] * d,
                grad=_levy_grad, minima=[Minimum(np.ones(d), 0.0)],
                tags={"many-local-minima"}, description="rippled valleys; minimum at (1, ..., 1)")


# -- two-dimensional test functions -------------------------------------------------
def _himmelblau(p):
    x, y = p[0], p[1]
    return (x**2 + y - 11.0) ** 2 + (x + y**2 - 7.0) ** 2


def _himmelblau_grad(p):
    x, y = p[0], p[1]
    a, b = x**2 + y - 11.0, x + y**2 - 7.0
    return jnp.stack([4.0 * x * a + 2.0 * b, 2.0 * a + 4.0 * y * b])


def himmelblau() -> Cost:
    minima = [Minimum([3.0, 2.0], 0.0),
              Minimum([-2.8051180869527448531, 3.1313125182505729658], 0.0),
              Minimum([-3.7793102533777468919, -3.2831859912861694123], 0.0),
              Minimum([3.5844283403304917449, -1.8481265269644035535], 0.0)]
    return Cost("himmelblau", _himmelblau, bounds=[(-5.0, 5.0)] * 2, grad=_himmelblau_grad,
                minima=minima, tags={"multiple-global-minima"},
                description="four global minima of value 0")


def _booth(p):
    x, y = p[0], p[1]
    return (x + 2.0 * y - 7.0) ** 2 + (2.0 * x + y - 5.0) ** 2


def _booth_grad(p):
    a, b = p[0] + 2.0 * p[1] - 7.0, 2.0 * p[0] + p[1] - 5.0
    return jnp.stack([2.0 * a + 4.0 * b, 4.0 * a + 2.0 * b])


def booth() -> Cost:
    return Cost("booth", _booth, bounds=[(-10.0, 10.0)] * 2, grad=_booth_grad,
                minima=[Minimum([1.0, 3.0], 0.0)], tags={"bowl", "convex", "quadratic"},
                description="a tilted quadratic bowl; minimum at (1, 3)")


def _beale(p):
    x, y = p[0], p[1]
    return ((1.5 - x + x * y) ** 2 + (2.25 - x + x * y**2) ** 2
            + (2.625 - x + x * y**3) ** 2)


def _beale_grad(p):
    x, y = p[0], p[1]
    t1, t2, t3 = 1.5 - x + x * y, 2.25 - x + x * y**2, 2.625 - x + x * y**3
    gx = 2 * t1 * (y - 1) + 2 * t2 * (y**2 - 1) + 2 * t3 * (y**3 - 1)
    gy = 2 * t1 * x + 4 * t2 * x * y + 6 * t3 * x * y**2
    return jnp.stack([gx, gy])


def beale() -> Cost:
    return Cost("beale", _beale, bounds=[(-4.5, 4.5)] * 2, grad=_beale_grad,
                minima=[Minimum([3.0, 0.5], 0.0)], tags={"valley"},
                description="sharp ridges and flat corners; minimum at (3, 0.5)")


def _matyas(p):
    return 0.26 * (p[0] ** 2 + p[1] ** 2) - 0.48 * p[0] * p[1]


def _matyas_grad(p):
    return jnp.stack([0.52 * p[0] - 0.48 * p[1], 0.52 * p[1] - 0.48 * p[0]])


def matyas() -> Cost:
    return Cost("matyas", _matyas, bounds=[(-10.0, 10.0)] * 2, grad=_matyas_grad,
                minima=[Minimum([0.0, 0.0], 0.0)], tags={"bowl", "convex", "quadratic", "flat"},
                description="a nearly flat, ill-conditioned bowl; minimum at (0, 0)")


def _three_hump_camel(p):
    x, y = p[0], p[1]
    return 2.0 * x**2 - 1.05 * x**4 + x**6 / 6.0 + x * y + y**2


def _three_hump_camel_grad(p):
    x, y = p[0], p[1]
    return jnp.stack([4.0 * x - 4.2 * x**3 + x**5 + y, x + 2.0 * y])


def three_hump_camel() -> Cost:
    return Cost("three-hump-camel", _three_hump_camel, bounds=[(-5.0, 5.0)] * 2,
                grad=_three_hump_camel_grad, minima=[Minimum([0.0, 0.0], 0.0)],
                tags={"many-local-minima"}, description="three humps; minimum at (0, 0)")


BUILTINS = {
    "bowl": bowl, "line": line, "sine": sine,
    "sphere": sphere, "rosenbrock": rosenbrock, "rastrigin": rastrigin, "ackley": ackley,
    "styblinski-tang": styblinski_tang, "levy": levy, "himmelblau": himmelblau,
    "booth": booth, "beale": beale, "matyas": matyas, "three-hump-camel": three_hump_camel,
}

for _name, _factory in BUILTINS.items():
    register_factory(_name, _factory)
