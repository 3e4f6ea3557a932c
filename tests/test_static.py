"""Compiled code is reused for functions that compute the same, and never for ones that do not.

gradlab keys its compiled solvers on what a library-made optimiser or cost
computes (`gradlab._static`), so ``optimizer=optax.adam(0.1)`` built afresh on
every call compiles once; a user's own function is keyed as JAX keys it. The
danger of such a key is a stale program: every pair below computes something
different (among them every way a careless or hostile user found to change
what a function reads), and the second of each pair, run right after the
first, must give exactly what it gives alone.
"""

import dataclasses
import functools
import types

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import gradlab as gl
from gradlab._static import key

SCALE = 2.0  # read as a global by some costs below; changed between two calls


settings = types.ModuleType("settings")  # a module whose attributes a cost reads
settings.SCALE, settings.CENTRE = 2.0, np.array([1.0, 1.0])


def _setting(name, value):
    def run():
        setattr(settings, name, value)
        if name == "SCALE":  # a number: keyed by value
            return lambda p: settings.SCALE * jnp.sum(p * p)
        return lambda p: jnp.sum((p - settings.CENTRE) ** 2)  # an array: by identity
    return run


def _scaled(p):  # a module-level helper that reads a global
    return SCALE * jnp.sum(p * p)


def _with_scale(value, make):
    def run():
        global SCALE
        SCALE = value
        return make()
    return run


def _closure(c):
    return lambda p: jnp.sum((p - c) ** 2)


def _signed(zero):  # atan2(±0, −1) = ±π
    return lambda p: jnp.sum(p * p) + jnp.arctan2(zero, -1.0)


def _capturing(array):
    return lambda p: jnp.sum((p - array[:2]) ** 2)


shared = np.array([1.0, 2.0])
listed = [1.0]


def _tagged(tag):
    def f(p):
        return jnp.sum(p * p) * (3.0 if getattr(f, "tag", None) == "steep" else 1.0)
    f.tag = tag
    return f


def _mutate(array, value):
    def run():
        array[0] = value
        return _capturing(array)
    return run


def _append(value):
    def run():
        listed[0] = value
        return lambda p: jnp.sum((p - listed[0]) ** 2)
    return run


class Config:  # a "config class" read by a cost
    scale = 1.0


def _class_attr(value):
    def run():
        Config.scale = value
        return lambda p: Config.scale * jnp.sum((p - 1.0) ** 2)
    return run


class _Table:  # like a pandas DataFrame: hashing it raises
    def __init__(self, c):
        self.c = c

    __hash__ = None


@dataclasses.dataclass(frozen=True, eq=False)
class _FrozenCost:  # a frozen callable holding state that can change
    table: _Table

    def __call__(self, p):
        return jnp.sum((p - self.table.c) ** 2) * SCALE


def _frozen(c):
    return lambda: _FrozenCost(_Table(c))


def _nested(depth, centre):  # a cost of many nested closures
    def make():
        f = lambda p: jnp.sum((p - centre) ** 2)
        for _ in range(depth):
            f = (lambda g: lambda p: g(p) * 1.0)(f)
        return f
    return make


def _getter(value):
    def run():
        table = {"c": value}
        get = table.get
        return lambda p: jnp.sum((p - get("c")) ** 2)
    return run


# (name, first, second): each makes a cost or an optimiser; both run on the bowl-like cost
PAIRS = [
    ("adam's learning rate", lambda: optax.adam(0.1), lambda: optax.adam(0.2)),
    ("sgd with momentum", lambda: optax.sgd(0.1), lambda: optax.sgd(0.1, momentum=0.9)),
    ("a schedule", lambda: optax.sgd(optax.constant_schedule(0.1)),
     lambda: optax.sgd(optax.exponential_decay(0.1, 5, 0.5))),
    ("a chain's order", lambda: optax.chain(optax.clip(0.5), optax.scale(-0.1)),
     lambda: optax.chain(optax.scale(-0.1), optax.clip(0.5))),
    ("a captured number", lambda: _closure(1.0), lambda: _closure(2.0)),
    ("a captured int, then float", lambda: _closure(1), lambda: _closure(1.5)),
    ("zero, then minus zero", lambda: _signed(0.0), lambda: _signed(-0.0)),
    ("a default argument", lambda: (lambda p, c=1.0: jnp.sum((p - c) ** 2)),
     lambda: (lambda p, c=3.0: jnp.sum((p - c) ** 2))),
    ("a global changed", _with_scale(2.0, lambda: (lambda p: _scaled(p))),
     _with_scale(5.0, lambda: (lambda p: _scaled(p)))),
    ("a numpy array changed in place", _mutate(shared, 1.0), _mutate(shared, -3.0)),
    ("a module's number changed", _setting("SCALE", 2.0), _setting("SCALE", 7.0)),
    ("a module's array replaced", _setting("CENTRE", np.array([1.0, 1.0])),
     _setting("CENTRE", np.array([0.0, 3.0]))),
    ("a list changed in place", _append(1.0), _append(4.0)),
    ("a function attribute", lambda: _tagged("flat"), lambda: _tagged("steep")),
    ("a class attribute changed", _class_attr(1.0), _class_attr(5.0)),
    ("a frozen callable holding state", _frozen(1.0), _frozen(-2.0)),
    ("a cost of 600 nested closures", _nested(600, 1.0), _nested(600, 2.0)),
    ("a builtin bound method", _getter(1.0), _getter(3.0)),
    ("a NaN, then a NaN of the other sign", lambda: _signed(float("nan")),
     lambda: (lambda p: jnp.sum(p * p) + jnp.copysign(1.0, -float("nan")))),
    ("optax's schedule", lambda: optax.adam(optax.linear_schedule(0.1, 0.0, 10)),
     lambda: optax.adam(optax.linear_schedule(0.1, 0.0, 20))),
    ("a partial's argument", lambda: functools.partial(lambda p, c: jnp.sum((p - c) ** 2), c=1.0),
     lambda: functools.partial(lambda p, c: jnp.sum((p - c) ** 2), c=2.0)),
]


def _run(made):
    x0 = jnp.array([0.5, -1.5])
    if isinstance(made, optax.GradientTransformation):
        traj = gl.descend("bowl", x0, optimizer=made, steps=30)
    else:
        traj = gl.descend(made, x0, learning_rate=0.1, steps=30)
    return [np.asarray(leaf) for leaf in jax.tree.leaves(traj)]


@pytest.mark.parametrize(("first", "second"), [p[1:] for p in PAIRS], ids=[p[0] for p in PAIRS])
def test_a_new_computation_never_runs_a_stale_program(first, second):
    jax.clear_caches()
    alone = _run(second())
    jax.clear_caches()
    _run(first())
    after = _run(second())
    for a, b in zip(after, alone, strict=True):
        np.testing.assert_array_equal(a, b)
    shared[:] = [1.0, 2.0]
    listed[0] = 1.0
    settings.SCALE, settings.CENTRE = 2.0, np.array([1.0, 1.0])
    global SCALE
    SCALE = 2.0
    Config.scale = 1.0


SAME = [
    ("optax.adam(0.1)", lambda: optax.adam(0.1)),
    ("optax.lbfgs()", lambda: optax.lbfgs()),
    ("a chain with clipping", lambda: optax.chain(optax.clip_by_global_norm(1.0), optax.sgd(0.1))),
    ("a schedule", lambda: optax.sgd(optax.exponential_decay(0.1, 5, 0.5))),
    ("a fit_cost of a built-in model", lambda: gl.fit_cost(gl.models.linear,
                                                            gl.datasets.line(n=20, seed=0))),
]


@pytest.mark.parametrize("make", [s[1] for s in SAME], ids=[s[0] for s in SAME])
def test_the_same_computation_made_again_compiles_once(make, count_compiles):
    _run(make())
    with count_compiles() as c:
        _run(make())
    assert c["n"] == 0


def test_only_library_made_values_are_keyed_by_value():
    assert key(optax.adam(0.1)) == key(optax.adam(0.1)) != key(optax.adam(0.1000001))
    assert key(optax.sgd(1)) != key(optax.sgd(1.0)) != key(optax.sgd(True))
    assert key(optax.sgd(0.0)) != key(optax.sgd(-0.0))
    assert key(optax.sgd(float("nan"))) == key(optax.sgd(float("nan")))
    assert key(optax.sgd(float("nan"))) != key(optax.sgd(-float("nan")))
    made = lambda: (lambda p: p * 2.0)  # yours: never looked into
    assert key(made()) != key(made())
    f = made()
    assert key(f) == key(f)
    assert key(optax.adam(optax.linear_schedule(0.1, 0.0, 10))) == key(
        optax.adam(optax.linear_schedule(0.1, 0.0, 10)))
    assert key(optax.sgd(f)) != key(optax.sgd(made()))  # a schedule of yours: identity


def test_a_recursive_closure_is_keyed_without_a_hang():
    def make():
        def fact(n):
            return 1 if n <= 1 else n * fact(n - 1)
        return fact
    assert key(make()) != key(make())  # yours: by identity, and quickly


def _decay(p, x):
    return p[0] * jnp.exp(-p[1] * x)


def _new_fit_of_one_model():  # a new fit_cost each time, of the same model
    return gl.fit_cost(_decay, gl.datasets.line(n=20, seed=0), bounds=[(0.1, 5.0), (0.1, 3.0)])


SOLVERS = {
    "fit": lambda: gl.fit(_new_fit_of_one_model(), [1.0, 0.5]),
    "grid_search": lambda: gl.grid_search(_new_fit_of_one_model(), num=20),
    "multistart": lambda: gl.multistart(_new_fit_of_one_model(), n_starts=8, seed=0,
                                        optimizer=optax.adam(0.05), steps=20),
    "sweep_learning_rates": lambda: gl.sweep_learning_rates(
        "bowl", [0.0, 0.0], [0.1, 0.2], steps=10,
        optimizer_factory=functools.partial(optax.sgd, momentum=0.9)),
}


@pytest.mark.parametrize("call", list(SOLVERS.values()), ids=list(SOLVERS))
def test_every_solver_reuses_its_program_for_an_optimiser_or_cost_made_again(call, count_compiles):
    jax.block_until_ready(jax.tree.leaves(call()))
    with count_compiles() as c:
        jax.block_until_ready(jax.tree.leaves(call()))
    assert c["n"] == 0


class _Model:  # an object with state, and a method used as the cost
    def __init__(self, centre):
        self.centre = centre

    def cost(self, p):
        return jnp.sum((p - self.centre) ** 2)


class _ValueCost:  # a callable that says itself when two are the same (a JAX idiom)
    def __init__(self, centre):
        self.centre = centre

    def __call__(self, p):
        return jnp.sum((p - self.centre) ** 2)

    def __eq__(self, other):
        return isinstance(other, _ValueCost) and other.centre == self.centre

    def __hash__(self):
        return hash(self.centre)


def test_objects_are_keyed_as_jax_keys_them(count_compiles):
    model = _Model(1.0)
    _run(model.cost)
    with count_compiles() as c:  # a bound method is a new object at every access
        _run(model.cost)
        _run(_ValueCost(2.0))
        _run(_ValueCost(2.0))  # its own == and hash
    assert c["n"] == 1
    assert key(model.cost) != key(_Model(1.0).cost)  # another instance: it may differ
