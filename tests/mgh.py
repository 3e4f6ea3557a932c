"""The Moré–Garbow–Hillstrom (1981) unconstrained test problems, as residual functions.

J. J. Moré, B. S. Garbow, K. E. Hillstrom, "Testing unconstrained optimization software",
ACM TOMS 7 (1981): 26 least-squares problems ``F(x) = Σ rᵢ(x)²`` with their standard starts
``x0`` (the paper also uses 10·x0 and 100·x0), the known minimum values (global first, then
local ones) and, where the paper gives it, a minimiser. Written from the paper's definitions;
`tests/test_stopping.py` checks ``F(xmin)``
against the published minimum. Found with them on 2026-11-30: false successes and false
failures of the stopping rules, fixed the same day and kept as tables of cases in
test_stopping.py (`test_converged_only_where_no_solver_can_still_lower_the_cost`,
`test_a_fit_is_converged_at_a_minimum_where_the_residuals_do_not_vanish`); what is left is
in the closing notes.
"""
import jax.numpy as jnp
import numpy as np

P = {}  # name -> dict(r, x0, fmins (list of known local/global minimum values), xmin (optional))


def prob(name, x0, fmins, xmin=None):
    def deco(r):
        P[name] = dict(r=r, x0=np.asarray(x0, float), fmins=fmins, xmin=xmin)
        return r
    return deco


@prob("freudenstein_roth", [0.5, -2.0], [0.0, 48.9842536792400], xmin=[5.0, 4.0])
def froth(x):
    x1, x2 = x[0], x[1]
    return jnp.stack([-13 + x1 + ((5 - x2) * x2 - 2) * x2, -29 + x1 + ((x2 + 1) * x2 - 14) * x2])


@prob("powell_badly_scaled", [0.0, 1.0], [0.0], xmin=[1.098159e-5, 9.106146])
def pbs(x):
    return jnp.stack([1e4 * x[0] * x[1] - 1, jnp.exp(-x[0]) + jnp.exp(-x[1]) - 1.0001])


@prob("brown_badly_scaled", [1.0, 1.0], [0.0], xmin=[1e6, 2e-6])
def bbs(x):
    return jnp.stack([x[0] - 1e6, x[1] - 2e-6, x[0] * x[1] - 2])


@prob("beale", [1.0, 1.0], [0.0], xmin=[3.0, 0.5])
def beale(x):
    y = jnp.array([1.5, 2.25, 2.625], x.dtype)
    i = jnp.arange(1, 4)
    return y - x[0] * (1 - x[1] ** i)


@prob("jennrich_sampson", [0.3, 0.4], [124.362182355], xmin=[0.257825, 0.257825])
def js(x):
    i = jnp.arange(1, 11).astype(x.dtype)
    return 2 + 2 * i - (jnp.exp(i * x[0]) + jnp.exp(i * x[1]))


@prob("helical_valley", [-1.0, 0.0, 0.0], [0.0], xmin=[1.0, 0.0, 0.0])
def helical(x):
    x1, x2, x3 = x[0], x[1], x[2]
    safe = jnp.where(x1 == 0, 1.0, x1)
    th = jnp.arctan(x2 / safe) / (2 * jnp.pi)
    th = jnp.where(x1 < 0, th + 0.5, th)
    th = jnp.where(x1 == 0, jnp.sign(x2) * 0.25, th)
    return jnp.stack([10 * (x3 - 10 * th), 10 * (jnp.sqrt(x1 ** 2 + x2 ** 2) - 1), x3])


_bard_y = [0.14, 0.18, 0.22, 0.25, 0.29, 0.32, 0.35, 0.39, 0.37, 0.58, 0.73, 0.96, 1.34, 2.10, 4.39]


@prob("bard", [1.0, 1.0, 1.0], [8.21487730657e-3, 17.4286])
def bard(x):
    y = jnp.array(_bard_y, x.dtype)
    u = jnp.arange(1, 16).astype(x.dtype)
    v = 16 - u
    w = jnp.minimum(u, v)
    return y - (x[0] + u / (v * x[1] + w * x[2]))


_gauss_y = [0.0009, 0.0044, 0.0175, 0.0540, 0.1295, 0.2420, 0.3521, 0.3989, 0.3521, 0.2420,
            0.1295, 0.0540, 0.0175, 0.0044, 0.0009]


@prob("gaussian", [0.4, 1.0, 0.0], [1.12793276961e-8])
def gaussian(x):
    y = jnp.array(_gauss_y, x.dtype)
    t = (8 - jnp.arange(1, 16).astype(x.dtype)) / 2
    return x[0] * jnp.exp(-x[1] * (t - x[2]) ** 2 / 2) - y


_meyer_y = [34780, 28610, 23650, 19630, 16370, 13720, 11540, 9744, 8261, 7030, 6005, 5147, 4427,
            3820, 3307, 2872]


@prob("meyer", [0.02, 4000.0, 250.0], [87.9458551], xmin=[0.00560963647, 6181.34635, 345.223635])
def meyer(x):
    y = jnp.array(_meyer_y, x.dtype)
    t = 45 + 5 * jnp.arange(1, 17).astype(x.dtype)
    return x[0] * jnp.exp(x[1] / (t + x[2])) - y


@prob("gulf", [5.0, 2.5, 0.15], [0.0], xmin=[50.0, 25.0, 1.5])
def gulf(x):
    t = jnp.arange(1, 11).astype(x.dtype) / 100
    y = 25 + (-50 * jnp.log(t)) ** (2.0 / 3.0)
    return jnp.exp(-jnp.abs(y - x[1]) ** x[2] / x[0]) - t


@prob("box3d", [0.0, 10.0, 20.0], [0.0], xmin=[1.0, 10.0, 1.0])
def box3d(x):
    t = 0.1 * jnp.arange(1, 11).astype(x.dtype)
    return jnp.exp(-t * x[0]) - jnp.exp(-t * x[1]) - x[2] * (jnp.exp(-t) - jnp.exp(-10 * t))


@prob("powell_singular", [3.0, -1.0, 0.0, 1.0], [0.0], xmin=[0.0, 0.0, 0.0, 0.0])
def psing(x):
    return jnp.stack([x[0] + 10 * x[1], jnp.sqrt(5.0) * (x[2] - x[3]), (x[1] - 2 * x[2]) ** 2,
                      jnp.sqrt(10.0) * (x[0] - x[3]) ** 2])


@prob("wood", [-3.0, -1.0, -3.0, -1.0], [0.0], xmin=[1.0, 1.0, 1.0, 1.0])
def wood(x):
    return jnp.stack([10 * (x[1] - x[0] ** 2), 1 - x[0], jnp.sqrt(90.0) * (x[3] - x[2] ** 2),
                      1 - x[2], jnp.sqrt(10.0) * (x[1] + x[3] - 2),
                      (x[1] - x[3]) / jnp.sqrt(10.0)])


_ko_y = [0.1957, 0.1947, 0.1735, 0.1600, 0.0844, 0.0627, 0.0456, 0.0342, 0.0323, 0.0235, 0.0246]
_ko_u = [4.0, 2.0, 1.0, 0.5, 0.25, 0.167, 0.125, 0.1, 0.0833, 0.0714, 0.0625]


@prob("kowalik_osborne", [0.25, 0.39, 0.415, 0.39], [3.07505603849e-4, 1.02734e-3])
def ko(x):
    y = jnp.array(_ko_y, x.dtype)
    u = jnp.array(_ko_u, x.dtype)
    return y - x[0] * (u ** 2 + u * x[1]) / (u ** 2 + u * x[2] + x[3])


@prob("brown_dennis", [25.0, 5.0, -5.0, -1.0], [85822.2016263563])
def bd(x):
    t = jnp.arange(1, 21).astype(x.dtype) / 5
    return (x[0] + t * x[1] - jnp.exp(t)) ** 2 + (x[2] + x[3] * jnp.sin(t) - jnp.cos(t)) ** 2


_os1_y = [0.844, 0.908, 0.932, 0.936, 0.925, 0.908, 0.881, 0.850, 0.818, 0.784, 0.751, 0.718,
          0.685, 0.658, 0.628, 0.603, 0.580, 0.558, 0.538, 0.522, 0.506, 0.490, 0.478, 0.467,
          0.457, 0.448, 0.438, 0.431, 0.424, 0.420, 0.414, 0.411, 0.406]


@prob("osborne1", [0.5, 1.5, -1.0, 0.01, 0.02], [5.46489469748e-5])
def os1(x):
    y = jnp.array(_os1_y, x.dtype)
    t = 10 * jnp.arange(33).astype(x.dtype)
    return y - (x[0] + x[1] * jnp.exp(-t * x[3]) + x[2] * jnp.exp(-t * x[4]))


@prob("biggs_exp6", [1.0, 2.0, 1.0, 1.0, 1.0, 1.0], [0.0, 5.65565e-3], xmin=[1, 10, 1, 5, 4, 3])
def biggs(x):
    t = 0.1 * jnp.arange(1, 14).astype(x.dtype)
    y = jnp.exp(-t) - 5 * jnp.exp(-10 * t) + 3 * jnp.exp(-4 * t)
    return (x[2] * jnp.exp(-t * x[0]) - x[3] * jnp.exp(-t * x[1]) + x[5] * jnp.exp(-t * x[4])
            - y)


_os2_y = [1.366, 1.191, 1.112, 1.013, 0.991, 0.885, 0.831, 0.847, 0.786, 0.725, 0.746, 0.679,
          0.608, 0.655, 0.616, 0.606, 0.602, 0.626, 0.651, 0.724, 0.649, 0.649, 0.694, 0.644,
          0.624, 0.661, 0.612, 0.558, 0.533, 0.495, 0.500, 0.423, 0.395, 0.375, 0.372, 0.391,
          0.396, 0.405, 0.428, 0.429, 0.523, 0.562, 0.607, 0.653, 0.672, 0.708, 0.633, 0.668,
          0.645, 0.632, 0.591, 0.559, 0.597, 0.625, 0.739, 0.710, 0.729, 0.720, 0.636, 0.581,
          0.428, 0.292, 0.162, 0.098, 0.054]


@prob("osborne2", [1.3, 0.65, 0.65, 0.7, 0.6, 3, 5, 7, 2, 4.5, 5.5], [4.01377362935e-2])
def os2(x):
    y = jnp.array(_os2_y, x.dtype)
    t = jnp.arange(65).astype(x.dtype) / 10
    return y - (x[0] * jnp.exp(-t * x[4]) + x[1] * jnp.exp(-(t - x[8]) ** 2 * x[5])
                + x[2] * jnp.exp(-(t - x[9]) ** 2 * x[6])
                + x[3] * jnp.exp(-(t - x[10]) ** 2 * x[7]))


@prob("watson6", [0.0] * 6, [2.28767005355e-3])
def watson(x):
    n = x.shape[0]
    t = jnp.arange(1, 30).astype(x.dtype) / 29
    j = jnp.arange(n)
    s1 = jnp.sum(j[1:] * x[1:] * t[:, None] ** (j[1:] - 1), axis=1)
    s2 = jnp.sum(x * t[:, None] ** j, axis=1)
    f = s1 - s2 ** 2 - 1
    return jnp.concatenate([f, jnp.stack([x[0], x[1] - x[0] ** 2 - 1])])


@prob("penalty1", [1.0, 2.0, 3.0, 4.0], [2.24997824e-5])
def pen1(x):
    a = 1e-5
    return jnp.concatenate([jnp.sqrt(a) * (x - 1), jnp.stack([jnp.sum(x ** 2) - 0.25])])


@prob("penalty2", [0.5] * 4, [9.37629e-6])
def pen2(x):
    n = x.shape[0]
    a = 1e-5
    i = jnp.arange(2, n + 1).astype(x.dtype)
    y = jnp.exp(i / 10) + jnp.exp((i - 1) / 10)
    f2 = jnp.sqrt(a) * (jnp.exp(x[1:] / 10) + jnp.exp(x[:-1] / 10) - y)
    f3 = jnp.sqrt(a) * (jnp.exp(x[1:] / 10) - jnp.exp(-0.1))
    last = jnp.sum((n - jnp.arange(n)) * x ** 2) - 1
    return jnp.concatenate([jnp.stack([x[0] - 0.2]), f2, f3, jnp.stack([last])])


_N = 10


@prob("variably_dim", list(1 - np.arange(1, _N + 1) / _N), [0.0], xmin=[1.0] * _N)
def vardim(x):
    j = jnp.arange(1, x.shape[0] + 1).astype(x.dtype)
    s = jnp.sum(j * (x - 1))
    return jnp.concatenate([x - 1, jnp.stack([s, s ** 2])])


# 2.79506e-5 in the paper; to 12 digits by scipy's MINPACK in float64 from several starts
@prob("trigonometric", [1.0 / _N] * _N, [0.0, 2.79505612188e-5])
def trig(x):
    n = x.shape[0]
    i = jnp.arange(1, n + 1).astype(x.dtype)
    return n - jnp.sum(jnp.cos(x)) + i * (1 - jnp.cos(x)) - jnp.sin(x)


@prob("brown_almost_linear", [0.5] * _N, [0.0, 1.0])
def bal(x):
    n = x.shape[0]
    f = x[:-1] + jnp.sum(x) - (n + 1)
    return jnp.concatenate([f, jnp.stack([jnp.prod(x) - 1])])


_T = np.arange(1, _N + 1) / (_N + 1)


@prob("discrete_bv", list(_T * (_T - 1)), [0.0])
def dbv(x):
    n = x.shape[0]
    h = 1.0 / (n + 1)
    t = jnp.arange(1, n + 1).astype(x.dtype) * h
    xp = jnp.concatenate([jnp.zeros(1, x.dtype), x, jnp.zeros(1, x.dtype)])
    return 2 * x - xp[:-2] - xp[2:] + h ** 2 * (x + t + 1) ** 3 / 2


@prob("chebyquad8", list(np.arange(1, 9) / 9), [3.51687372568e-3])
def cheb(x):
    n = x.shape[0]
    m = n
    z = 2 * x - 1
    # T_0..T_m via recurrence
    T = [jnp.ones_like(z), z]
    for _ in range(2, m + 1):
        T.append(2 * z * T[-1] - T[-2])
    f = []
    for i in range(1, m + 1):
        yi = 0.0 if i % 2 else -1.0 / (i * i - 1)
        f.append(jnp.mean(T[i]) - yi)
    return jnp.stack(f)
