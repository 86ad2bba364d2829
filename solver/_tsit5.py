"""Tsitouras' 5(4) method with its native fourth-order dense output."""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from ._interpolation import AbstractStagePolynomialInterpolation
from ._custom_types import Array, Y
from ._runge_kutta import AbstractRungeKutta, ButcherTableau
from ._solver_base import AbstractAdaptiveSolver

# Coefficients from Tsitouras (2011), Table 1 (b_embedded given through b - b_embedded).
_B = [
    0.09646076681806523,
    0.01,
    0.4798896504144996,
    1.379008574103742,
    -3.290069515436081,
    2.324710524099774,
    0.0,
]
_B_ERROR = np.array(
    [
        -0.001780011052225771,
        -0.0008164344596567469,
        0.007880878010261995,
        -0.1447110071732629,
        0.5823571654525552,
        -0.45808210592918697,
        1 / 66,
    ]
)
_TABLEAU = ButcherTableau.from_rows(
    c=[0.0, 0.161, 0.327, 0.9, 0.9800255409045097, 1.0, 1.0],
    a_rows=[
        [0.161],
        [-0.008480655492356989, 0.335480655492357],
        [2.897153057105493, -6.359448489975075, 4.3622954328695815],
        [5.325864828439257, -11.748883564062828, 7.4955393428898365, -0.09249506636175525],
        [
            5.86145544294642,
            -12.92096931784711,
            8.159367898576159,
            -0.071584973281401,
            -0.028269050394068383,
        ],
        _B[:6],
    ],
    b=_B,
)
_TABLEAU = ButcherTableau(a=_TABLEAU.a, b=_TABLEAU.b, c=_TABLEAU.c, b_error=_B_ERROR)


class Tsit5Interpolation(AbstractStagePolynomialInterpolation):
    """Tsitouras' continuous extension: ``b_i(s)`` are quartics in the step fraction ``s``
    (coefficients of ``s, s^2, s^3, s^4`` per stage), with ``b_i(1) = b_i``."""

    weights: ClassVar[np.ndarray] = np.array(
        [
            [1.0, -2.763706197274826, 2.9132554618219126, -1.0530884977290216],
            [0.0, 0.13169999999999998, -0.2234, 0.1017],
            [0.0, 3.9302962368947516, -5.941033872131505, 2.490627285651253],
            [0.0, -12.411077166933676, 30.33818863028232, -16.548102889244902],
            [0.0, 37.50931341651104, -88.1789048947664, 47.37952196281928],
            [0.0, -27.896526289197286, 65.09189467479366, -34.87065786149661],
            [0.0, 1.5, -4.0, 2.5],
        ]
    )

    t0: Array
    t1: Array
    y0: Y
    y1: Y
    k: Y


class Tsit5(AbstractRungeKutta, AbstractAdaptiveSolver):
    """Tsitouras' 5(4) method: fifth order with an embedded fourth-order error estimate, FSAL
    (six new vector-field evaluations per step), native fourth-order dense output. A good
    default for non-stiff problems.

    Tsitouras, "Runge–Kutta pairs of order 5(4) satisfying only the first column simplifying
    assumption", Computers & Mathematics with Applications 62 (2011).
    """

    tableau: ClassVar[ButcherTableau] = _TABLEAU
    interpolation_cls: ClassVar[type[Tsit5Interpolation]] = Tsit5Interpolation
    _order: ClassVar[int] = 5
    _error_order: ClassVar[float] = 5.0


__all__ = ["Tsit5", "Tsit5Interpolation"]
