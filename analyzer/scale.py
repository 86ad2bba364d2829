"""Measure a target's cases at every size n and judge how they grow.

A target is ``file.py::NAME`` (a case function), ``file.py`` with ``@jaxlint.case``
functions, or ``file.py`` as a plain script: then each ``diffeqsolve`` call site the script
reaches is one case, named ``file.py:LINE`` (see ``script``).

By default each (case, n) is lowered in a fresh subprocess (``worker``): caches distort
timings when several sizes share a process. ``in_process=True`` is faster when only counts
matter. With ``compile=True`` the worker also compiles (see ``compile``); a compile that
outlives ``compile_timeout`` is killed and reported as a finding, its lowering kept.
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
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, Sequence

from .cases import Target, TargetError, build_case, case_names, load_module
from .compile import DEFAULT_COMPILE_TIMEOUT, timeout_message
from .lower import LoweringError
from .measure import Measurement, measure
from .verdict import CaseVerdict, Flag, LineGrowth, judge

ProgressCallback = Callable[[str, int], None]  # (case name, n) after each measurement

_POLL_SECONDS = 0.05


@dataclass
class CaseResult:
    """Everything measured for one case; ``error`` set when it could not be measured."""

    name: str
    ns: list[int]
    measurements: list[Measurement] = field(default_factory=list)
    verdict: CaseVerdict | None = None
    error: str | None = None
    details: str | None = None
    compile_timeouts: list[int] = field(default_factory=list)  # sizes whose compile was cut off

    @property
    def status(self) -> str:
        if self.error is not None:
            return "error"
        return "ok" if self.verdict is not None and self.verdict.ok else "fail"


@dataclass
class ScaleRun:
    """One ``scale`` run: its cases, the platform lowered for, and notes for the reader."""

    target: str
    platform: str
    results: list[CaseResult]
    notes: list[str] = field(default_factory=list)
    compiled: bool = False


@dataclass
class _WorkerOutcome:
    measurement: Measurement
    compile_timed_out: bool = False


# ---------------------------------------------------------------------------------------------
# Platforms


NON_CPU_NOTE = (
    "equinox error checks switched off (EQX_ON_ERROR=nan) to lower for {platform}: they are "
    "host callbacks, which cannot be lowered for another platform"
)


@contextlib.contextmanager
def platform_settings(platform: str | None) -> Iterator[list[str]]:
    """For a non-CPU platform, switch equinox's runtime error callbacks to NaNs (env for
    workers, the module global where equinox is already imported); undone on exit."""
    notes: list[str] = []
    if platform in (None, "cpu"):
        yield notes
        return
    saved_env = os.environ.get("EQX_ON_ERROR")
    os.environ["EQX_ON_ERROR"] = "nan"
    errors_module = sys.modules.get("equinox._errors")
    saved_global = getattr(errors_module, "EQX_ON_ERROR", None)
    if errors_module is not None:
        errors_module.EQX_ON_ERROR = "nan"  # read at call time; the env var only at import
    notes.append(NON_CPU_NOTE.format(platform=platform))
    try:
        yield notes
    finally:
        if saved_env is None:
            os.environ.pop("EQX_ON_ERROR", None)
        else:
            os.environ["EQX_ON_ERROR"] = saved_env
        if errors_module is not None:
            errors_module.EQX_ON_ERROR = saved_global


def resolved_platform(platform: str | None) -> str:
    if platform is not None:
        return platform
    import jax

    return jax.default_backend()


# ---------------------------------------------------------------------------------------------
# Workers


def _kill(process: subprocess.Popen[Any]) -> None:
    """End the worker we started, and anything it started (its own process group)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def _read(path: str) -> dict[str, Any] | None:
    try:
        with open(path) as handle:
            return json.load(handle)
    except (FileNotFoundError, json.JSONDecodeError):
        return None


def _run_worker(
    request: dict[str, Any], label: str, timeout: float | None, compile_timeout: float | None
) -> _WorkerOutcome:
    """Run one worker; ``timeout`` bounds the lowering, ``compile_timeout`` the compile after it."""
    n = request["n"]
    with tempfile.TemporaryDirectory(prefix="jaxlint-") as scratch:
        request_path = os.path.join(scratch, "request.json")
        result_path = os.path.join(scratch, "result.json")
        log_path = os.path.join(scratch, "stderr.txt")
        with open(request_path, "w") as handle:
            json.dump(request, handle)
        with open(log_path, "w") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "jaxlint.analyzer.worker", request_path, result_path],
                stdout=subprocess.DEVNULL,
                stderr=log,
                cwd=os.getcwd(),
                start_new_session=True,
            )
            started = time.monotonic()
            lowered_at: float | None = None
            seen_mtime = 0.0
            result: dict[str, Any] | None = None
            try:
                while process.poll() is None:
                    time.sleep(_POLL_SECONDS)
                    now = time.monotonic()
                    if lowered_at is None and os.path.exists(result_path):
                        mtime = os.path.getmtime(result_path)
                        if mtime != seen_mtime:
                            seen_mtime = mtime
                            result = _read(result_path)
                            if result is not None and result.get("phase") == "lowered":
                                lowered_at = now
                    if lowered_at is None and timeout is not None and now - started > timeout:
                        _kill(process)
                        raise TargetError(f"{label}: lowering did not finish in {timeout:g} s at n={n}")
                    if lowered_at is not None and compile_timeout is not None and now - lowered_at > compile_timeout:
                        _kill(process)
                        assert result is not None
                        return _WorkerOutcome(Measurement.from_json(result["measurement"]), compile_timed_out=True)
            except BaseException:
                if process.poll() is None:
                    _kill(process)
                raise
        result = _read(result_path)
        if result is None:
            with open(log_path) as log:
                tail = "\n".join(log.read().strip().splitlines()[-20:])
            raise TargetError(
                f"{label}: the measuring process died at n={n} (exit code {process.returncode})",
                details=tail or None,
            )
    if "error" in result:
        raise TargetError(result["error"], details=result.get("details"))
    return _WorkerOutcome(Measurement.from_json(result["measurement"]))


# ---------------------------------------------------------------------------------------------
# Judging


def run_lines(measurements: Sequence[Measurement], limit: int = 10) -> list[LineGrowth]:
    """Unrolled runs whose repeats grow with n: one entry per (line, pattern), repeats per n."""
    ordered = sorted(measurements, key=lambda m: m.n or 0)
    per_key: dict[tuple[str, int, tuple[str, ...]], list[int]] = {}
    for index, measurement in enumerate(ordered):
        for run in measurement.runs:
            key = (run["path"], run["line"], tuple(run["pattern"]))
            counts = per_key.setdefault(key, [0] * len(ordered))
            counts[index] = max(counts[index], run["repeats"])
    grown = []
    for (path, line, pattern), counts in per_key.items():
        if counts[-1] > counts[0]:
            unit = " ".join(op.removeprefix("stablehlo.") for op in pattern)
            grown.append(LineGrowth(path, line, counts, {f"[{unit}]": counts[-1] - counts[0]}))
    grown.sort(key=lambda g: (-(g.counts[-1] - g.counts[0]), g.path, g.line))
    return grown[:limit]


def _judge(result: CaseResult, max_order: str, compile_timeout: float | None) -> None:
    verdict = judge(result.measurements, max_order=max_order)
    for flag in verdict.flags:
        if flag.figure == "longest_run" and not flag.lines:
            flag.lines = run_lines(result.measurements)
    for n in result.compile_timeouts:
        seconds = compile_timeout if compile_timeout is not None else DEFAULT_COMPILE_TIMEOUT
        verdict.flags.append(Flag(figure="compile_seconds", order="worse", message=timeout_message(seconds, n)))
    result.verdict = verdict


# ---------------------------------------------------------------------------------------------
# Targets


def _case_results(
    target: Target,
    ns: list[int],
    *,
    in_process: bool,
    timeout: float | None,
    platform: str | None,
    compile: bool,
    compile_timeout: float | None,
    progress: ProgressCallback | None,
) -> list[CaseResult]:
    # The parent imports the user's file only when it must: to run in-process, or to find the
    # @jaxlint.case functions. A named case in subprocess mode is loaded by the workers alone.
    module = None
    if in_process or target.name is None:
        module = load_module(target.path)  # raises TargetError for import problems
        names = case_names(module, target)
    else:
        names = [target.name]
    results: list[CaseResult] = []
    for name in names:
        label = f"{target.path}::{name}"

        def in_process_measurement(n: int, name: str = name, label: str = label) -> Measurement:
            built = build_case(module, target.path, name, n)
            try:
                return measure(built.fn, built.args, built.kwargs, n=n, platform=platform)
            except LoweringError as error:
                raise TargetError(f"{label} at n={n}: {error}", details=error.details) from error

        def worker_request(n: int, name: str = name) -> dict[str, Any]:
            return {"path": target.path, "name": name, "n": n, "platform": platform, "compile": compile}

        result = CaseResult(name=f"{os.path.basename(target.path)}::{name}", ns=ns)
        _measure_each_size(
            result, label, in_process_measurement if in_process else None, worker_request,
            timeout=timeout, compile_timeout=compile_timeout if compile else None, progress=progress,
        )
        results.append(result)
    return results


def _script_results(
    target: Target,
    ns: list[int],
    *,
    in_process: bool,
    timeout: float | None,
    platform: str | None,
    compile: bool,
    compile_timeout: float | None,
    capture_only: bool,
    progress: ProgressCallback | None,
) -> list[CaseResult]:
    from .script import build_call, capture_script, explain_lowering_error

    capture = capture_script(target.path, first_only=capture_only)  # TargetError: raised / no solve
    results: list[CaseResult] = []
    for call in capture.calls:

        def in_process_measurement(n: int, call: Any = call) -> Measurement:
            fn, args = build_call(call, n)
            try:
                return measure(fn, args, n=n, platform=platform)
            except LoweringError as error:
                message = explain_lowering_error(call, error) or f"{call.site.name} at n={n}: {error}"
                raise TargetError(message, details=error.details) from error

        def worker_request(n: int, call: Any = call) -> dict[str, Any]:
            return {"path": target.path, "site": call.site.key(), "n": n, "platform": platform, "compile": compile}

        result = CaseResult(name=call.site.name, ns=ns)
        _measure_each_size(
            result, call.site.name, in_process_measurement if in_process else None, worker_request,
            timeout=timeout, compile_timeout=compile_timeout if compile else None, progress=progress,
        )
        results.append(result)
    return results


def _measure_each_size(
    result: CaseResult,
    label: str,
    in_process_measurement: Callable[[int], Measurement] | None,
    worker_request: Callable[[int], dict[str, Any]],
    *,
    timeout: float | None,
    compile_timeout: float | None,
    progress: ProgressCallback | None,
) -> None:
    """Fill ``result`` with a measurement per n (in this process, or a fresh worker per n);
    the first TargetError becomes the case's error and stops only this case."""
    try:
        for n in result.ns:
            if in_process_measurement is not None:
                measurement = in_process_measurement(n)
            else:
                outcome = _run_worker(worker_request(n), label, timeout, compile_timeout)
                measurement = outcome.measurement
                if outcome.compile_timed_out:
                    result.compile_timeouts.append(n)
            result.measurements.append(measurement)
            if progress is not None:
                progress(result.name, n)
    except TargetError as error:
        result.error, result.details = str(error), error.details


def run_scale_report(
    target: Target,
    sizes: Sequence[int],
    *,
    in_process: bool = False,
    timeout: float | None = None,
    platform: str | None = None,
    max_order: str = "constant",
    progress: ProgressCallback | None = None,
    compile: bool = False,
    compile_timeout: float | None = DEFAULT_COMPILE_TIMEOUT,
    capture_only: bool = False,
) -> ScaleRun:
    """Measure every case of ``target`` at each n; a failing case never stops the others.

    Raises :class:`TargetError` for problems with the whole target (missing file, a script
    that raises or calls no solve) and ``ValueError`` for contradictory options.
    """
    from .script import has_case_markers

    ns = sorted(set(sizes))
    if len(ns) < 2:
        raise ValueError("--n needs at least two distinct sizes to fit growth")
    if compile and in_process:
        raise ValueError("--compile needs a fresh process per n (compile caches and timeouts); drop --in-process")
    with platform_settings(platform) as notes:
        if compile and platform not in (None, "cpu", resolved_platform(None)):
            notes.append(f"no compile: this machine cannot compile for {platform} (lowering only)")
            compile = False
        options = dict(in_process=in_process, timeout=timeout, platform=platform, compile=compile,
                       compile_timeout=compile_timeout, progress=progress)
        if target.name is None and not has_case_markers(target.path):
            results = _script_results(target, ns, capture_only=capture_only, **options)  # type: ignore[arg-type]
        else:
            results = _case_results(target, ns, **options)  # type: ignore[arg-type]
    for result in results:
        if result.error is None:
            try:
                _judge(result, max_order, compile_timeout)
            except ValueError as error:
                result.error = f"{result.name}: {error}"
    return ScaleRun(target=str(target), platform=resolved_platform(platform), results=results, notes=notes, compiled=compile)


def run_scale(
    target: Target,
    sizes: Sequence[int],
    *,
    in_process: bool = False,
    timeout: float | None = None,
    platform: str | None = None,
    max_order: str = "constant",
    progress: ProgressCallback | None = None,
    **options: Any,
) -> list[CaseResult]:
    """The case results of :func:`run_scale_report` (the original entry point, kept as is)."""
    return run_scale_report(
        target, sizes, in_process=in_process, timeout=timeout, platform=platform,
        max_order=max_order, progress=progress, **options,
    ).results
