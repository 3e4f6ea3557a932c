"""Whole compiled programs kept for the command line: a second run loads one and calls it.

JAX's persistent cache (`gradlab._cache`) keeps XLA's executables, but to find
one a run must still trace and lower its program (``gradlab minimize bowl``:
0.4 s of the 0.6 s it computes). This store keeps the executable of one call
itself (`jax.experimental.serialize_executable`), under a key made of
everything that program depends on, so the next run skips tracing and lowering.

The contract:

- **Who.** Only the command line, with the compilation cache on, in one
  process on one device, and only for calls whose every input it can name
  (`descend`: a built-in cost by name, an optimiser by how the command line
  makes it, the options). A user's cost (``--cost``) is never kept: its code is
  not part of any key. ``--no-cache`` turns this store off with the cache.
- **Only what a load needs.** A static argument the call names may be given as
  a `Later`, made only if the program is traced: the command line's optimiser
  is, so a run that loads its descent imports neither optax nor the loop
  (`gradlab.descent.plan_arguments`; 0.15-0.25 s of a 1 s command).
- **A whole command** (`keeping`): the tour runs gradlab's own code on gradlab's
  own costs, so every program it calls is fixed by gradlab's source and the
  command's options. Within `keeping`, each top-level call of a program marked
  `keepable` (the descent and fit loops, the grid search, the exact solutions,
  the gradient check) goes through the store, keyed by the
  command and its options, the function, and how many programs of that
  function came before it in the block (with everything in the key below); a
  call of a program the block already has calls it again, as ``jax.jit`` would.
- **Where.** ``<cache folder>/programs/<key>.program``, beside JAX's entries;
  ``<key>.unkept`` marks a program XLA cannot serialize (the multistart's
  batch, whose grouped steps sort): it is compiled as usual, through JAX's
  cache, not afresh on every run.
- **Key** (`Store.key`): a SHA-256 of this format's version; the call (the
  function, and what the caller names: the cost, the optimiser, the options);
  the content of every file of gradlab's package (editing gradlab invalidates
  every entry); the versions of Python, JAX, jaxlib, optax, chex, numpy and
  ml_dtypes; all of JAX's configuration (the float width among it) and its
  tracing context; the backend (platform and its version, the devices, their
  topology), the host's processor, ``XLA_FLAGS`` and the compiler options; the
  arguments' tree paths, shapes and dtypes.
- **Never a different answer.** The program kept is the one ``jax.jit``
  compiles for the call: the same function, static arguments, compiler options
  and arguments. It is compiled afresh to be kept (XLA:CPU serializes an
  executable read back from JAX's cache incompletely, `_cache.compiling_afresh`).
- **Safe to share, safe to lose.** An entry is written whole or not at all
  (`gradlab._files`), by any number of processes at once. It carries the
  SHA-256 of its key and of its content: one that cannot be read, is cut
  short, damaged, made for another key, does not load or does not run is
  ignored (the call is traced and compiled as usual, and its entry replaced).
  A failed write is said once on stderr and writing stops. Like JAX's
  entries, an entry is code this user will run: the folder is the cache's,
  owned by the user and writable by no one else (`gradlab._cache.prepare`).
"""

from __future__ import annotations

import contextlib
import contextvars
import dataclasses
import functools
import hashlib
import importlib.util
import json
import os
import platform
import stat
import sys
import tempfile
import zlib
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

import jax
import numpy as np

from gradlab import _cache, _files

FORMAT = 2  # 2: the header says whether the program calls LAPACK
MAGIC = b"gradlab-program\n"
SUFFIX = ".program"
UNKEPT_SUFFIX = ".unkept"  # marks a program XLA cannot serialize: compiled as usual
SUBFOLDER = "programs"


@functools.cache
def source_digest() -> str:
    """SHA-256 of every file of gradlab's package (path and content), bytecode left out."""
    package = Path(__file__).resolve().parent
    digest = hashlib.sha256()
    for path in sorted(p for p in package.rglob("*")
                       if p.is_file() and "__pycache__" not in p.parts):
        digest.update(path.relative_to(package).as_posix().encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


@dataclasses.dataclass(frozen=True)
class Later:
    """A static argument made (``make()``) only if its program must be traced: a kept program
    is called without it. In the key it is its ``name`` alone, so the call must name what
    ``make`` makes (a command line's optimiser: ``{"optimizer": "lbfgs", "lr": None}``)."""

    name: str
    make: Callable


def _stable(value):
    """``value`` as JSON that is the same in every process (no object addresses)."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, Later):
        return f"<{value.name}, named by the call>"
    if isinstance(value, tuple | list):
        return [_stable(v) for v in value]
    text = repr(value)
    return f"<{type(value).__qualname__}>" if " at 0x" in text else text


@functools.cache
def _version(name: str) -> str | None:
    """A package's installed version (its metadata folder's name, ``optax-0.2.8.dist-info``)
    and where it is, found without importing it (chex alone takes 0.1 s to import)."""
    spec = importlib.util.find_spec(name)  # finds, does not import
    if spec is None or not spec.origin:
        return None
    package = Path(spec.origin).parent
    found = sorted(p.name for p in package.parent.glob(f"{name}-*.dist-info"))
    return ",".join([*found, str(package)])


def _versions() -> dict:
    return {"python": sys.version,
            **{name: _version(name) for name in ("jax", "jaxlib", "optax", "chex", "numpy",
                                                 "ml_dtypes")}}


@functools.cache
def _processor() -> str:
    """The host's processor model and features (Linux), or what Python knows of it."""
    described = {"machine": platform.machine()}
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as info:
            for line in info:
                name, _, value = line.partition(":")
                name = name.strip()
                if name in ("vendor_id", "model name", "flags", "Features", "CPU part"):
                    described.setdefault(name, value.strip())
                elif not line.strip() and len(described) > 1:
                    break  # the first processor is described
    except OSError:
        pass
    return json.dumps(described, sort_keys=True)


def _backend(device) -> dict:
    from jax._src.lib import xla_client

    try:
        topology = xla_client.get_topology_for_devices([device]).fingerprint()
    except Exception:  # a backend that cannot say: the devices say enough
        topology = None
    client = device.client
    return {"platform": client.platform, "version": client.platform_version,
            "device": [device.id, device.device_kind, device.process_index],
            "devices": len(jax.devices()), "processes": jax.process_count(),
            "topology": topology, "processor": _processor(),
            "XLA_FLAGS": os.environ.get("XLA_FLAGS", ""),
            "LIBTPU_INIT_ARGS": os.environ.get("LIBTPU_INIT_ARGS", "")}


def _arguments(args) -> list:
    return [[jax.tree_util.keystr(path), list(getattr(leaf, "shape", ())),
             str(jax.numpy.result_type(leaf)), bool(getattr(leaf, "weak_type", False))]
            for path, leaf in jax.tree_util.tree_flatten_with_path(args)[0]]


def _pack(key: str, payload: bytes, *, lapack: bool = False) -> bytes:
    body = zlib.compress(payload, 6)
    header = {"key": key, "sha256": hashlib.sha256(body).hexdigest(), "size": len(body),
              "lapack": lapack}
    return MAGIC + json.dumps(header, sort_keys=True).encode() + b"\n" + body


def _unpack(data: bytes, key: str) -> tuple[bytes, dict] | None:
    """The payload of an entry made for ``key``, and its header; None for anything else."""
    if not data.startswith(MAGIC):
        return None
    header, newline, body = data[len(MAGIC):].partition(b"\n")
    try:
        header = json.loads(header)
        if (not newline or header["key"] != key or header["size"] != len(body)
                or header["sha256"] != hashlib.sha256(body).hexdigest()
                or not isinstance(header.get("lapack", False), bool)):
            return None
        return zlib.decompress(body), header
    except (ValueError, KeyError, TypeError, AttributeError, zlib.error):
        return None


def _calls_lapack(compiled) -> bool:
    """Whether the program calls LAPACK (jaxlib's ``lapack_*`` kernels: ``lstsq``, ``eigh``)."""
    try:
        return "lapack_" in compiled.as_text()
    except Exception:  # cannot say: assume it does (initialising costs 0.2 s, not a crash)
        return True


def _initialize_lapack() -> None:
    """Give jaxlib's LAPACK kernels their functions (from scipy.linalg), as lowering a LAPACK
    call does: a program loaded without being lowered would call through null pointers."""
    from jax._src.lax import linalg

    linalg.initialize_lapack()


class Store:
    """The kept programs in ``folder / "programs"``; ``say`` gets a failed write's line."""

    def __init__(self, folder, *, say: Callable[[str], None] = _cache._stderr_line):
        self.folder = Path(folder) / SUBFOLDER
        self._say, self._writable = say, True

    def key(self, call: Mapping, args, static: Mapping, device) -> str:
        """The SHA-256 (hex) of everything the program of ``call`` on ``args`` depends on."""
        from jax._src import config as jax_config

        from gradlab import _compile

        document = {
            "format": FORMAT, "call": call,
            "static": {name: _stable(value) for name, value in sorted(static.items())},
            "gradlab": source_digest(), "versions": _versions(),
            "x64": bool(jax.config.jax_enable_x64),
            "config": {name: _stable(value) for name, value in sorted(jax.config.values.items())},
            "trace_context": _stable(jax_config.trace_context()),
            "backend": _backend(device), "compiler_options": _stable(_compile._quick_options()),
            "arguments": _arguments(args),
        }
        text = json.dumps(document, sort_keys=True, default=_stable)
        return hashlib.sha256(text.encode()).hexdigest()

    def _path(self, key: str) -> Path:
        return self.folder / f"{key}{SUFFIX}"

    def _trusted(self) -> bool:
        """Whether the folder is this user's own, a folder (not a link) no one else writes
        in: what `gradlab._cache.prepare` asks of the cache (an entry is code to run)."""
        try:
            info = os.lstat(self.folder)
        except OSError:
            return False
        return stat.S_ISDIR(info.st_mode) and _cache.foreign(info) is None

    def load(self, key: str, args, out_tree, device):
        """The kept program for ``key`` as a ``jax.stages.Compiled``, or None."""
        from jax.experimental import serialize_executable

        if not self._trusted():
            return None
        try:
            payload = _unpack(self._path(key).read_bytes(), key)
        except OSError:  # missing (the usual miss), or unreadable
            return None
        if payload is None:
            return None
        payload, header = payload
        try:
            if header.get("lapack", False):
                _initialize_lapack()
            compiled = serialize_executable.deserialize_and_load(
                payload, jax.tree.structure((args, {})), out_tree,
                execution_devices=[device])
            kept = [(a.shape, a.dtype) for a in jax.tree.leaves(compiled.in_avals)]
        except Exception:  # whatever the entry holds, it is not this program
            return None
        wanted = [(tuple(getattr(x, "shape", ())), jax.numpy.result_type(x))
                  for x in jax.tree.leaves(args)]
        return compiled if kept == wanted else None

    def writable(self) -> bool:
        """Whether an entry can be written now (the folder is made if need be)."""
        if not self._writable:
            return False
        try:
            self.folder.mkdir(mode=0o700, exist_ok=True)
            if not self._trusted():
                raise OSError(f"{_files.printable(self.folder)} is not a folder of this "
                              "user's that only this user writes in")
            fd, probe = tempfile.mkstemp(dir=self.folder, prefix=".gradlab-probe-")
            os.close(fd)
            os.unlink(probe)
            return True
        except OSError as err:
            self._stop(err)
            return False

    def _unkept(self, key: str) -> Path:
        return self.folder / f"{key}{UNKEPT_SUFFIX}"

    def save(self, key: str, compiled) -> bool:
        """Keep ``compiled`` under ``key``; False if it cannot be serialized or written.

        A program XLA cannot serialize (XLA:CPU's sort, ``LessThan is not
        serializable``) is marked instead, so the next run compiles it as usual,
        through JAX's cache, rather than afresh every time."""
        from jax.experimental import serialize_executable

        try:
            payload, _, _ = serialize_executable.serialize(compiled)
        except Exception:  # not kept: marked
            self.mark_unkept(key)
            return False
        try:
            _files.write_atomically(self._path(key),
                                    lambda tmp: tmp.write_bytes(
                                        _pack(key, payload, lapack=_calls_lapack(compiled))),
                                    overwrite=True)
            return True
        except OSError as err:
            self._stop(err)
            return False

    def mark_unkept(self, key: str) -> None:
        """Mark ``key``'s program as one not to keep (an empty file; any content means the same)."""
        with contextlib.suppress(OSError):
            _files.write_atomically(self._unkept(key), lambda tmp: tmp.write_bytes(b""),
                                    overwrite=True)

    def discard(self, key: str) -> None:
        try:
            self._path(key).unlink()
        except OSError:
            pass

    def _stop(self, err: OSError) -> None:
        if self._writable:
            self._writable = False
            self._say(f"kept programs: stopped writing in {_files.printable(self.folder)}: "
                      f"{err.strerror or err}")

    def call(self, fn, args: tuple, static: Mapping, *, call: Mapping, out_tree):
        """``fn(*args, **static)``, through the kept program when there is one.

        ``fn`` is a ``jax.jit`` function (or `gradlab._compile.loop_jit`), called at
        the top level; ``call`` names everything the program depends on that
        ``args`` and ``static`` do not show (JSON); a static value may be a `Later`,
        made only if the program is traced. ``out_tree`` is the structure of its
        result. The result is ready (blocked on) when it returns.
        """
        return self.run(fn, args, static, call=call, out_tree=out_tree)[0]

    def run(self, fn, args: tuple, static: Mapping, *, call: Mapping, out_tree):
        """`call`'s result, and the compiled program that computed it (None if it was not
        loaded or compiled here: several devices, no cache)."""

        def made() -> dict:  # the static arguments, `Later` ones made: to trace the program
            return {name: value.make() if isinstance(value, Later) else value
                    for name, value in static.items()}

        def as_jit_would():
            return jax.block_until_ready(fn(*args, **made())), None

        devices = jax.devices()
        if len(devices) != 1 or jax.process_count() != 1 or not _cache.installed():
            return as_jit_would()
        device = devices[0]
        key = self.key(call, args, static, device)
        if self._trusted() and self._unkept(key).exists():  # cannot be kept: JAX's cache
            return as_jit_would()
        compiled = self.load(key, args, out_tree, device)
        if compiled is not None:
            try:
                return jax.block_until_ready(compiled(*args)), compiled
            except Exception:  # a kept program that does not run: compile
                self.discard(key)
        if not self.writable():
            return as_jit_would()
        with _cache.compiling_afresh():
            compiled = fn.lower(*args, **made()).compile()
        out = jax.block_until_ready(compiled(*args))
        if jax.tree.structure(out) == out_tree:
            self.save(key, compiled)
        else:  # a caller's mistake: never kept, and not compiled afresh again
            self.mark_unkept(key)
        return out, compiled


def descend(store: Store | None, cost, x0, *, call: Mapping, optimizer=None,
            make_optimizer: Callable | None = None, **options):
    """`gradlab.descend` (no progress bar), through ``store``'s kept program when it can be.

    ``call`` names how the command line made the optimiser (e.g.
    ``{"optimizer": "lbfgs", "lr": None}``); the other options are keyed as given.
    The optimiser is ``optimizer``, or ``make_optimizer()``: made only if the
    program is traced, so a run that loads its program never imports optax.
    A cost other than a built-in one, or no store, is a plain `gradlab.descend`.
    """
    from gradlab import costs, descent
    from gradlab.result import Trajectory

    if optimizer is not None and make_optimizer is not None:
        raise TypeError("pass optimizer= or make_optimizer=, not both")
    if store is None or not costs.is_builtin(cost):
        made = optimizer if make_optimizer is None else make_optimizer()
        return descent.descend(cost, x0, optimizer=made, **options)
    learning_rate = options.get("learning_rate")
    if make_optimizer is None:
        descent.check_optimizer(optimizer, learning_rate)
        make_optimizer = lambda: optimizer
    elif learning_rate is not None:
        raise TypeError("pass make_optimizer= or learning_rate=, not both")

    def method():
        made = make_optimizer()
        descent.check_optimizer(made, learning_rate)
        return descent.method(made)

    args, config = descent.plan_arguments(cost, x0, **options)
    call = {"function": "gradlab.descent._descend_one", "cost": cost.name, **call, **options}
    out_tree = jax.tree.structure(Trajectory(*range(len(Trajectory.__dataclass_fields__))))
    return store.call(descent._descend_one, args, {"method": Later("optimizer", method),
                                                   "config": config},
                      call=call, out_tree=out_tree)


@dataclasses.dataclass
class _Keeping:
    store: Store
    call: Mapping
    calls: dict = dataclasses.field(default_factory=dict)  # function -> programs so far
    programs: dict = dataclasses.field(default_factory=dict)  # `_signature` -> Compiled

    def run(self, name: str, fn, args: tuple, static: Mapping, out_tree):
        """``fn(*args, **static)``: a program this block already has is called again (as
        ``jax.jit`` would); another is the function's next, loaded or compiled and kept."""
        signature = _signature(name, args, static)
        if signature in self.programs:
            compiled = self.programs[signature]
            return jax.block_until_ready(compiled(*args) if compiled is not None
                                         else fn(*args, **static))  # not kept: as usual
        number = self.calls.get(name, 0)
        self.calls[name] = number + 1
        out, self.programs[signature] = self.store.run(
            fn, args, static, out_tree=out_tree,
            call={**self.call, "function": name, "program": number})
        return out


def _signature(name: str, args, static: Mapping) -> tuple:
    """What ``jax.jit`` tells programs apart by: the static arguments (by their own ``==``),
    the arguments' tree, shapes, dtypes and weak types."""
    leaves, tree = jax.tree.flatten(args)
    return (name, tuple(sorted(static.items())), tree,
            tuple((np.shape(x), jax.numpy.result_type(x), bool(getattr(x, "weak_type", False)))
                  for x in leaves))


_keeping: contextvars.ContextVar = contextvars.ContextVar("gradlab_keeping", default=None)


@contextlib.contextmanager
def keeping(store: Store | None, call: Mapping) -> Iterator[None]:
    """Within: every top-level call of a `keepable` program goes through ``store``.

    Only for a block whose every program is fixed by gradlab's own code and
    ``call`` (JSON: the command and all its options), as the tour's are: the
    n-th call of a function there is the same program in every run with the
    same key. A store of None keeps nothing.
    """
    token = _keeping.set(None if store is None else _Keeping(store, dict(call)))
    try:
        yield
    finally:
        _keeping.reset(token)


def keepable(result: Callable):
    """Mark a jitted function (traced arguments positional, static ones by keyword) as one
    `keeping` may keep; outside `keeping`, or nested in a trace, it is called as is.

    ``result(args, static)`` is a pytree of the structure the call returns (any leaves):
    a record class (`gradlab.result.record`: every field a leaf) stands for itself.
    """
    if isinstance(result, type):
        record = result
        result = lambda args, static: record(*range(len(dataclasses.fields(record))))

    def mark(fn):
        name = f"{fn.__module__}.{fn.__qualname__}"

        @functools.wraps(fn)
        def call(*args, **static):
            from gradlab import _compile

            keeping_ = _keeping.get()
            if keeping_ is None or not _compile._top_level():
                return fn(*args, **static)
            out_tree = jax.tree.structure(result(args, static))
            return keeping_.run(name, fn, args, static, out_tree)

        call.lower = fn.lower
        return call

    return mark
