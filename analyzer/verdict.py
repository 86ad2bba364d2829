"""Stage 6 — verdict: which fitted figures break the bar, and which source lines grew.

The bar: a structural figure (ops, branches, loops, calls) must not grow with n at all —
save points should change shapes, never the program. Any figure that grows faster than
linearly is flagged too. ``max_order`` moves the bar for both.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Sequence

from .attribute import CONSTANT_BYTES_KEY, UNKNOWN_LINE
from .figures import FIGURE_UNITS, STRUCTURAL_FIGURES
from .fit import ORDERS, Fit, fit_growth, order_rank
from .measure import Measurement
from .walk import BRANCH_OPS, CALL_OP, LOOP_OPS

# Figures measured by a clock: fitted with noise tolerance, never flagged below super-linear.
TIMING_FIGURES = ("trace_seconds", "lower_seconds", "compile_seconds", "compile_cpu_seconds")

# Which op kinds make up each structural figure, to find the lines behind a flag.
_FIGURE_OPS: dict[str, frozenset[str] | None] = {
    "ops": None,
    "ops_inlined": None,
    "branches": BRANCH_OPS,
    "loops": LOOP_OPS,
    "calls": frozenset({CALL_OP}),
    "constant_bytes": frozenset({CONSTANT_BYTES_KEY}),
}


@dataclass
class LineGrowth:
    """One source line whose op count grows with n."""

    path: str
    line: int
    counts: list[int]  # op count at each n (the flagged figure's ops)
    gained: dict[str, int]  # op kind -> how many more at the largest n than at the smallest


@dataclass
class Flag:
    figure: str
    order: str
    message: str
    lines: list[LineGrowth] = field(default_factory=list)


@dataclass
class CaseVerdict:
    fits: dict[str, Fit]
    flags: list[Flag]
    unjudged: tuple[str, ...] = ()  # fitted and shown, never flagged (timings from one shared process)

    @property
    def ok(self) -> bool:
        return not self.flags


def allowed_orders(max_order: str) -> tuple[str, str]:
    """(bar for structural figures, bar for the other figures)."""
    if max_order not in ORDERS:
        raise ValueError(f"max order {max_order!r} is not one of {', '.join(ORDERS)}")
    other = max_order if order_rank(max_order) > order_rank("linear") else "linear"
    return max_order, other


def growing_lines(
    measurements: Sequence[Measurement], op_kinds: frozenset[str] | None, limit: int = 10
) -> list[LineGrowth]:
    """Lines whose op count (of ``op_kinds``, or all ops) is larger at the largest n than the
    smallest (a Python loop's line counts every op made while it ran: see attribute). Ops with no user frame
    at all (``<no user frame>``) count in the figures but name no line here."""
    ordered = sorted(measurements, key=lambda m: m.n or 0)
    keys = sorted({key for m in ordered for key in m.lines} - {str(UNKNOWN_LINE)})

    def selected(ops: dict[str, int]) -> Counter[str]:
        if op_kinds is None:  # every op (the constant-bytes tally is not an op)
            return Counter({k: v for k, v in ops.items() if k != CONSTANT_BYTES_KEY})
        return Counter({k: v for k, v in ops.items() if k in op_kinds})

    grown: list[LineGrowth] = []
    for key in keys:
        per_n = [selected(m.lines.get(key, {})) for m in ordered]
        counts = [sum(c.values()) for c in per_n]
        if counts[-1] <= counts[0]:
            continue
        gained = per_n[-1] - per_n[0]  # Counter subtraction keeps only positive gains
        path, _, line = key.rpartition(":")
        grown.append(LineGrowth(path, int(line), counts, dict(gained.most_common())))
    grown.sort(key=lambda g: (-(g.counts[-1] - g.counts[0]), g.path, g.line))
    return grown[:limit]


def judge(
    measurements: Sequence[Measurement],
    max_order: str = "constant",
    figures: Sequence[str] | None = None,
    unjudged: Sequence[str] = (),
) -> CaseVerdict:
    """Fit every figure across the measurements and flag those past the bar (``unjudged``
    figures are fitted and shown, never flagged: timings from one shared process)."""
    ordered = sorted(measurements, key=lambda m: m.n or 0)
    ns = [m.n for m in ordered]
    if any(n is None for n in ns) or len(set(ns)) < 2:
        raise ValueError("a verdict needs measurements at two or more distinct sizes n")
    structural_bar, other_bar = allowed_orders(max_order)
    names = list(figures) if figures is not None else list(ordered[0].figures)
    fits: dict[str, Fit] = {}
    flags: list[Flag] = []
    for name in names:
        values = [m.figures.get(name) for m in ordered]
        if any(v is None for v in values):
            continue
        exact = name not in TIMING_FIGURES
        fit = fit_growth(ns, values, exact=exact)  # type: ignore[arg-type]
        fits[name] = fit
        if fit.order == "constant" or fit.per_n <= 0 or name in unjudged:
            continue
        bar = structural_bar if name in STRUCTURAL_FIGURES else other_bar
        if order_rank(fit.order) <= order_rank(bar):
            continue
        unit = FIGURE_UNITS.get(name, "")
        message = f"{name} grows {fit.describe(unit)} (allowed: {bar})"
        lines = growing_lines(ordered, _FIGURE_OPS[name]) if name in _FIGURE_OPS else []
        flags.append(Flag(figure=name, order=fit.order, message=message, lines=lines))
    return CaseVerdict(fits=fits, flags=flags, unjudged=tuple(name for name in unjudged if name in fits))
