"""Where a target's code runs: one child process, a child per n, or this process.

The child's events (see :func:`.scale.measure_target`) are JSON lines in a file the parent
reads as they come: progress, partial results after a timeout, and the case that was
running when it hit. The child's stdout is our stderr, so whatever the user's code prints
never reaches a machine format on stdout. Children run in their own process group: a
timeout or Ctrl-C kills the group (threads and subprocesses of the user's code included).

How a child ended decides the message (always exit 2 for the command, 130 for Ctrl-C):
an ``interrupted`` event (KeyboardInterrupt in the user's code), a ``user_exit`` event
(``sys.exit``/``os._exit`` in it), or no ``done`` event at all (a crash or a signal).

The child side is :mod:`.session_child` (``python -m jaxlint.analyzer.session_child REQUEST.json
EVENTS.jsonl``); running everything in this process is :func:`.scale.run_in_process`.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from typing import Any, Sequence

from .cases import Target, TargetError

_POLL_SECONDS = 0.02


class Interrupted(Exception):
    """The user's code raised KeyboardInterrupt (or the user pressed Ctrl-C): exit 130."""


# ---------------------------------------------------------------------------------------------
# Parent side


def _kill(process: subprocess.Popen[Any]) -> None:
    """End the child we started, and everything it started (its own process group)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def _ending(returncode: int) -> str:
    if returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = f"signal {-returncode}"
        return f"was killed by {name}"
    return f"ended with exit code {returncode} (os._exit or a crash in the user's code)"


class _Child:
    """One child process streaming events; ``follow`` feeds them to a callback."""

    def __init__(self, request: dict[str, Any], python: str | None = None) -> None:
        # ``python``: another interpreter with jaxlint installed (e.g. one with an older diffrax).
        self._scratch = tempfile.TemporaryDirectory(prefix="jaxlint-")
        self.events_path = os.path.join(self._scratch.name, "events.jsonl")
        request_path = os.path.join(self._scratch.name, "request.json")
        with open(request_path, "w") as handle:
            json.dump(request, handle)
        open(self.events_path, "w").close()
        # The child's stdout and stderr both go to a file that we copy to our stderr as it
        # grows: the user's prints show up live, and never on our stdout.
        output_path = os.path.join(self._scratch.name, "output.txt")
        with open(output_path, "wb") as output:
            self.process = subprocess.Popen(
                [python or sys.executable, "-m", "jaxlint.analyzer.session_child", request_path, self.events_path],
                stdin=subprocess.DEVNULL, stdout=output, stderr=subprocess.STDOUT,
                cwd=os.getcwd(), start_new_session=True,
            )
        self._handle = open(self.events_path)
        self._output = open(output_path, encoding="utf-8", errors="replace")
        self._partial = ""

    def _forward_output(self) -> None:
        text = self._output.read()
        if text:
            sys.stderr.write(text)
            sys.stderr.flush()

    def _read(self) -> list[dict[str, Any]]:
        chunk = self._handle.read()
        if not chunk:
            return []
        text = self._partial + chunk
        lines = text.split("\n")
        self._partial = lines.pop()
        return [json.loads(line) for line in lines if line.strip()]

    def follow(self, on_event: Any, deadline: Any, on_deadline: Any = None) -> dict[str, Any] | None:
        """Feed events to ``on_event`` until the child ends; returns its last control event
        (done / interrupted / user_exit), ``{"event": "timeout"}`` when ``deadline()`` (a
        monotonic time or None) passed and the child was killed, or None when it died
        without a word."""
        last: dict[str, Any] | None = None
        try:
            while True:
                finished = self.process.poll() is not None
                self._forward_output()
                for event in self._read():
                    if event["event"] in ("done", "interrupted", "user_exit"):
                        last = event
                    else:
                        on_event(event)
                if finished or (last is not None and last["event"] == "done"):
                    break
                limit = deadline()
                if limit is not None and time.monotonic() > limit:
                    _kill(self.process)
                    if on_deadline is not None:
                        on_deadline()
                    return {"event": "timeout"}
                time.sleep(_POLL_SECONDS)
        except BaseException:
            if self.process.poll() is None:
                _kill(self.process)
            raise
        finally:
            if self.process.poll() is None:  # it said "done": non-daemon user threads must not keep it
                _kill(self.process)
            self._forward_output()
        return last

    def close(self) -> None:
        self._handle.close()
        self._output.close()
        self._scratch.cleanup()


def _end_of(child: _Child, last: dict[str, Any] | None, where: str) -> None:
    """Turn how a child ended into Interrupted / TargetError (nothing for a clean end)."""
    if last is None:
        raise TargetError(f"{where}: the measuring process {_ending(child.process.returncode)}")
    if last["event"] == "interrupted":
        raise Interrupted(f"{where}: interrupted (KeyboardInterrupt in the user's code)")
    if last["event"] == "user_exit":
        raise TargetError(last["message"])


def _timeout_error(collector: Any, target: Target, timeout: float) -> TargetError:
    running = collector.unfinished()
    if running is not None:
        n = running.ns[len(running.measurements)]
        running.error = f"{running.name} at n={n:,}: did not finish in {timeout:g} s (--timeout)"
        return TargetError("")  # reported on the case
    return TargetError(f"{target}: running it did not finish in {timeout:g} s (--timeout)")


def run_session(target: Target, ns: Sequence[int], collector: Any, *, timeout: float | None, **options: Any) -> None:
    """Every n of every case in one child process."""
    request = {"mode": "session", "path": target.path, "name": target.name, "ns": list(ns), **options}
    deadline = None if timeout is None else time.monotonic() + timeout
    child = _Child(request)
    try:

        def on_deadline() -> None:
            error = _timeout_error(collector, target, timeout)  # type: ignore[arg-type]
            if str(error):
                collector.target_error = error

        last = child.follow(collector, lambda: deadline, on_deadline)
        if last is None or last["event"] != "timeout":
            _end_of(child, last, str(target))
    finally:
        child.close()


def run_fresh_processes(
    target: Target, ns: Sequence[int], collector: Any, *, timeout: float | None, compile: bool,
    compile_timeout: float | None, **options: Any,
) -> None:
    """List the cases in one child, then lower (and compile) each (case, n) in a fresh one.
    ``timeout`` bounds the user's code over the whole run; each compile is bounded apart."""
    started = time.monotonic()
    spent_compiling = 0.0

    def user_deadline() -> float | None:
        return None if timeout is None else started + spent_compiling + timeout

    headers: list[dict[str, Any]] = []

    def listed(event: dict[str, Any]) -> None:
        collector(event)
        if event["event"] == "case":
            headers.append(event)

    def listing_timed_out() -> None:
        collector.target_error = TargetError(f"{target}: running it did not finish in {timeout:g} s (--timeout)")

    child = _Child({"mode": "list", "path": target.path, "name": target.name, "ns": [], **options})
    try:
        last = child.follow(listed, user_deadline, listing_timed_out)
        if last is not None and last["event"] == "timeout":
            return
        _end_of(child, last, str(target))
    finally:
        child.close()
    for header in headers:
        if header.get("skipped"):
            continue
        result = collector.by_name[header["name"]]
        for n in ns:
            request = {"mode": "one", "path": target.path, "name": target.name, "case": header["name"],
                       "site_key": header.get("site_key"), "ns": [n], "compile": compile, **options}
            measured: list[dict[str, Any]] = []
            lowered_at: list[float] = []

            def on_event(event: dict[str, Any]) -> None:
                if event["event"] == "measured":
                    measured.append(event)  # the lowering, then (with --compile) the compiled figures
                    if not lowered_at:
                        lowered_at.append(time.monotonic())
                else:
                    collector(event)

            def deadline() -> float | None:
                if lowered_at and compile:  # compiling now: bounded by --compile-timeout only
                    return None if compile_timeout is None else lowered_at[0] + compile_timeout
                return user_deadline()

            child = _Child(request)
            try:
                last = child.follow(on_event, deadline)
            finally:
                child.close()
            if lowered_at and compile:
                spent_compiling += time.monotonic() - lowered_at[0]
            timed_out = last is not None and last["event"] == "timeout"
            if timed_out and lowered_at:  # the compile ran out of time: keep the lowering figures
                collector(measured[0])
                result.compile_timeouts.append(n)
                continue
            if timed_out:
                result.error = f"{result.name} at n={n:,}: did not finish in {timeout:g} s (--timeout)"
                return
            if measured:
                collector(measured[-1])
            try:
                _end_of(child, last, result.name)
            except TargetError as error:
                result.error, result.details = str(error), error.details
            if result.error is not None:
                break
