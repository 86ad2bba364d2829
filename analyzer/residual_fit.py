"""Fitting residual figures across sizes n (shared by ``residuals`` and ``--adjoints``)."""

from __future__ import annotations

from typing import Callable, Sequence

from .fit import Fit, fit_growth
from .residuals import RESIDUAL_FIGURES, ResidualMeasurement

ProgressCallback = Callable[[str, int], None]  # (what was measured, n)


def fit_residuals(measurements: Sequence[ResidualMeasurement]) -> dict[str, Fit]:
    """Fit every residual figure present at all n (exact counts, no noise allowance)."""
    ordered = sorted(measurements, key=lambda m: m.n or 0)
    ns = [m.n for m in ordered]
    if any(n is None for n in ns) or len(set(ns)) < 2:
        raise ValueError("fitting residual growth needs measurements at two or more distinct sizes n")
    fits: dict[str, Fit] = {}
    for name in RESIDUAL_FIGURES:
        values = [m.figures.get(name) for m in ordered]
        if all(v is not None for v in values):
            fits[name] = fit_growth(ns, values, exact=True)  # type: ignore[arg-type]
    return fits
