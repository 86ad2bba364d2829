"""The Dormand–Prince 5(4) method with Shampine's fourth-order dense output."""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from ._custom_types import Array, Y
from ._interpolation import AbstractStagePolynomialInterpolation
from ._runge_kutta import AbstractRungeKutta, ButcherTableau
from ._solver_base import AbstractAdaptiveSolver

_B = [35 / 384, 0.0, 500 / 1113, 125 / 192, -2187 / 6784, 11 / 84, 0.0]
_TABLEAU = ButcherTableau.from_rows(
    c=[0.0, 1 / 5, 3 / 10, 4 / 5, 8 / 9, 1.0, 1.0],
    a_rows=[
        [1 / 5],
        [3 / 40, 9 / 40],
        [44 / 45, -56 / 15, 32 / 9],
        [19372 / 6561, -25360 / 2187, 64448 / 6561, -212 / 729],
        [9017 / 3168, -355 / 33, 46732 / 5247, 49 / 176, -5103 / 18656],
        _B[:6],
    ],
    b=_B,
    b_embedded=[5179 / 57600, 0.0, 7571 / 16695, 393 / 640, -92097 / 339200, 187 / 2100, 1 / 40],
)

# Shampine's fifth-order estimate of y(t0 + h/2): y0 + sum_i mid_i k_i (Shampine, "Some
# practical Runge–Kutta formulas", Math. Comp. 46 (1986)).
_MID = np.array(
    [
        6025192743 / 30085553152,
        0.0,
        51252292925 / 65400821598,
        -2691868925 / 45128329728,
        187940372067 / 1594534317056,
        -1776094331 / 19743644256,
        11237099 / 235043384,
    ]
) / 2


def _quartic_weights() -> np.ndarray:
    """Per-stage coefficients of ``s, s^2, s^3, s^4`` of the quartic ``p`` with ``p(0) = y0``,
    ``p'(0) = k_0``, ``p(1/2) = y_mid``, ``p(1) = y1``, ``p'(1) = k_6`` (FSAL slope at t1).

    ``p(s) - y0 = k_0 s + x_2 s^2 + x_3 s^3 + x_4 s^4``; the three conditions on ``x`` are
    linear, and every right-hand side is a combination of stages, so so is each ``x_j``.
    """
    num_stages = 7
    first = np.eye(num_stages)[0]  # k_0
    last = np.eye(num_stages)[-1]  # k_6
    b = np.asarray(_B)
    conditions = np.array([[1.0, 1.0, 1.0], [2.0, 3.0, 4.0], [1 / 4, 1 / 8, 1 / 16]])
    rhs = np.stack([b - first, last - first, _MID - first / 2])  # (3, stages)
    x = np.linalg.solve(conditions, rhs)  # (3, stages): x_2, x_3, x_4
    return np.column_stack([first, x.T])


class Dopri5Interpolation(AbstractStagePolynomialInterpolation):
    """The quartic through ``y0``, ``y1``, Shampine's midpoint value and the end slopes."""

    weights: ClassVar[np.ndarray] = _quartic_weights()

    t0: Array
    t1: Array
    y0: Y
    y1: Y
    k: Y


class Dopri5(AbstractRungeKutta, AbstractAdaptiveSolver):
    """Dormand–Prince 5(4): fifth order with an embedded fourth-order error estimate, FSAL,
    fourth-order dense output.

    Dormand & Prince, "A family of embedded Runge–Kutta formulae", J. Comp. Appl. Math. 6
    (1980).
    """

    tableau: ClassVar[ButcherTableau] = _TABLEAU
    interpolation_cls: ClassVar[type[Dopri5Interpolation]] = Dopri5Interpolation
    _order: ClassVar[int] = 5
    _error_order: ClassVar[float] = 5.0


__all__ = ["Dopri5", "Dopri5Interpolation"]
