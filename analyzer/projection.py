"""``--project-compile``: how long will XLA take at n = 30k? Calibrate on cheap compiles, project.

The op count says a program grows; it cannot say what the growth costs. The same 11,400 ops
compile in 2.4 s in one diffrax 0.6.1 program and in 109 s in another (literal ``t0``/``t1``
let XLA fold the growing branch away), and compile time is super-linear in the program's size
with an exponent that itself rises with n. So the cost is measured, per case, on a few
compiles that each take seconds, and extrapolated with an honest range:

1. **Calibrate.** Compile at n = ``start``, ``2·start``, ``4·start``, … (never past the largest
   requested n), each in a fresh process with jax's compilation cache off. Before each compile
   the cost is predicted from what was measured so far (on the op count the lowering gives for
   that n, when known): a size predicted to exceed the remaining budget is never compiled. Each
   compile is bounded by ``min(step limit, remaining budget)`` and killed past it; a compile
   that is killed is a lower bound, and calibration stops.
2. **Fit.** Compile seconds follow ``t(x) = floor + a·x^b`` over x = the inlined op count (or
   n when the lowering gives no count); ``floor``, what does not grow, is taken as half the
   smallest compile. The exponent *now* is fitted over the last three compiles; the local
   exponents between consecutive compiles show how fast it rises.
3. **Project** from the largest calibration point (x_c, t_c) to each requested x:
   ``t = floor + (t_c − floor)·(x/x_c)^b``. Compile cost curves upwards in log-log (XLA passes
   that are linear at small n become super-linear later), so the exponent keeps rising by its
   measured rise per doubling (at least ``RISE_PRIOR``): the central value continues half of
   that rise over the doublings to x, but its exponent stops at ``CENTRAL_CEILING_EXPONENT``
   (or the fitted one, if steeper): once XLA's compile cost is super-linear, its local exponent
   levels off near 2 (quadratic passes over the program: 1.2–2.2 between the two largest
   compiles of each of the benchmark's curves, up to 10-minute compiles; #606 with traced
   ``t0``/``t1`` touched 2.7 once, then 2.0), while a rise extrapolated from noisy small compiles
   would keep climbing. The upper end takes all of the rise up to ``UPPER_CEILING_EXPONENT``
   (a rise fitted on two noisy steps once put it at exponent 8), the lower end none (the
   smallest exponent seen); both ends are widened by ``EXPONENT_MARGIN``. Slopes come only
   from steps over which the program grows by ``TIMING_NOISE²`` or more (smaller steps are
   timing noise). A compile that was killed is a point under the curve: everything beyond it
   grows from its limit with the same exponents. When compile time has not grown at all
   over the calibration, nothing says how it will: the range runs from flat to
   ``FLAT_CEILING_EXPONENT`` (the steepest growth measured) and the verdict says so.
4. **Judge.** A case whose ops grow but whose compile seconds stay within noise of the floor
   over the calibration range is said to be "structure grows, compile flat over the calibration
   range" (XLA folds it); a projection whose upper bound at the largest requested n exceeds
   the budget is flagged.

Compiled memory (``memory_analysis()``: arguments + outputs + temporaries) is projected the
same way. Compile seconds are CPU seconds of the compiling process (on an idle machine, the
wall time of XLA's compile; unlike wall time, barely disturbed by other work on a shared one).
Everything here is a projection and is labelled so in every output.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

DEFAULT_COMPILE_BUDGET = 60.0  # wall seconds of calibration compiles per case
DEFAULT_START = 16
DEFAULT_SETUP_LIMIT = 600.0  # seconds for a calibration child to start, run the user's code and lower
# The model's constants, chosen on the measured curves of benchmarks/compile_projection.py
# (growing programs, n from 16 to where one compile takes a minute; see RESULTS.md):
FLOOR_FRACTION = 0.5  # the part of the smallest compile that does not grow with the program
FIT_POINTS = 3  # the exponent now: fitted over the last three calibration compiles
RISE_PRIOR = 0.2  # the least rise of the exponent per doubling (measured: 0.1-0.6 at these sizes)
EXPONENT_MARGIN = 0.3  # widens both ends of the range: slopes come from noisy timings
FLAT_FACTOR = 1.5  # compile is "flat" while it stays within this factor of the smallest compile
FLAT_CEILING_EXPONENT = 2.5  # the steepest local exponent measured on a growing program
CENTRAL_CEILING_EXPONENT = 2.0  # where measured local exponents level off (see step 3 above)
UPPER_CEILING_EXPONENT = 3.0  # the upper end's rise stops at cubic (steepest measured step on ops: 2.7)
TIMING_NOISE = 1.3  # one compile's time varies by this factor between runs on a busy machine
MEMORY_MARGIN = 0.1  # the range of a memory projection: its exponent ± this
NOISE_SECONDS = 0.02  # differences of compile time below this are noise, whatever the size


@dataclass
class CompileSample:
    """One compile at one n, in a fresh process."""

    n: int
    ops_inlined: float | None = None
    seconds: float | None = None  # CPU seconds of the compile; None when it was killed or failed
    wall_seconds: float | None = None
    peak_bytes: float | None = None  # arguments + outputs + temporaries of the compiled program
    killed_after: float | None = None  # the limit it ran past (a lower bound on seconds)
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


@dataclass
class Projected:
    """A projected figure at one n: central value and range, with the exponent behind each."""

    n: int
    x: float  # what the projection ran on (n, or the op count at n)
    value: float
    low: float
    high: float
    measured: bool = False  # n was itself compiled during calibration


@dataclass
class CompileProjection:
    """The calibration, the fitted exponents and the projections of one case."""

    samples: list[CompileSample]
    axis: str  # "ops_inlined" or "n": what compile seconds were fitted against
    floor: float | None = None
    exponents: list[float] = field(default_factory=list)  # local log-log slopes, in order
    seconds: list[Projected] = field(default_factory=list)
    memory: list[Projected] = field(default_factory=list)
    budget: float = DEFAULT_COMPILE_BUDGET
    spent: float = 0.0  # wall seconds of calibration compiles (what the budget bounds)
    elapsed: float = 0.0  # wall seconds of the whole calibration, child start-up and lowering included
    stopped: str = ""  # why calibration stopped
    verdict: str = ""  # "ok" | "flag" | "flat" | "unknown"
    message: str = ""

    @property
    def flagged(self) -> bool:
        return self.verdict == "flag"


def format_seconds(value: float) -> str:
    """3.2 s, 4.5 min, 2.1 h: compile times span six orders of magnitude."""
    if value < 120:
        return f"{value:.3g} s"
    if value < 7200:
        return f"{value / 60:.3g} min"
    return f"{value / 3600:.3g} h"


# --- one compile in a fresh process ---------------------------------------------------------------


def session_compile_at(target: Any, case: str, options: dict[str, Any], *, setup_limit: float = DEFAULT_SETUP_LIMIT,
                       python: str | None = None) -> Callable[[int, float], CompileSample]:
    """``compile_at`` for any ``scale`` target (a case function or a script's call): each n is
    lowered and compiled in a fresh child exactly as ``scale --compile`` does (the script is run
    again, its call re-captured and re-traced at n). The compile is killed ``limit`` wall seconds
    after the lowering arrived; start-up, the user's code and the lowering get ``setup_limit``.
    ``python``: run the child with another interpreter (the benchmark's diffrax 0.6.1 cases)."""
    from .session import _Child

    def compile_at(n: int, limit: float) -> CompileSample:
        request = {"mode": "one", "path": target.path, "name": target.name, "case": case, "site_key": None,
                   "ns": [n], "compile": True, **options}
        measured: list[dict[str, Any]] = []
        errors: list[str] = []

        def on_event(event: dict[str, Any]) -> None:
            if event["event"] == "measured":
                measured.append(event["measurement"]["figures"])
            elif event["event"] == "case_error":
                errors.append(event["error"])

        started = time.monotonic()
        lowered_at: list[float] = []

        def on_event_timed(event: dict[str, Any]) -> None:
            if event["event"] == "measured" and not lowered_at:
                lowered_at.append(time.monotonic())
            on_event(event)

        def deadline() -> float:
            return lowered_at[0] + limit if lowered_at else started + setup_limit

        child = _Child(request, python)
        try:
            last = child.follow(on_event_timed, deadline)
        finally:
            child.close()
        sample = CompileSample(n=n, ops_inlined=measured[0].get("ops_inlined") if measured else None)
        if last is not None and last["event"] == "timeout" and lowered_at:
            sample.killed_after = limit
        elif last is not None and last["event"] == "timeout":
            sample.error = f"running and lowering the case at n={n} took over {setup_limit:g} s"
        elif errors or last is None or last["event"] != "done" or len(measured) < 2:
            sample.error = errors[0] if errors else f"the compile at n={n} did not finish"
        else:
            _fill_compiled(sample, measured[-1])
        return sample

    return compile_at


def _fill_compiled(sample: CompileSample, figures: dict[str, Any]) -> None:
    sample.seconds = figures.get("compile_cpu_seconds", figures.get("compile_seconds"))
    sample.wall_seconds = figures.get("compile_seconds")
    parts = [figures.get(k) for k in ("compiled_argument_bytes", "compiled_output_bytes", "compiled_temp_bytes")]
    sample.peak_bytes = float(sum(parts)) if all(p is not None for p in parts) else None


# --- fitting and projecting ----------------------------------------------------------------------


def _local_exponents(points: Sequence[tuple[float, float]], floor: float) -> list[float]:
    """Log-log slopes of (t − floor) between successive points whose growth is above noise.

    A slope needs the program to grow by at least ``TIMING_NOISE**2`` between its two points:
    each time is known to a factor ``TIMING_NOISE``, so over a smaller step the slope is noise
    (#606's op count grows 2.5 % from n = 16 to 32, and its slope there came out as −13). A
    point too close to the last one used is skipped."""
    usable = [(x, t - floor) for x, t in points if t - floor > NOISE_SECONDS and x > 0]
    slopes = []
    anchor = usable[0] if usable else None
    for x1, y1 in usable[1:]:
        x0, y0 = anchor
        if x1 >= x0 * TIMING_NOISE**2:
            slopes.append(math.log(y1 / y0) / math.log(x1 / x0))
            anchor = (x1, y1)
    return slopes


def _recent_exponent(points: Sequence[tuple[float, float]], floor: float) -> float | None:
    """Least-squares log-log slope of (t − floor) over the last ``FIT_POINTS`` usable points:
    how fast the cost grows at the top of the calibration, steadier than the last pair alone."""
    usable = [(math.log(x), math.log(t - floor)) for x, t in points[-FIT_POINTS:] if t - floor > NOISE_SECONDS and x > 0]
    if len(usable) < 2:
        return None
    mean_x = sum(x for x, _ in usable) / len(usable)
    mean_y = sum(y for _, y in usable) / len(usable)
    spread = sum((x - mean_x) ** 2 for x, _ in usable)
    return sum((x - mean_x) * (y - mean_y) for x, y in usable) / spread if spread > 0 else None


def _rise_per_doubling(slopes: Sequence[float]) -> float:
    """How much the local exponent rose per calibration step (at least ``RISE_PRIOR``)."""
    if len(slopes) < 2:
        return RISE_PRIOR
    return max(RISE_PRIOR, (slopes[-1] - slopes[0]) / (len(slopes) - 1))


def project(points: Sequence[tuple[float, float]], targets: Sequence[tuple[int, float]],
            lower_bounds: Sequence[tuple[float, float]] = (), *, curving: bool = True) -> tuple[float, list[float], list[Projected]]:
    """Project t at each target (n, x) from calibration points (x, t), x increasing.

    Returns (floor, local exponents, projections). ``lower_bounds``: (x, t) pairs known to cost
    at least t (killed compiles): nothing at or beyond x is projected under t. ``curving=False``
    for a figure whose exponent does not rise with size (compiled memory: buffers scale with
    the program, no pass turns super-linear): the exponent now is continued as it is, the
    range widened by ``MEMORY_MARGIN``."""
    points = sorted(points)
    smallest_t = min(t for _, t in points)
    floor = FLOOR_FRACTION * smallest_t
    slopes = _local_exponents(points, floor)
    recent = _recent_exponent(points, floor)
    x_c, t_c = points[-1]
    grown = t_c - floor
    measured = dict(points)
    flat = max(t for _, t in points) < FLAT_FACTOR * smallest_t or recent is None
    rise = _rise_per_doubling(slopes) if curving else 0.0
    margin = EXPONENT_MARGIN if curving else MEMORY_MARGIN
    out: list[Projected] = []
    for n, x in targets:
        if x in measured:
            out.append(Projected(n, x, measured[x], measured[x], measured[x], True))
            continue
        if x <= x_c:  # inside the calibration range: interpolate between the measured points
            below = max((p for p in points if p[0] <= x), default=points[0])
            above = min((p for p in points if p[0] >= x), default=points[-1])
            value = below[1] if above[0] == below[0] else below[1] + (above[1] - below[1]) * (x - below[0]) / (above[0] - below[0])
            out.append(Projected(n, x, value, below[1], above[1]))
            continue
        ratio = x / x_c
        if flat and curving:
            # Nothing grew yet: the cost beyond is unknown. Central: proportional to the program;
            # range: from flat to the steepest growth measured (FLAT_CEILING_EXPONENT).
            central_exponent, low_exponent, high_exponent = 1.0, 0.0, FLAT_CEILING_EXPONENT
            value, low, high = t_c * ratio, t_c, t_c * ratio**high_exponent
        elif recent is None:  # a figure that does not grow at all (memory of a flat program)
            central_exponent = low_exponent = high_exponent = 0.0
            value = low = high = t_c
        else:
            doublings = math.log2(ratio)
            high_exponent = min(recent + rise * doublings, max(recent, UPPER_CEILING_EXPONENT)) + margin
            # The lower end: no further rise, and the slowest growth among the recent steps
            # (the early, tiny compiles are noise-dominated and say nothing about the top).
            recent_slopes = slopes[-(FIT_POINTS - 1):] if curving else []
            low_exponent = max(0.0, min([recent, *recent_slopes]) - margin)
            central_exponent = min(recent + rise * doublings / 2, max(recent, CENTRAL_CEILING_EXPONENT))
            value = floor + grown * ratio**central_exponent
            high = floor + grown * ratio**high_exponent
            low = floor + grown * ratio**low_exponent
        if curving:
            low, high = low / TIMING_NOISE, high * TIMING_NOISE
        for bound_x, bound_t in lower_bounds:
            if bound_x <= x:
                # A killed compile is a point under the curve: beyond it the cost grows from there
                # at least as the calibrated curve grows (central, low and high exponents alike).
                beyond = x / bound_x
                value = max(value, bound_t * beyond**central_exponent)
                low = max(low, bound_t * beyond**low_exponent)
                high = max(high, bound_t * (TIMING_NOISE if curving else 1.0) * beyond**high_exponent)
        out.append(Projected(n, x, value, low, high))
    return floor, slopes, out


def ops_between(measured: dict[int, float | None]) -> Callable[[int], float | None]:
    """The inlined op count at any n from the lowering's counts at the requested sizes: exact
    there, linear between and beyond the nearest two (op counts that grow are affine in n in
    practice: one copy of something per element). Used to predict a calibration compile's cost
    before running it."""
    known = sorted((n, float(v)) for n, v in measured.items() if v)

    def ops_at(n: int) -> float | None:
        if not known:
            return None
        if len(known) == 1 or n in dict(known):
            return dict(known).get(n, known[0][1])
        below = [p for p in known if p[0] <= n]
        above = [p for p in known if p[0] >= n]
        (n0, v0), (n1, v1) = (below[-1], above[0]) if below and above else (known[:2] if not below else known[-2:])
        return max(1.0, v0 + (v1 - v0) * (n - n0) / (n1 - n0))

    return ops_at


# --- calibration ---------------------------------------------------------------------------------


def calibration_sizes(requested: Sequence[int], start: int = DEFAULT_START) -> list[int]:
    """start, 2·start, 4·start, … up to the largest requested n; a requested n replaces the
    doubling sizes within 25 % of it (the user's own sizes are the best calibration)."""
    top = max(requested)
    wanted = sorted(set(int(r) for r in requested))
    sizes, n = [], max(1, min(start, top))
    while n < top:
        if not any(0.8 <= n / r <= 1.25 for r in wanted):
            sizes.append(n)
        n *= 2
    return sorted({*sizes, *wanted})


def calibrate_and_project(
    compile_at: Callable[[int, float], CompileSample],
    requested: Sequence[int],
    *,
    ops_at: Callable[[int], float | None] | None = None,
    budget: float = DEFAULT_COMPILE_BUDGET,
    step_limit: float | None = None,
    start: int = DEFAULT_START,
    clock: Callable[[], float] = time.perf_counter,
) -> CompileProjection:
    """Calibrate with ``compile_at(n, limit)`` and project compile seconds and memory at each
    requested n. ``ops_at(n)``: the inlined op count at n from the lowering (cheap), used both
    to skip compiles predicted to blow the budget and as the projection's axis."""
    requested = sorted(set(int(n) for n in requested))
    step_limit = budget if step_limit is None else min(step_limit, budget)
    began = clock()
    spent = 0.0  # wall seconds spent compiling (start-up and lowering are not charged to the budget)
    samples: list[CompileSample] = []
    stopped = "reached the largest requested n"
    ops_cache: dict[int, float | None] = {}

    def ops(n: int) -> float | None:
        if ops_at is None:
            return None
        if n not in ops_cache:
            ops_cache[n] = ops_at(n)
        return ops_cache[n]

    for n in calibration_sizes(requested, start):
        remaining = budget - spent
        if remaining <= 0:
            stopped = f"calibration budget of {budget:g} s spent"
            break
        done = [s for s in samples if s.seconds is not None]
        if len(done) >= 2:
            axis = "ops_inlined" if all(s.ops_inlined for s in done) and ops(n) else "n"
            x = ops(n) if axis == "ops_inlined" else float(n)
            points = [((s.ops_inlined if axis == "ops_inlined" else float(s.n)), s.seconds) for s in done]
            _, _, (guess,) = project(points, [(n, float(x))])
            # Wall time of the next compile ≈ its CPU time scaled by what the last one took.
            last = done[-1]
            stretch = (last.wall_seconds or last.seconds) / last.seconds if last.seconds else 1.0
            if guess.value * max(stretch, 1.0) > min(remaining, step_limit):
                stopped = (f"n={n:,} would take ~{guess.value:.3g} s to compile (projected from the "
                           f"calibration{' and its op count' if axis == 'ops_inlined' else ''}), over the "
                           f"{'remaining budget' if remaining < step_limit else 'per-compile limit'}")
                break
        sample = compile_at(n, min(remaining, step_limit))
        samples.append(sample)
        spent += sample.killed_after or sample.wall_seconds or sample.seconds or 0.0
        if sample.killed_after is not None:
            stopped = f"the compile at n={n:,} ran past {sample.killed_after:.3g} s and was stopped"
            break
        if sample.error is not None:
            stopped = f"the compile at n={n:,} failed: {sample.error}"
            break
    result = CompileProjection(samples=samples, axis="n", budget=budget, spent=spent, elapsed=clock() - began, stopped=stopped)
    _fill_projection(result, requested, ops)
    return result


def _fill_projection(result: CompileProjection, requested: Sequence[int], ops: Callable[[int], float | None]) -> None:
    done = [s for s in result.samples if s.seconds is not None]
    if len(done) < 2:
        result.verdict, result.message = "unknown", f"too few compiles to project ({result.stopped})"
        return
    use_ops = all(s.ops_inlined for s in done) and all(ops(n) for n in requested)
    result.axis = "ops_inlined" if use_ops else "n"

    def x_of(n: int, sample: CompileSample | None = None) -> float:
        if use_ops:
            return float(sample.ops_inlined if sample is not None else ops(n))  # type: ignore[arg-type]
        return float(n)

    points = [(x_of(s.n, s), s.seconds) for s in done]
    bounds = [(x_of(s.n, s) if s.ops_inlined or not use_ops else float("inf"), s.killed_after)
              for s in result.samples if s.killed_after is not None]
    targets = [(n, x_of(n)) for n in requested]
    result.floor, result.exponents, result.seconds = project(points, targets, bounds)  # type: ignore[arg-type]
    memory = [(x_of(s.n, s), s.peak_bytes) for s in done if s.peak_bytes]
    if len(memory) >= 2:
        _, _, result.memory = project(memory, targets, curving=False)  # type: ignore[arg-type]
    compiled = {s.n for s in done}
    for p in result.seconds:
        if p.measured and p.n not in compiled:
            # An n never compiled whose program has a calibrated size (ops that do not grow): a
            # projection, not a measurement; both compiles' times vary by TIMING_NOISE.
            p.measured, p.low, p.high = False, p.value / TIMING_NOISE**2, p.value * TIMING_NOISE**2
    for p in result.memory:
        p.measured = p.measured and p.n in compiled
    top = result.seconds[-1]
    grew_ops = len({s.ops_inlined for s in done}) > 1
    times = [s.seconds for s in done]
    flat = max(times) < FLAT_FACTOR * min(times)  # type: ignore[type-var,operator]
    if flat and grew_ops:
        result.verdict = "flat"
        result.message = ("structure grows, compile flat over the calibration range (n ≤ "
                          f"{done[-1].n:,}); beyond it only a range can be given: raise --compile-budget to calibrate further")
        if top.high > result.budget:
            result.message += f" (its upper end at n={top.n:,}, {format_seconds(top.high)}, passes the {format_seconds(result.budget)} budget)"
    elif top.high > result.budget:
        result.verdict = "flag"
        result.message = (f"projected compile at n={top.n:,}: ~{format_seconds(top.value)} (range "
                          f"{format_seconds(top.low)} to {format_seconds(top.high)}), over the {format_seconds(result.budget)} budget")
    else:
        result.verdict = "ok"
        result.message = (f"projected compile at n={top.n:,}: ~{format_seconds(top.value)} (range "
                          f"{format_seconds(top.low)} to {format_seconds(top.high)})")

