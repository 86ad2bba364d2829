"""The Bogacki–Shampine 3(2) method."""

from __future__ import annotations

from typing import ClassVar

from ._interpolation import ThirdOrderHermitePolynomialInterpolation
from ._runge_kutta import AbstractRungeKutta, ButcherTableau
from ._solver_base import AbstractAdaptiveSolver


class Bosh3(AbstractRungeKutta, AbstractAdaptiveSolver):
    """Bogacki–Shampine 3(2): third order, embedded second order, FSAL (three new vector-field
    evaluations per step). Dense output is the cubic Hermite interpolant.

    Bogacki & Shampine, "A 3(2) pair of Runge–Kutta formulas", Appl. Math. Lett. 2 (1989).
    """

    tableau: ClassVar[ButcherTableau] = ButcherTableau.from_rows(
        c=[0.0, 1 / 2, 3 / 4, 1.0],
        a_rows=[[1 / 2], [0.0, 3 / 4], [2 / 9, 1 / 3, 4 / 9]],
        b=[2 / 9, 1 / 3, 4 / 9, 0.0],
        b_embedded=[7 / 24, 1 / 4, 1 / 3, 1 / 8],
    )
    interpolation_cls: ClassVar[type[ThirdOrderHermitePolynomialInterpolation]] = (
        ThirdOrderHermitePolynomialInterpolation
    )
    _order: ClassVar[int] = 3
    _error_order: ClassVar[float] = 3.0


__all__ = ["Bosh3"]
