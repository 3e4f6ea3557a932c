"""JAX's persistent compilation cache for the command line: where it lives, and using it safely.

The contract:

- **Who turns it on.** Only the ``gradlab`` command line (`gradlab.cli.main`),
  for the commands that compute (``tour``, ``minimize``, ``check``,
  ``landscape``, ...; not ``bench``, which measures compilation). ``import
  gradlab`` never does: a library must not write in its users' home folders.
  `persistent_cache` turns it on for one command and restores JAX's settings
  (and the cache object JAX had) afterwards, so a program that calls ``main``
  in process is left as found. `install` turns it on for good, for a process
  that owns its folder (gradlab's test suite, whose workers share one).
- **Where** (`choose_folder`), first match wins: ``--no-cache`` (off);
  ``--cache-dir DIR``; ``GRADLAB_NO_CACHE=1`` or ``GRADLAB_CACHE_DIR=off``
  (off); ``GRADLAB_CACHE_DIR=DIR``; the folder JAX was told to use
  (``JAX_COMPILATION_CACHE_DIR``), if any; else the platform's cache folder:
  ``$XDG_CACHE_HOME/gradlab/jax`` or ``~/.cache/gradlab/jax`` (Linux and other
  Unix), ``~/Library/Caches/gradlab/jax`` (macOS),
  ``%LOCALAPPDATA%\\gradlab\\Cache\\jax`` (Windows). Never the working folder.
- **What.** Every compiled XLA program, however small or quick to compile
  (a command compiles dozens of small ones), keyed by JAX on the program, the
  devices, the compile options and the JAX version: a cached entry is only
  ever reused for the same program.
- **Safe to share.** An entry is written to a temporary file in the folder
  and renamed into place (`gradlab._files`), so a process never reads half an
  entry, two processes filling one cache both finish, and an interrupted
  command leaves no entry behind. (JAX 0.10's own file cache writes entries in
  place: a reader can see a partial file, and a killed writer leaves a
  truncated entry that every later run fails to read.) An entry JAX cannot
  read is recompiled and replaced.
- **Never in the way.** A folder that cannot be created or written (read-only,
  ``/proc``, a file in its place), that belongs to another user or that every
  user may write in (a compilation cache is code that will run) is not used:
  the command runs without the cache and says so in one line on stderr. A
  failure while writing an entry (a full disk) says so once and stops writing.
  Never a traceback, never an exit status of its own.
"""

from __future__ import annotations

import contextlib
import os
import stat
import sys
import tempfile
import warnings
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

from gradlab import _files

FOLDER_VARIABLE = "GRADLAB_CACHE_DIR"  # a folder, or "off"
OFF_VARIABLE = "GRADLAB_NO_CACHE"  # "1" turns the cache off
ENTRY_SUFFIX = "-cache"  # JAX's own entry names, so JAX's file cache reads the same folder

# JAX's settings changed while a command runs, restored after it.
_SETTINGS = {
    "jax_compilation_cache_dir": None,  # set to the folder
    "jax_persistent_cache_min_compile_time_secs": 0.0,  # cache quick compiles too
    "jax_persistent_cache_min_entry_size_bytes": -1,  # and small programs
}
# JAX turns a failed read or write of an entry into a Python warning (two lines on stderr);
# `_AtomicFileCache` says it in one line, or recompiles and replaces the entry.
_JAX_CACHE_WARNINGS = r"Error (reading|writing) persistent compilation cache entry"


class CacheUnavailable(OSError):
    """The cache folder cannot be used; the message says why, on one line."""


def _stderr_line(text: str) -> None:
    with contextlib.suppress(OSError, ValueError):  # stderr closed: nothing to say it on
        print(_files.printable(f"gradlab: {text}"), file=sys.stderr)


def _is_off(value: str | None) -> bool:
    return value is not None and value.strip().lower() not in ("", "0", "false", "no")


def default_folder(*, environ: Mapping[str, str] = os.environ,
                   platform: str = sys.platform) -> Path:
    """The platform's folder for this user's caches, plus ``gradlab/jax``.

    Example:
      >>> str(default_folder(environ={"HOME": "/home/ana"}, platform="linux"))
      '/home/ana/.cache/gradlab/jax'
      >>> str(default_folder(environ={"HOME": "/home/ana", "XDG_CACHE_HOME": "/tmp/c"},
      ...                    platform="linux"))
      '/tmp/c/gradlab/jax'
      >>> str(default_folder(environ={"HOME": "/Users/ana"}, platform="darwin"))
      '/Users/ana/Library/Caches/gradlab/jax'
    """
    def home() -> Path:
        for name in ("HOME", "USERPROFILE") if platform == "win32" else ("HOME",):
            if environ.get(name):
                return Path(environ[name])
        try:
            return Path.home()
        except (RuntimeError, KeyError):  # no HOME and no password entry (a bare container)
            raise CacheUnavailable("no home folder to keep a cache in; pass --cache-dir DIR "
                                   f"or set {FOLDER_VARIABLE}") from None

    if platform == "win32":
        local = environ.get("LOCALAPPDATA")
        base = Path(local) if local else home() / "AppData" / "Local"
        return base / "gradlab" / "Cache" / "jax"
    if platform == "darwin":
        return home() / "Library" / "Caches" / "gradlab" / "jax"
    xdg = environ.get("XDG_CACHE_HOME", "")
    base = Path(xdg) if os.path.isabs(xdg) else home() / ".cache"  # the XDG spec: relative: ignore
    return base / "gradlab" / "jax"


def choose_folder(*, cache_dir: str | None = None, no_cache: bool = False,
                  environ: Mapping[str, str] = os.environ, jax_folder: str | None = None,
                  platform: str = sys.platform) -> Path | None:
    """The cache folder a command uses, or None for none (the precedence is the module's).

    Args:
      cache_dir, no_cache: the command line's ``--cache-dir`` and ``--no-cache``.
      environ: the environment (``GRADLAB_NO_CACHE``, ``GRADLAB_CACHE_DIR``, ...).
      jax_folder: the folder JAX's own settings name (``JAX_COMPILATION_CACHE_DIR``).

    Raises:
      CacheUnavailable: no folder was given and the platform's cannot be found.

    Example:
      >>> choose_folder(environ={"GRADLAB_CACHE_DIR": "off", "HOME": "/h"}) is None
      True
      >>> str(choose_folder(cache_dir="/c", environ={"GRADLAB_NO_CACHE": "1"}))
      '/c'
    """
    if no_cache:
        return None
    if cache_dir is not None:
        return Path(cache_dir).absolute()
    given = environ.get(FOLDER_VARIABLE, "").strip()
    if _is_off(environ.get(OFF_VARIABLE)) or given.lower() == "off":
        return None
    if given:
        return Path(given).expanduser().absolute()
    if jax_folder:
        return Path(jax_folder).expanduser().absolute()
    return default_folder(environ=environ, platform=platform)


def foreign(info: os.stat_result) -> str | None:
    """Why a folder with this ``stat`` cannot hold code this user will run (another user's,
    or writable by every user), or None where it can (or where POSIX owners do not exist)."""
    if not hasattr(os, "geteuid"):
        return None
    if info.st_uid != os.geteuid():
        return "belongs to another user"
    if info.st_mode & stat.S_IWOTH:
        return "is writable by every user"
    return None


def prepare(folder) -> Path:
    """Create ``folder`` (only its owner may read it) and check that it can hold the cache.

    Raises:
      CacheUnavailable: it cannot be created or written in, it is not a folder,
        it belongs to another user or every user may write in it.
    """
    folder = Path(folder)
    shown = _files.printable(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        info = os.stat(folder)
    except OSError as err:
        raise CacheUnavailable(f"cannot create {shown}: {err.strerror or err}") from None
    if not stat.S_ISDIR(info.st_mode):
        raise CacheUnavailable(f"{shown} is not a folder")
    unsafe = foreign(info)
    if unsafe:
        raise CacheUnavailable(f"{shown} {unsafe}")
    try:  # the one sure test (root ignores permission bits; read-only mounts; /proc)
        fd, probe = tempfile.mkstemp(dir=folder, prefix=".gradlab-probe-")
    except OSError as err:
        raise CacheUnavailable(f"cannot write in {shown}: {err.strerror or err}") from None
    os.close(fd)
    os.unlink(probe)
    return folder


def _atomic_file_cache(folder: Path, say: Callable[[str], None]):
    """A JAX cache object (``get``/``put`` of bytes by key) that writes each entry atomically."""
    from jax._src.compilation_cache_interface import CacheInterface

    class AtomicFileCache(CacheInterface):
        def __init__(self):
            self._path, self._writable = folder, True
            self.afresh = False  # `compiling_afresh`: every read misses

        def get(self, key: str) -> bytes | None:
            if self.afresh:
                return None
            try:
                return (self._path / f"{key}{ENTRY_SUFFIX}").read_bytes()
            except OSError:  # missing (the usual miss), or unreadable: compile instead
                return None

        def put(self, key: str, value: bytes) -> None:
            # JAX calls put only after it compiled, i.e. when get found nothing or an entry
            # it could not read: replacing the entry repairs it.
            if not self._writable:
                return
            try:
                _files.write_atomically(self._path / f"{key}{ENTRY_SUFFIX}",
                                        lambda tmp: tmp.write_bytes(value), overwrite=True)
            except OSError as err:
                self._writable = False
                say(f"compilation cache: stopped writing in {self._path}: "
                    f"{err.strerror or err}")

    return AtomicFileCache()


_INSTALLED = []  # the AtomicFileCache JAX uses now, if gradlab installed one


def installed() -> bool:
    """Whether JAX's persistent cache is, right now, gradlab's atomic one (`persistent_cache`)."""
    return bool(_INSTALLED)


@contextlib.contextmanager
def compiling_afresh() -> Iterator[None]:
    """Within the block, JAX compiles every program anew (and replaces its entry).

    For `gradlab._programs`, which keeps whole executables: XLA:CPU serializes an
    executable it read back from this cache incompletely (it then fails when
    run: ``Function ... not found``), so a program to keep is compiled afresh.

    Raises:
      RuntimeError: gradlab's cache is not the one in use (`installed` is False).
    """
    if not _INSTALLED:
        raise RuntimeError("compiling_afresh needs gradlab's compilation cache in use")
    cache = _INSTALLED[-1]
    cache.afresh = True
    try:
        yield
    finally:
        cache.afresh = False


def _jax_cache_object():
    """JAX's persistent cache object as it is now (None: not built yet, or no place for it)."""
    try:
        from jax._src import compilation_cache as jax_cache

        return jax_cache._cache if jax_cache._cache_initialized else None
    except (ImportError, AttributeError):
        return None


def _install(cache) -> bool:
    """Make ``cache`` JAX's persistent cache; False if this JAX has no place for it."""
    try:
        from jax._src import compilation_cache as jax_cache

        lock = jax_cache._cache_initialized_mutex
        jax_cache.reset_cache()
        with lock:
            jax_cache._cache, jax_cache._cache_initialized = cache, True
        return True
    except (ImportError, AttributeError):
        return False


def _use_folder(folder: Path) -> dict:
    """Point JAX's cache settings at ``folder``; returns the settings they replaced."""
    import jax

    saved = {name: jax.config.values[name] for name in _SETTINGS}
    for name, value in _SETTINGS.items():
        jax.config.update(name, str(folder) if value is None else value)
    return saved


def _restore_settings(saved: dict) -> None:
    import jax

    for name, value in saved.items():
        jax.config.update(name, value)


def install(folder, *, say: Callable[[str], None] = _stderr_line) -> bool:
    """From now on, JAX reads and writes every compiled program in ``folder``, atomically.

    What `persistent_cache` does for a block, for a whole process that owns its
    folder (the test suite's run, whose worker processes share one). A
    `persistent_cache` block inside puts this cache back when it ends. False,
    with JAX's settings as they were, when this JAX has no place for gradlab's
    cache (JAX's own file cache writes in place: not safe to share).

    Raises:
      CacheUnavailable: as `prepare`.
    """
    folder = prepare(folder)
    saved = _use_folder(folder)
    if _install(_atomic_file_cache(folder, say)):
        return True
    _restore_settings(saved)
    return False


@contextlib.contextmanager
def persistent_cache(folder, *, say: Callable[[str], None] = _stderr_line) -> Iterator[Path | None]:
    """Within the block, JAX reads and writes compiled programs in ``folder`` (None: nowhere).

    Yields the folder in use, or None when the cache is off or ``folder``
    cannot hold it (then ``say`` is given one line saying why). JAX's
    settings are restored when the block ends.
    """
    if folder is None:
        yield None
        return
    try:
        folder = prepare(folder)
    except CacheUnavailable as err:
        say(f"running without the compilation cache: {err} (--no-cache silences this)")
        yield None
        return
    import jax
    from jax.experimental.compilation_cache import compilation_cache as jax_cache

    if not jax.config.values.get("jax_enable_compilation_cache", True):
        yield None  # the user turned JAX's cache off (JAX_ENABLE_COMPILATION_CACHE=false)
        return
    outer = _jax_cache_object()  # an enclosing block's (or `install`'s) cache, put back after
    saved = _use_folder(folder)
    atomic = None
    try:
        cache = _atomic_file_cache(folder, say)
        if _install(cache):  # else JAX's own file cache, in place
            atomic = cache
            _INSTALLED.append(cache)
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=_JAX_CACHE_WARNINGS)
            yield folder
    finally:
        if atomic is not None:
            _INSTALLED.remove(atomic)
        _restore_settings(saved)
        if outer is None or not _install(outer):
            jax_cache.reset_cache()  # JAX builds its cache again from the restored settings


def for_command(*, cache_dir: str | None = None, no_cache: bool = False,
                say: Callable[[str], None] = _stderr_line):
    """`persistent_cache` in the folder `choose_folder` picks for a command line's options."""
    import jax

    try:
        folder = choose_folder(cache_dir=cache_dir, no_cache=no_cache,
                               jax_folder=jax.config.values.get("jax_compilation_cache_dir"))
    except CacheUnavailable as err:
        say(f"running without the compilation cache: {err}")
        folder = None
    return persistent_cache(folder, say=say)
