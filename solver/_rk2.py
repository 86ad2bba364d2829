"""Second-order two-stage explicit methods: Heun, Midpoint and Ralston.

All three embed explicit Euler (``b_embedded = [1, 0]``) for an error estimate of order 2,
so they work with `PIDController`.

Dense output is the cubic Hermite interpolant (as in diffrax), which needs the slope at
``(t1, y1)``: each tableau gets a third, first-same-as-last stage evaluating it (the row
``a_3 = b``, weight 0). The next step reuses that evaluation as its first stage, so an
accepted step still costs two vector-field evaluations.
"""

from __future__ import annotations

from typing import ClassVar

from ._interpolation import ThirdOrderHermitePolynomialInterpolation
from ._runge_kutta import AbstractRungeKutta, ButcherTableau
from ._solver_base import AbstractAdaptiveSolver


def _with_slope_at_t1(c2: float, b: list[float]) -> ButcherTableau:
    """The two-stage tableau ``(c2, a21 = c2, b)`` with Euler embedded and a third stage at
    ``(t1, y1)`` for the Hermite dense output."""
    return ButcherTableau.from_rows(
        c=[0.0, c2, 1.0], a_rows=[[c2], b], b=[*b, 0.0], b_embedded=[1.0, 0.0, 0.0]
    )


class _AbstractRK2(AbstractRungeKutta, AbstractAdaptiveSolver):
    interpolation_cls: ClassVar[type[ThirdOrderHermitePolynomialInterpolation]] = (
        ThirdOrderHermitePolynomialInterpolation
    )
    _order: ClassVar[int] = 2
    _error_order: ClassVar[float] = 2.0


class Heun(_AbstractRK2):
    """Heun's method (explicit trapezoidal rule): ``k1 = f(t0, y0) h``,
    ``k2 = f(t1, y0 + k1) h``, ``y1 = y0 + (k1 + k2) / 2``."""

    tableau: ClassVar[ButcherTableau] = _with_slope_at_t1(1.0, [0.5, 0.5])


class Midpoint(_AbstractRK2):
    """The explicit midpoint method: ``k2 = f(t0 + h/2, y0 + k1/2) h``, ``y1 = y0 + k2``."""

    tableau: ClassVar[ButcherTableau] = _with_slope_at_t1(0.5, [0.0, 1.0])


class Ralston(_AbstractRK2):
    """Ralston's method: the two-stage second-order method with minimal truncation error
    bound (``c2 = 2/3``, ``b = [1/4, 3/4]``). Ralston, Math. Comp. 16 (1962)."""

    tableau: ClassVar[ButcherTableau] = _with_slope_at_t1(2 / 3, [0.25, 0.75])


__all__ = ["Heun", "Midpoint", "Ralston"]
