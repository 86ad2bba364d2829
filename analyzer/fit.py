"""Stage 5 — fit: how a figure grows with n.

Counts first get an exact test: when ``y = a + b·g(n)`` holds at every size with the same
``b`` between every pair (integer differences, no fitting), that model is the answer —
however close two sizes are. Otherwise each model (log n, n, n log n, n², n³) is fitted by
least squares and linear is kept unless another model is a real improvement on it (half
the residual, and more than rounding or noise apart). Timings are noisy: a timing only
counts as growing when it changes by more than the noise allows.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Sequence

# Orders from best to worst; the index is the rank used by --max-order.
ORDERS = ("constant", "log", "linear", "nlogn", "quadratic", "worse")

_MODELS: tuple[tuple[str, Callable[[float], float]], ...] = (
    ("log", math.log),
    ("linear", lambda n: n),
    ("nlogn", lambda n: n * math.log(n)),
    ("quadratic", lambda n: n * n),
    ("worse", lambda n: n * n * n),
)


def order_rank(order: str) -> int:
    return ORDERS.index(order)


@dataclass(frozen=True)
class Fit:
    """How one figure grows: its order, the growth per unit n, and the log-log exponent."""

    order: str
    per_n: float  # average growth per unit n over the measured range
    coefficient: float  # b of the chosen model y = a + b·g(n) (0 for constant)
    exponent: float  # slope of log(y - y_min) against log(n - n_min) over the range
    residual: float  # RMS residual of the chosen model relative to the figure's range

    def describe(self, unit: str = "") -> str:
        if self.order == "constant":
            return "constant"
        unit = f" {unit}" if unit else ""
        sign = "+" if self.per_n >= 0 else ""
        text = f"{self.order}: {sign}{self.per_n:.3g}{unit} per n"
        if self.order not in ("linear", "log"):
            text += f" (exponent {self.exponent:.2f})"
        return text


def _least_squares(xs: Sequence[float], ys: Sequence[float]) -> tuple[float, float, float]:
    """Fit y = a + b·x; return (a, b, RMS residual)."""
    count = len(xs)
    mean_x = sum(xs) / count
    mean_y = sum(ys) / count
    sxx = sum((x - mean_x) ** 2 for x in xs)
    if sxx == 0:
        return mean_y, 0.0, math.sqrt(sum((y - mean_y) ** 2 for y in ys) / count)
    b = sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys)) / sxx
    a = mean_y - b * mean_x
    rms = math.sqrt(sum((a + b * x - y) ** 2 for x, y in zip(xs, ys)) / count)
    return a, b, rms


def _exponent(ns: Sequence[float], ys: Sequence[float]) -> float:
    """Log-log slope of the growth above the smallest n (1 for linear, ~2 for quadratic)."""
    n0, y0 = ns[0], ys[0]
    points = [(math.log(n - n0), math.log(abs(y - y0))) for n, y in zip(ns[1:], ys[1:]) if y != y0]
    if len(points) >= 2:
        return _least_squares([p[0] for p in points], [p[1] for p in points])[1]
    # Two sizes: the slope of y itself (an underestimate when y has an intercept).
    if y0 > 0 and ys[-1] > 0:
        return math.log(ys[-1] / y0) / math.log(ns[-1] / n0)
    return 1.0


def _order_from_exponent(exponent: float) -> str:
    if exponent < 0.5:
        return "log"
    if exponent < 1.25:
        return "linear"
    if exponent < 1.6:
        return "nlogn"
    if exponent < 2.4:
        return "quadratic"
    return "worse"


def _exact_model(xs: Sequence[float], vs: Sequence[float]) -> tuple[str, float] | None:
    """The simplest model that passes through every point exactly, with its coefficient.

    Integer differences first: counts that are ``a + b·n`` have the same slope between every
    pair of sizes, however close two sizes are, so no fit of a curve can outrank them.
    """
    for order, transform in _MODELS:
        gs = [transform(x) for x in xs]
        slopes = [(v - vs[0]) / (g - gs[0]) for g, v in zip(gs[1:], vs[1:]) if g != gs[0]]
        if slopes and all(math.isclose(s, slopes[0], rel_tol=1e-9, abs_tol=1e-12) for s in slopes):
            return order, slopes[0]
    return None


def _choose(rms: dict[str, float], slack: float) -> str:
    """Linear unless another model is a *real* improvement on it.

    A model replaces the current choice only when its residual is at most half the choice's
    and smaller by more than ``slack`` (rounding for counts, noise for timings). So three
    points that barely tell the models apart (two close sizes) never make a line a log,
    while a curve that linear misses by far is named.
    """

    def better(candidate: str, than: str) -> bool:
        return rms[candidate] + slack < 0.5 * rms[than]

    if better("log", "linear"):
        return "log"
    chosen = "linear"
    for order in ("nlogn", "quadratic", "worse"):
        if better(order, chosen):
            chosen = order
    return chosen


def fit_growth(
    ns: Sequence[int], ys: Sequence[float], *, exact: bool = True, noise: float = 0.25, noise_floor: float = 0.2
) -> Fit:
    """Classify how ``ys`` grows over ``ns`` (at least two distinct sizes, sorted or not).

    ``exact``: the figure is a deterministic count; any change is growth.
    Otherwise ``noise`` is the relative change (max/min − 1) that timings may show by chance,
    and ``noise_floor`` the absolute change (seconds) below which a timing is called constant.
    A size given more than once counts once, with the mean of its values.
    """
    by_n: dict[float, list[float]] = {}
    for n, y in zip(ns, ys):
        by_n.setdefault(float(n), []).append(float(y))
    xs = sorted(by_n)
    vs = [sum(by_n[x]) / len(by_n[x]) for x in xs]
    if len(xs) < 2:
        raise ValueError("fitting growth needs at least two distinct sizes n")
    low, high = min(vs), max(vs)
    spread = high - low
    if spread == 0 or (not exact and spread <= max(noise * abs(low), noise_floor)):
        return Fit("constant", 0.0, 0.0, 0.0, 0.0)

    per_n = (vs[-1] - vs[0]) / (xs[-1] - xs[0])
    exponent = _exponent(xs, vs)
    if len(xs) == 2:
        # Two points fit every model exactly, and an intercept hides the true exponent:
        # call it linear unless y itself grows faster than n.
        order = _order_from_exponent(exponent) if exponent >= 1.25 else "linear"
        return Fit(order, per_n, per_n, exponent, 0.0)

    if exact:
        found = _exact_model(xs, vs)
        if found is not None:
            return Fit(found[0], per_n, found[1], exponent, 0.0)

    fits: dict[str, tuple[float, float]] = {}
    for order, transform in _MODELS:
        _, b, rms = _least_squares([transform(x) for x in xs], vs)
        fits[order] = (b, rms)
    rms = {order: fit[1] for order, fit in fits.items()}
    # Counts: an op or so of rounding (1.07 ops per n is a linear count with integer jitter).
    # Timings: a few percent of the figure's range.
    slack = min(1.0, 0.004 * spread) if exact else 0.01 * spread
    order = _choose(rms, slack)
    best_residual = min(rms.values()) / spread
    if exact and best_residual > 0.25:
        # Nothing fits (e.g. a step change): fall back on the exponent if it says worse.
        # Never for timings: there a poor fit is noise, not evidence.
        fallback = _order_from_exponent(exponent)
        if order_rank(fallback) > order_rank(order):
            order = fallback
    if not exact and order_rank(order) > order_rank("linear") and vs[0] > 0 and vs[-1] / vs[0] < xs[-1] / xs[0]:
        # A timing that grew by less than n did cannot be super-linear, whatever the curve
        # through three noisy points looks like (0.28 / 0.34 / 0.97 s at 1k / 10k / 30k).
        order = "linear"
    b, residual = fits[order]
    return Fit(order, per_n, b, exponent, residual / spread)
