"""Running the user's code so that it always ends, and never writes on our stdout.

``scale`` and ``residuals`` run code jaxlint did not write. Whatever it does, the command
must end within ``--timeout`` with a one-line message and exit code 2 (130 for Ctrl-C), and
a machine format on stdout must stay parseable. Child processes give that for free (killed
with their process group; their stdout is our stderr). In this process (``--in-process``,
``residuals``) :func:`guarded` provides the same:

- a watchdog thread: past the deadline it prints the message and ends the process with
  ``os._exit(2)`` — the only way to stop code stuck in C, or threads that never finish;
- stdout redirected to stderr at the file-descriptor level (``print``, C extensions and
  threads alike) until the block ends;
- ``os._exit`` from user code raises :class:`UserExit` instead of ending jaxlint silently
  with the user's code (``sys.exit`` is a ``SystemExit`` the callers already turn into a
  message).
"""

from __future__ import annotations

import contextlib
import math
import os
import sys
import threading
from typing import Iterator

EXIT_USAGE = 2


class UserExit(BaseException):
    """The user's code called ``os._exit(code)`` (a BaseException: ``except Exception`` in
    the user's code does not swallow it)."""

    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code


def check_timeout(value: float | None) -> float | None:
    """``--timeout``: a positive, finite number of seconds (or None: no limit)."""
    if value is None:
        return None
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"{value!r} is not a positive, finite number of seconds")
    return value


class Activity:
    """What the user's code is doing now, for the timeout message (set by the caller)."""

    def __init__(self, text: str = "running the user's code") -> None:
        self.text = text


@contextlib.contextmanager
def _stdout_to_stderr() -> Iterator[None]:
    sys.stdout.flush()
    saved = os.dup(1)
    os.dup2(2, 1)
    try:
        with contextlib.redirect_stdout(sys.stderr):
            yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)


@contextlib.contextmanager
def _os_exit_raises() -> Iterator[None]:
    real = os._exit

    def user_exit(code: int) -> None:
        if threading.current_thread() is threading.main_thread():
            raise UserExit(code)
        real(code)  # another thread: nothing to unwind into; the parent reports the code

    os._exit = user_exit  # type: ignore[assignment]
    try:
        yield
    finally:
        os._exit = real  # type: ignore[assignment]


@contextlib.contextmanager
def guarded(timeout: float | None, activity: Activity, *, redirect: bool = True) -> Iterator[None]:
    """Run the block under a deadline (whole-process exit 2 when missed), with stdout on
    stderr and ``os._exit`` turned into :class:`UserExit`."""
    before = set(threading.enumerate())
    done = threading.Event()
    real_exit = os._exit

    def watchdog() -> None:
        if not done.wait(timeout):
            try:
                os.write(2, f"error: {activity.text} did not finish in {timeout:g} s (--timeout)\n".encode())
            finally:
                real_exit(EXIT_USAGE)

    if timeout is not None:
        threading.Thread(target=watchdog, name="jaxlint-timeout", daemon=True).start()
    try:
        with contextlib.ExitStack() as stack:
            if redirect:
                stack.enter_context(_stdout_to_stderr())
            stack.enter_context(_os_exit_raises())
            yield
    finally:
        done.set()
        _USER_THREADS.update(t for t in threading.enumerate() if t not in before and t.name != "jaxlint-timeout")


_USER_THREADS: set[threading.Thread] = set()  # threads the user's code started (in guarded blocks)


def exit_now(code: int) -> None:
    """End the process with ``code`` once our output is flushed, even when the user's code
    left non-daemon threads running (they would keep the interpreter alive forever)."""
    alive = [t for t in _USER_THREADS if not t.daemon and t.is_alive()]
    if not alive:
        sys.exit(code)
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    os._exit(code)
