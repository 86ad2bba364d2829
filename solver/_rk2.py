"""Second-order two-stage explicit methods: Heun, Midpoint and Ralston.

All three embed explicit Euler (``b_embedded = [1, 0]``) for an error estimate of order 2,
so they work with `PIDController`. They are not FSAL, so their dense output is linear.
"""

from __future__ import annotations

from typing import ClassVar

from ._interpolation import LocalLinearInterpolation
from ._runge_kutta import AbstractRungeKutta, ButcherTableau
from ._solver_base import AbstractAdaptiveSolver

_EULER_WEIGHTS = [1.0, 0.0]


class _AbstractRK2(AbstractRungeKutta, AbstractAdaptiveSolver):
    interpolation_cls: ClassVar[type[LocalLinearInterpolation]] = LocalLinearInterpolation
    _order: ClassVar[int] = 2
    _error_order: ClassVar[float] = 2.0


class Heun(_AbstractRK2):
    """Heun's method (explicit trapezoidal rule): ``k1 = f(t0, y0) h``,
    ``k2 = f(t1, y0 + k1) h``, ``y1 = y0 + (k1 + k2) / 2``."""

    tableau: ClassVar[ButcherTableau] = ButcherTableau.from_rows(
        c=[0.0, 1.0], a_rows=[[1.0]], b=[0.5, 0.5], b_embedded=_EULER_WEIGHTS
    )


class Midpoint(_AbstractRK2):
    """The explicit midpoint method: ``k2 = f(t0 + h/2, y0 + k1/2) h``, ``y1 = y0 + k2``."""

    tableau: ClassVar[ButcherTableau] = ButcherTableau.from_rows(
        c=[0.0, 0.5], a_rows=[[0.5]], b=[0.0, 1.0], b_embedded=_EULER_WEIGHTS
    )


class Ralston(_AbstractRK2):
    """Ralston's method: the two-stage second-order method with minimal truncation error
    bound (``c2 = 2/3``, ``b = [1/4, 3/4]``). Ralston, Math. Comp. 16 (1962)."""

    tableau: ClassVar[ButcherTableau] = ButcherTableau.from_rows(
        c=[0.0, 2 / 3], a_rows=[[2 / 3]], b=[0.25, 0.75], b_embedded=_EULER_WEIGHTS
    )


__all__ = ["Heun", "Midpoint", "Ralston"]
