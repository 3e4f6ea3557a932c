"""Every file gradlab writes goes through here, so that nothing the user has is lost.

The contract, for each output:

1. **Decide the final path first** (`output_path`): a name without an extension
   gets the default one (``q`` → ``q.png``); a folder (``p/``, or an existing
   folder) gets a default file name inside it; an unknown extension is refused.
2. **Check it before any computation** (`check_output`, `check_folder`): an
   existing file, symlink (dangling or not) or folder at the final path is
   refused unless ``overwrite``; a missing folder, a file where a folder is
   expected, a name too long, a folder that cannot be written (read-only,
   ``/proc``) are refused with one readable line.
3. **Write atomically** (`write_atomically`, `write_files` for several outputs
   that appear together or not at all): into a temporary file in the same
   folder, flushed to disk, then renamed onto the destination. A symlink at the
   destination is replaced, never followed; without ``overwrite`` the rename
   refuses a file that appeared meanwhile. On an error or an interruption the
   temporary file is removed (`discard_pending` does it for a signal handler), so
   no half-written file is ever left.

Errors: `FileExistsError` for an output that exists, `OutputError` (an
`OSError`) for every other path that cannot be written; both carry one line.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import stat
import tempfile
import threading
import unicodedata
from collections.abc import Callable
from pathlib import Path

# Formats matplotlib writes with the Agg backend and Pillow alone (no LaTeX, no Ghostscript).
FIGURE_SUFFIXES = (".png", ".pdf", ".svg", ".jpg", ".jpeg", ".webp", ".tif", ".tiff", ".eps",
                   ".ps")
NAME_BYTES = 100  # longest file name made from a cost's name (file systems allow 255 bytes)


class OutputError(OSError):
    """An output path that cannot be written (missing folder, read-only, name too long, ...)."""


def printable(text) -> str:
    """``text`` on one line: control characters (newlines, escape codes) shown as escapes."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in str(text))


def safe_name(text: str, *, fallback: str = "cost", max_bytes: int = NAME_BYTES) -> str:
    """A file name made from any text (a cost's name), that stays in the current folder.

    Path separators, control characters and anything but letters, digits, ``-``,
    ``_`` and ``.`` become ``_``; leading dots are dropped (no ``..``, no hidden
    files); the result is cut to ``max_bytes`` of UTF-8; if nothing is left,
    ``fallback``.

    Example:
      >>> safe_name("../x"), safe_name("/abs/path"), safe_name("a b/c"), safe_name("..")
      ('_x', '_abs_path', 'a_b_c', 'cost')
      >>> safe_name("../../escape"), safe_name("rosenbrock-5.0")
      ('_escape', 'rosenbrock-5.0')
    """
    name = unicodedata.normalize("NFKC", str(text))
    name = re.sub(r"[^\w.-]|\.\.+", "_", name)  # separators, controls, "..": all "_"
    name = re.sub(r"__+", "_", name).lstrip(".")
    encoded = name.encode("utf-8")[:max_bytes]
    name = encoded.decode("utf-8", errors="ignore")
    return name if name.strip("_.-") else fallback


def output_path(path, *, suffix: str = ".png", allowed: tuple = FIGURE_SUFFIXES,
                default_name: str | None = None) -> Path:
    """The final path of an output the user named: extension completed, folder resolved.

    Args:
      path: what the user gave.
      suffix: the extension added to a name without one.
      allowed: the extensions accepted (lower case).
      default_name: the file name used when ``path`` is a folder (ends with a
        separator, or is an existing folder); ``suffix`` is always added to it
        (a dot in a cost's name is not an extension). None refuses folders.

    Example:
      >>> str(output_path("q")), str(output_path("out/", default_name="bowl"))
      ('q.png', 'out/bowl.png')
    """
    text = os.fspath(path)
    if not text:
        raise OutputError("the output path is empty")
    if text.endswith(("/", os.sep)) or os.path.isdir(text):
        if default_name is None:
            raise OutputError(f"{printable(text)} is a folder; give a file name")
        return Path(text) / (default_name + suffix)
    final = Path(text)
    if final.suffix == "" or final.name.endswith("."):
        final = final.with_name(final.name.rstrip(".") + suffix)
    elif final.suffix.lower() not in allowed:
        raise OutputError(
            f"{printable(text)}: {printable(final.suffix)} is not a format gradlab writes here; "
            f"use one of {', '.join(allowed)} (a name without one gets {suffix})"
        )
    return final


def _refuse_existing(path: Path, info: os.stat_result, overwrite: bool) -> None:
    shown = printable(path)
    if stat.S_ISDIR(info.st_mode):
        raise OutputError(f"{shown} is a folder; give a file name")
    if overwrite:
        return
    if stat.S_ISLNK(info.st_mode):
        raise FileExistsError(
            f"{shown} exists (a symbolic link); pass overwrite=True to replace the link "
            "(its target is left alone)"
        )
    raise FileExistsError(f"{shown} exists; pass overwrite=True to replace it")


def _check_writable_folder(folder: Path) -> None:
    """Refuse a folder that is missing, not a folder, or cannot be written in."""
    shown = printable(folder)
    try:
        info = os.stat(folder)
    except FileNotFoundError:
        raise OutputError(f"folder {shown} does not exist") from None
    except OSError as err:
        raise OutputError(f"folder {shown}: {err.strerror}") from None
    if not stat.S_ISDIR(info.st_mode):
        raise OutputError(f"{shown} is not a folder")
    try:  # the one sure test of writability (root ignores permission bits; /proc; ro mounts)
        fd, probe = tempfile.mkstemp(dir=folder, prefix=".gradlab-probe-")
    except OSError as err:
        raise OutputError(f"cannot write in folder {shown}: {err.strerror}") from None
    os.close(fd)
    os.unlink(probe)


def check_output(path, *, overwrite: bool = False) -> Path:
    """Refuse now, before any work, a final path that could not be written; return it."""
    path = Path(path)
    try:
        info = os.lstat(path)  # lstat: a symlink is judged itself, never its target
    except FileNotFoundError:
        info = None
    except OSError as err:  # name too long, a file used as a folder, a loop of links, ...
        raise OutputError(f"{printable(path)}: {err.strerror}") from None
    if info is not None:
        _refuse_existing(path, info, overwrite)
    _check_writable_folder(path.parent)
    return path


def check_folder(path, *, overwrite: bool = False) -> Path:
    """Refuse now an output folder that could not be made or written in; return it.

    An existing folder is accepted (whether its content may be replaced is the
    caller's rule); a symlink in its place is refused unless ``overwrite`` (then
    `make_folder` replaces the link by a real folder, never following it).
    """
    if not os.fspath(path):
        raise OutputError("the output folder's path is empty")
    path = Path(path)
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        _check_writable_folder(path.parent)
        return path
    except OSError as err:
        raise OutputError(f"{printable(path)}: {err.strerror}") from None
    if stat.S_ISLNK(info.st_mode):
        if not overwrite:
            raise FileExistsError(
                f"{printable(path)} is a symbolic link; pass overwrite=True to replace the link "
                "by a folder (its target is left alone), or give the real folder"
            )
        _check_writable_folder(path.parent)
    elif not stat.S_ISDIR(info.st_mode):
        raise FileExistsError(f"{printable(path)} exists and is not a folder")
    else:
        _check_writable_folder(path)
    return path


def make_folder(path) -> Path:
    """Create the folder checked by `check_folder` (a symlink there is removed, not followed)."""
    path = Path(path)
    if path.is_symlink():
        path.unlink()
    path.mkdir(exist_ok=True)
    return path


# -- atomic writes ---------------------------------------------------------------------
_LOCK = threading.Lock()  # held while a temporary file is renamed into place
_PENDING: set[str] = set()  # temporary files being written


def discard_pending() -> None:
    """Remove every temporary file being written (called on an interruption)."""
    with _LOCK:
        for name in list(_PENDING):
            with contextlib.suppress(OSError):
                os.unlink(name)
        _PENDING.clear()


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _publish(temporary: str, path: Path, overwrite: bool) -> None:
    """Move the finished temporary file onto ``path`` in one step."""
    if overwrite:
        with contextlib.suppress(FileNotFoundError):
            _refuse_existing(path, os.lstat(path), overwrite=True)  # never replace a folder
        os.replace(temporary, path)  # replaces a symlink itself, never its target
        return
    try:  # a hard link fails if the destination appeared meanwhile: no check-then-write race
        os.link(temporary, path, follow_symlinks=False)
    except FileExistsError:
        _refuse_existing(path, os.lstat(path), overwrite=False)
        raise
    except OSError as err:
        if err.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV):
            raise
        if os.path.lexists(path):  # a file system without hard links: check, then rename
            _refuse_existing(path, os.lstat(path), overwrite=False)
        os.replace(temporary, path)


def _sync_folder(folder: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def write_atomically(path, write: Callable[[Path], object], *, overwrite: bool = False) -> Path:
    """Write ``path`` through ``write(temporary_path)``, then rename it into place.

    The temporary file sits in the same folder and ends with the same extension
    (writers that choose a format from it still work). On any error or
    interruption it is removed and ``path`` is untouched.

    Example:
      >>> import tempfile, pathlib
      >>> target = pathlib.Path(tempfile.mkdtemp()) / "note.txt"
      >>> _ = write_atomically(target, lambda tmp: tmp.write_text("hello"))
      >>> target.read_text()
      'hello'
    """
    return write_files({path: write}, overwrite=overwrite)[0]


def write_files(writers: dict, *, overwrite: bool = False) -> list[Path]:
    """Write several outputs as one: every temporary file first, then every rename.

    ``writers`` maps each path to ``write(temporary_path)``. If any writer fails
    (or the command is interrupted) before the renames, none of the outputs
    appears; the renames run under the lock that `discard_pending` takes, so an
    interruption cannot fall between them.
    """
    paths = [check_output(path, overwrite=overwrite) for path in writers]
    temporaries = []
    try:
        for path, write in zip(paths, writers.values()):
            fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name[:60]}.",
                                             suffix=f".part{path.suffix}")
            os.close(fd)
            with _LOCK:
                _PENDING.add(temporary)
            temporaries.append(temporary)
            os.chmod(temporary, 0o666 & ~_umask())  # mkstemp makes 0600; give the usual mode
            write(Path(temporary))
            with open(temporary, "rb+") as written:
                os.fsync(written.fileno())
        with _LOCK:
            for temporary, path in zip(temporaries, paths):
                _publish(temporary, path, overwrite)
        for folder in {path.parent for path in paths}:
            _sync_folder(folder)
    finally:
        with _LOCK:
            for temporary in temporaries:
                _PENDING.discard(temporary)
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(temporary)
    return paths


def write_text(path, text: str, *, overwrite: bool = False) -> Path:
    """`write_atomically` for a UTF-8 text file."""
    return write_atomically(path, lambda tmp: tmp.write_text(text, encoding="utf-8"),
                            overwrite=overwrite)
