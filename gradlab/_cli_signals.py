"""Ctrl-C, SIGTERM and SIGHUP end a ``gradlab`` command at once, leaving no partial file.

While a command runs (`signals_end_the_command`), a signal's number goes down a pipe
to a watcher thread, which discards the files being written (`gradlab._files`) and
exits with 128 + the number, saying why on stderr: ``gradlab: interrupted`` (130),
``terminated`` (143), ``hung up`` (129).
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading

from gradlab import _files

_ENDING_SIGNALS = {signal.SIGINT: "interrupted", signal.SIGTERM: "terminated"}
if hasattr(signal, "SIGHUP"):  # the terminal closed
    _ENDING_SIGNALS[signal.SIGHUP] = "hung up"


def _watch(read_end: int) -> None:
    """Wait for a signal's number on the wake-up pipe; on one, clean up and exit at once."""
    while True:
        data = os.read(read_end, 1)
        if not data or data[0] == 0:  # 0: the command ended, stop watching
            return
        if data[0] in _ENDING_SIGNALS:
            _files.discard_pending()  # waits for a rename in progress: whole files or none
            with contextlib.suppress(OSError):  # the terminal may be gone (SIGHUP)
                if os.isatty(1):
                    os.write(1, b"\x1b[?25h")  # a progress bar hid the cursor
                os.write(2, f"gradlab: {_ENDING_SIGNALS[data[0]]}\n".encode())
            os._exit(128 + data[0])


@contextlib.contextmanager
def signals_end_the_command():
    """While a command runs, Ctrl-C (or SIGTERM) ends it at once, leaving no partial file.

    A Python signal handler runs only between bytecodes of the main thread, so a
    KeyboardInterrupt would wait for a compiled computation (minutes, for a large
    multistart) to finish. Instead the signal's number is written to a pipe
    (`signal.set_wakeup_fd`) that a watcher thread reads: it removes the
    temporary files being written and exits with 128 + the signal's number.
    """
    if threading.current_thread() is not threading.main_thread():
        yield  # signals reach only the main thread; KeyboardInterrupt is handled by main
        return
    read_end, write_end = os.pipe()
    os.set_blocking(write_end, False)
    watcher = threading.Thread(target=_watch, args=(read_end,), daemon=True)
    watcher.start()
    handlers = {s: signal.signal(s, lambda *_: None) for s in _ENDING_SIGNALS}
    previous = signal.set_wakeup_fd(write_end, warn_on_full_buffer=False)
    try:
        yield
    finally:
        signal.set_wakeup_fd(previous)
        for s, handler in handlers.items():
            signal.signal(s, handler)
        os.write(write_end, b"\0")
        watcher.join()
        os.close(read_end)
        os.close(write_end)
