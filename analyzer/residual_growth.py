"""Reverse-mode memory across sizes n: measure each case, fit the growth, judge it.

The stage after :mod:`.residuals` (one n) for ``jaxlint residuals``. Fitting and the bar are
the scale command's (:func:`.fit.fit_growth`, :func:`.verdict.allowed_orders`), with one
difference in the default: memory saved for reverse mode normally grows linearly in the
number of steps (a plain ``lax.scan`` stores every step), so the default bar is ``linear``
and ``max_order="constant"`` asks for O(1) memory (flags any growth, e.g. a scan where a
checkpointed or backsolve adjoint was intended).

Everything runs in this process: residuals are counted from the jaxpr, with no timings for
caches to distort (unlike ``scale``, which lowers each n in a fresh process by default).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Callable, Sequence

from .adjoints import AdjointComparison
from .cases import Target, TargetError
from .fit import order_rank
from .residual_fit import ProgressCallback, fit_residuals
from .residual_sources import CaseSource, case_sources
from .residuals import RESIDUAL_UNITS, ResidualError, ResidualMeasurement, measure_residuals
from .verdict import CaseVerdict, Flag, LineGrowth, allowed_orders

DEFAULT_MAX_ORDER = "linear"


@dataclass
class ResidualCaseResult:
    """One case's residual figures at every n, its verdict, and (optionally) its adjoint table."""

    name: str
    ns: list[int]
    measurements: list[ResidualMeasurement]
    verdict: CaseVerdict | None = None
    error: str | None = None
    details: str | None = None
    adjoints: AdjointComparison | None = None

    @property
    def status(self) -> str:
        if self.error is not None:
            return "error"
        if self.verdict is None or not self.verdict.ok:
            return "fail"
        if self.adjoints is not None and self.adjoints.disagreements:
            return "fail"
        return "ok"


def growing_residual_lines(measurements: Sequence[ResidualMeasurement], limit: int = 10) -> list[LineGrowth]:
    """Source lines whose residual bytes are larger at the largest n than at the smallest.

    ``counts`` are bytes per n; ``gained`` maps dtype -> bytes gained between the extremes.
    """
    ordered = sorted(measurements, key=lambda m: m.n or 0)
    grown: list[LineGrowth] = []
    for key in sorted({key for m in ordered for key in m.lines}):
        counts = [m.lines.get(key, 0) for m in ordered]
        if counts[-1] <= counts[0]:
            continue
        gained = Counter(ordered[-1].dtypes_by_line.get(key, {}))
        gained.subtract(ordered[0].dtypes_by_line.get(key, {}))
        path, _, line = key.rpartition(":")
        grown.append(
            LineGrowth(path or key, int(line) if line.isdigit() else 0, counts, {k: v for k, v in gained.most_common() if v > 0})
        )
    grown.sort(key=lambda g: (-(g.counts[-1] - g.counts[0]), g.path, g.line))
    return grown[:limit]


def judge_residuals(measurements: Sequence[ResidualMeasurement], max_order: str = DEFAULT_MAX_ORDER) -> CaseVerdict:
    """Flag each residual figure growing faster than ``max_order``, with the lines that grew."""
    bar, _ = allowed_orders(max_order)  # validates the name; memory figures all share one bar
    fits = fit_residuals(measurements)
    flags: list[Flag] = []
    for name, fit in fits.items():
        if fit.order == "constant" or fit.per_n <= 0 or order_rank(fit.order) <= order_rank(bar):
            continue
        message = f"{name} grows {fit.describe(RESIDUAL_UNITS[name])} (allowed: {bar})"
        lines = growing_residual_lines(measurements) if not name.startswith("compiled_") else []
        flags.append(Flag(figure=name, order=fit.order, message=message, lines=lines))
    return CaseVerdict(fits=fits, flags=flags)


def measure_case_at(source: CaseSource, n: int, *, compile: bool, largest: int) -> ResidualMeasurement:
    """Build the case at n and measure its residuals; every failure becomes a TargetError."""
    built = source.build(n)
    try:
        return measure_residuals(built.fn, built.args, built.kwargs, n=n, compile=compile, largest=largest)
    except ResidualError as error:
        raise TargetError(f"{source.where} at n={n}: {error}", details=error.details) from error


def run_residuals(
    target: Target,
    sizes: Sequence[int],
    *,
    compile: bool = False,
    max_order: str = DEFAULT_MAX_ORDER,
    largest: int = 5,
    adjoints: Callable[..., AdjointComparison] | None = None,
    progress: ProgressCallback | None = None,
) -> list[ResidualCaseResult]:
    """Measure every case (or script call site) of ``target`` at each n; a failing one never stops the others.

    ``adjoints``: a callable ``(source, ns, progress) -> AdjointComparison`` (see
    :func:`.adjoints.adjoint_runner`) run after each case's own measurement.
    """
    ns = sorted(set(sizes))
    if len(ns) < 2:
        raise ValueError("--n needs at least two distinct sizes to fit growth")
    allowed_orders(max_order)
    results: list[ResidualCaseResult] = []
    for source in case_sources(target):  # raises TargetError for import problems / a failing script
        result = ResidualCaseResult(name=source.name, ns=ns, measurements=[])
        try:
            for n in ns:
                result.measurements.append(measure_case_at(source, n, compile=compile, largest=largest))
                if progress is not None:
                    progress(result.name, n)
            result.verdict = judge_residuals(result.measurements, max_order=max_order)
            if adjoints is not None:
                result.adjoints = adjoints(source, ns, progress)
        except TargetError as error:
            result.error, result.details = str(error), error.details
        results.append(result)
    return results
