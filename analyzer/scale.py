"""Measure a target's cases at every size n and judge how they grow.

A target is ``file.py::NAME`` (a case function), ``file.py`` with ``@jaxlint.case``
functions, or ``file.py`` as a plain script: then each ``diffeqsolve`` call site the script
reaches is one case (see :mod:`.script`), keyed ``file.py:FUNCTION#ORDINAL`` and measured
as the jitted function around it (see :mod:`.resize`).

Where the user's code runs (see :mod:`.session`):

- default: one child process runs the target and lowers it at every n. Op counts do not
  depend on what a process has cached, so one process is enough for them; timings do, so
  in this mode the timing figures are shown but not judged (a note says so).
- ``fresh_process`` (and ``compile``): a fresh child process per n, so that trace, lower
  and compile seconds are honest; a compile that outlives ``compile_timeout`` is killed and
  reported as a finding, its lowering kept.
- ``in_process``: everything here, under a watchdog (:mod:`.guard`).

In every mode ``timeout`` bounds everything the user's code does for one target (running
or importing it, building cases, tracing and lowering every n); compiles have their own.

:func:`prepared_cases` and :func:`measure_at` are the per-size measurement on its own: a
case, a size, a :class:`SizeMeasurement`.
"""

from __future__ import annotations

import contextlib
import os
import sys
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, Sequence

from .cases import Target, TargetError, build_case, case_names, load_module
from .compile import DEFAULT_COMPILE_TIMEOUT, timeout_message
from .lower import LoweredProgram, LoweringError, lower_call
from .measure import Measurement, measure_lowered
from .verdict import TIMING_FIGURES, CaseVerdict, Flag, LineGrowth, judge

ProgressCallback = Callable[[str, int], None]  # (case name, n) after each measurement

# Beside a timing's fit when all n shared one process (caches carry over between sizes),
# and the line under the table that says why.
UNJUDGED_NOTE = "not judged"
UNJUDGED_WHY = "timings: every n was lowered in one process (caches carry over), so they are shown, not judged; --fresh-process judges them"


@dataclass
class CaseResult:
    """Everything measured for one case; ``error`` set when it could not be measured."""

    name: str  # the key: file.py::NAME, or file.py:FUNCTION#ORDINAL for a script's call
    ns: list[int]
    measurements: list[Measurement] = field(default_factory=list)
    verdict: CaseVerdict | None = None
    error: str | None = None
    details: str | None = None
    compile_timeouts: list[int] = field(default_factory=list)  # sizes whose compile was cut off
    axis: str = "n"  # what n counts: "save points", "max_steps", or "n" (a case function's own)
    site: tuple[str, int] | None = None  # (path as shown, line) of the call in the user's file
    notes: list[str] = field(default_factory=list)  # what was measured, fallbacks
    skipped: str | None = None  # why the case was not measured (no size to vary)
    aliases: list[str] = field(default_factory=list)  # names older baselines used for it

    @property
    def status(self) -> str:
        if self.skipped is not None:
            return "skipped"
        if self.error is not None:
            return "error"
        return "ok" if self.verdict is not None and self.verdict.ok else "fail"

    @property
    def title(self) -> str:
        """The name with where it is and what n is, for headers."""
        parts = []
        if self.site is not None:
            parts.append(f"line {self.site[1]}")
        if self.axis != "n":
            parts.append(f"n = {self.axis}")
        return f"{self.name} ({', '.join(parts)})" if parts else self.name


@dataclass
class ScaleRun:
    """One ``scale`` run: its cases, the platform lowered for, and notes for the reader."""

    target: str
    platform: str
    results: list[CaseResult]
    notes: list[str] = field(default_factory=list)
    compiled: bool = False
    shared_process: bool = False  # all n in one process: timings not judged


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
# One case at one size


@dataclass
class PreparedCase:
    """A case ready to be lowered at any n (the user's file has run or been imported)."""

    name: str
    axis: str = "n"
    site: tuple[str, int] | None = None
    site_key: str | None = None  # a script call's "abs/path.py:LINE", for workers
    notes: list[str] = field(default_factory=list)
    skipped: str | None = None
    aliases: list[str] = field(default_factory=list)
    lower_at: Callable[[int], tuple[LoweredProgram, list[str]]] | None = None

    def header(self) -> dict[str, Any]:
        return {"name": self.name, "axis": self.axis, "site": list(self.site) if self.site else None,
                "site_key": self.site_key, "notes": self.notes, "skipped": self.skipped, "aliases": self.aliases}


@dataclass
class SizeMeasurement:
    """One case lowered and measured at one n."""

    case: str
    n: int
    measurement: Measurement
    notes: list[str]  # e.g. a fallback taken at this n
    program: LoweredProgram  # for a later compile (stays in this process)


def measure_at(case: PreparedCase, n: int) -> SizeMeasurement:
    """Lower ``case`` at n and measure the program; every failure is a TargetError."""
    assert case.lower_at is not None, "a skipped case has nothing to lower"
    program, notes = case.lower_at(n)
    return SizeMeasurement(case.name, n, measure_lowered(program, n=n), notes, program)


def _case_function(module: Any, path: str, name: str, platform: str | None) -> Callable[[int], tuple[LoweredProgram, list[str]]]:
    def lower_at(n: int) -> tuple[LoweredProgram, list[str]]:
        built = build_case(module, path, name, n)
        try:
            return lower_call(built.fn, built.args, built.kwargs, platform=platform), []
        except LoweringError as error:
            raise TargetError(f"{path}::{name} at n={n}: {error}", details=error.details) from error

    return lower_at


@contextlib.contextmanager
def prepared_cases(
    target: Target,
    *,
    argv: Sequence[str] = (),
    size: str | None = None,
    platform: str | None = None,
    capture_only: bool = False,
    wanted_site: str | None = None,
) -> Iterator[list[PreparedCase]]:
    """The target's cases, ready to lower (a script's patches stay in place inside the block).

    Raises TargetError for problems with the whole target (an import or script that fails,
    a script with no solve call).
    """
    from .attribute import display_path
    from .script import CallSite, ScriptRun, SkipCall, has_case_markers, size_axis

    if target.name is not None or has_case_markers(target.path):
        module = load_module(target.path)
        base = os.path.basename(target.path)
        yield [
            PreparedCase(f"{base}::{name}", lower_at=_case_function(module, target.path, name, platform))
            for name in case_names(module, target)
        ]
        return
    from .resize import describe_program, lower_script_call

    wanted = [CallSite.from_key(wanted_site)] if wanted_site else None
    with ScriptRun(target.path, argv, first_only=capture_only, wanted=wanted) as capture:
        cases = []
        for call in capture.calls:
            case = PreparedCase(
                call.key, site=(display_path(call.site.path), call.site.line), site_key=call.site.key(),
                notes=[describe_program(call)], aliases=[call.site.name],
            )
            try:
                case.axis = size_axis(call, size)
            except SkipCall as skip:
                case.skipped = str(skip)
            else:
                case.lower_at = lambda n, call=call, axis=case.axis: lower_script_call(call, n, axis, platform=platform)
            cases.append(case)
        yield cases


# ---------------------------------------------------------------------------------------------
# A target at every size: the events a run produces (here or in a child process)

Emit = Callable[[dict[str, Any]], None]


def measure_target(
    target: Target,
    ns: Sequence[int],
    emit: Emit,
    *,
    argv: Sequence[str] = (),
    size: str | None = None,
    platform: str | None = None,
    capture_only: bool = False,
    activity: Any = None,
) -> None:
    """Prepare the target and measure every case at each n, reporting through ``emit``:
    ``case`` (a header), ``measured`` (one n), ``case_error``, ``target_error``."""

    def doing(text: str) -> None:
        if activity is not None:
            activity.text = text

    doing(f"running {target}")
    try:
        with prepared_cases(target, argv=argv, size=size, platform=platform, capture_only=capture_only) as cases:
            for case in cases:
                emit({"event": "case", **case.header()})
                if case.skipped is not None:
                    continue
                try:
                    for n in ns:
                        doing(f"{case.name} at n={n:,}")
                        sized = measure_at(case, n)
                        emit({"event": "measured", "name": case.name, "n": n,
                              "measurement": sized.measurement.to_json(), "notes": sized.notes})
                except TargetError as error:
                    emit({"event": "case_error", "name": case.name, "error": str(error), "details": error.details})
    except TargetError as error:
        emit({"event": "target_error", "error": str(error), "details": error.details})


class Collector:
    """Case results built from the events of :func:`measure_target`."""

    def __init__(self, ns: list[int], progress: ProgressCallback | None = None) -> None:
        self.ns = ns
        self.results: list[CaseResult] = []
        self.by_name: dict[str, CaseResult] = {}
        self.headers: dict[str, dict[str, Any]] = {}
        self.progress = progress
        self.target_error: TargetError | None = None
        self.on_measured: Callable[[CaseResult], None] | None = None

    def __call__(self, event: dict[str, Any]) -> None:
        kind = event["event"]
        if kind == "case":
            result = CaseResult(
                name=event["name"], ns=list(self.ns), axis=event.get("axis") or "n",
                site=tuple(event["site"]) if event.get("site") else None,  # type: ignore[arg-type]
                notes=list(event.get("notes") or []), skipped=event.get("skipped"), aliases=list(event.get("aliases") or []),
            )
            self.results.append(result)
            self.by_name[result.name] = result
            self.headers[result.name] = event
        elif kind == "measured":
            result = self.by_name[event["name"]]
            result.measurements.append(Measurement.from_json(event["measurement"]))
            result.notes.extend(note for note in event.get("notes", []) if note not in result.notes)
            if self.on_measured is not None:
                self.on_measured(result)
            if self.progress is not None:
                self.progress(result.name, event["n"])
        elif kind == "case_error":
            result = self.by_name[event["name"]]
            result.error, result.details = event["error"], event.get("details")
        elif kind == "target_error":
            self.target_error = TargetError(event["error"], details=event.get("details"))

    def unfinished(self) -> CaseResult | None:
        """The case being measured when the run stopped (None if all finished)."""
        for result in self.results:
            if result.status != "skipped" and result.error is None and len(result.measurements) < len(result.ns):
                return result
        return None


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


def judge_case(result: CaseResult, max_order: str, *, compile_timeout: float | None = None, judge_timings: bool = True) -> None:
    """Fit and flag ``result``'s figures (errors for a case that cannot be judged)."""
    if result.status in ("skipped", "error"):
        return
    try:
        verdict = judge(result.measurements, max_order=max_order, unjudged=() if judge_timings else TIMING_FIGURES)
    except ValueError as error:
        result.error = f"{result.name}: {error}"
        return
    for flag in verdict.flags:
        if flag.figure == "longest_run" and not flag.lines:
            flag.lines = run_lines(result.measurements)
    for n in result.compile_timeouts:
        seconds = compile_timeout if compile_timeout is not None else DEFAULT_COMPILE_TIMEOUT
        verdict.flags.append(Flag(figure="compile_seconds", order="worse", message=timeout_message(seconds, n)))
    result.verdict = verdict


def _prewarm_lint(result: CaseResult) -> None:
    """Start linting the files of lines likely to be flagged (see lint_match.prewarm): after
    the first size, those of the lines holding the most ops (where growth shows up in
    practice: diffrax/_integrate.py:785 holds 1,068 of 1,783 ops at 1k); once two sizes are
    in, those of the lines that grow. A guess that does not grow costs only the idle core."""
    from .lint_match import prewarm
    from .verdict import growing_lines

    if len(result.measurements) == 1:
        lines = result.measurements[0].lines
        heaviest = sorted(lines, key=lambda key: -sum(count for op, count in lines[key].items() if op != "constant_bytes"))[:3]
        prewarm(key.rpartition(":")[0] for key in heaviest if not key.startswith("<"))
        return
    grown = growing_lines(result.measurements, None) + run_lines(result.measurements)
    prewarm(dict.fromkeys(line.path for line in grown))


# ---------------------------------------------------------------------------------------------
# Entry point


def run_in_process(target: Target, ns: Sequence[int], collector: Any, *, timeout: float | None, **options: Any) -> None:
    """Everything in this process, under the watchdog (a missed deadline ends the process)."""
    from .guard import Activity, UserExit, guarded
    from .session import Interrupted

    activity = Activity(f"running {target}")
    try:
        with guarded(timeout, activity):
            measure_target(target, ns, collector, activity=activity, **options)
    except UserExit as exit_:
        raise TargetError(f"{target}: the user's code called os._exit({exit_.code})") from None
    except SystemExit as exit_:
        raise TargetError(f"{target}: the user's code called sys.exit({exit_.code!r})") from None
    except KeyboardInterrupt:
        raise Interrupted(f"{target}: interrupted") from None


def run_scale_report(
    target: Target,
    sizes: Sequence[int],
    *,
    in_process: bool = False,
    fresh_process: bool = False,
    timeout: float | None = None,
    platform: str | None = None,
    max_order: str = "constant",
    progress: ProgressCallback | None = None,
    compile: bool = False,
    compile_timeout: float | None = DEFAULT_COMPILE_TIMEOUT,
    capture_only: bool = False,
    argv: Sequence[str] = (),
    size: str | None = None,
) -> ScaleRun:
    """Measure every case of ``target`` at each n; a failing case never stops the others.

    Raises :class:`TargetError` for problems with the whole target (missing file, a script
    that raises or calls no solve, the timeout) and ``ValueError`` for contradictory options.
    """
    from .guard import check_timeout
    from .session import run_fresh_processes, run_session

    ns = sorted(set(sizes))
    if len(ns) < 2:
        raise ValueError("--n needs at least two distinct sizes to fit growth")
    check_timeout(timeout)
    if in_process and (compile or fresh_process):
        raise ValueError("--compile and --fresh-process need a fresh process per n; drop --in-process")
    with platform_settings(platform) as notes:
        if compile and platform not in (None, "cpu", resolved_platform(None)):
            notes.append(f"no compile: this machine cannot compile for {platform} (lowering only)")
            compile = False
        fresh = fresh_process or compile
        options = dict(argv=list(argv), size=size, platform=platform, capture_only=capture_only)
        collector = Collector(ns, progress)
        if not in_process:  # this process waits on a child: lint the growing lines' files meanwhile
            collector.on_measured = _prewarm_lint
        if in_process:
            run_in_process(target, ns, collector, timeout=timeout, **options)
        elif fresh:
            run_fresh_processes(target, ns, collector, timeout=timeout, compile=compile,
                                compile_timeout=compile_timeout if compile else None, **options)
        else:
            run_session(target, ns, collector, timeout=timeout, **options)
        if collector.target_error is not None:
            raise collector.target_error
    for result in collector.results:
        judge_case(result, max_order, compile_timeout=compile_timeout, judge_timings=fresh)
    measured_on = next((m.platform for r in collector.results for m in r.measurements), None)
    return ScaleRun(
        target=str(target), platform=platform or measured_on or resolved_platform(None), results=collector.results,
        notes=notes, compiled=compile, shared_process=not fresh,
    )


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
