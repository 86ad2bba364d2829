"""The Prince–Dormand 8(7) method ("RK8(7)13M"), diffrax's ``Dopri8``.

Thirteen stages give an eighth-order solution ``b`` and an embedded seventh-order one
``b_hat``; their difference is the error estimate, ``O(h^8)`` per step. The coefficients are
rational numbers from the paper (P. J. Prince & J. R. Dormand, "High order embedded
Runge–Kutta formulae", J. Comput. Appl. Math. 7 (1981) 67–75, table 2); c_9 and c_11 are
rationals of ten digits there, and a_ij is written as in the paper, row by row.
`tests/solver/test_dopri8.py` checks all 115 + 48 + ... order conditions of the eighth-order
solution and that the embedded one has order exactly seven.

A fourteenth stage evaluates the vector field at ``(t1, y1)`` (the row ``a_14 = b``): it is
first-same-as-last, so the next step reuses it as its first stage and a step still costs 13
evaluations. The paper gives no dense output. The one here is *derived* from the order
conditions (`continuous_weights`): the continuous weights ``b_i(s)`` are degree-6 polynomials
with continuous order 5 (the most these 14 stages allow), matching ``y1`` and the slopes at
both ends, so the interpolant is C^1 across steps; the remaining freedom minimises the
sixth-order error terms. Between step ends it is therefore less accurate than at them
(local error ``O(h^6)`` against ``O(h^9)``); where the step-end accuracy matters at given
times, step to them (`ClipStepSizeController(step_ts=...)`) or use `DOP853`, whose
seventh-order dense output costs three extra stages per step.
"""

from __future__ import annotations

from fractions import Fraction as Fr
from typing import ClassVar

import numpy as np

from ._custom_types import Array, Y
from ._interpolation import AbstractStagePolynomialInterpolation
from ._order_conditions import continuous_weights
from ._runge_kutta import AbstractRungeKutta, ButcherTableau
from ._solver_base import AbstractAdaptiveSolver

_C = [
    0, Fr(1, 18), Fr(1, 12), Fr(1, 8), Fr(5, 16), Fr(3, 8), Fr(59, 400), Fr(93, 200),
    Fr(5490023248, 9719169821), Fr(13, 20), Fr(1201146811, 1299019798), 1, 1,
]  # fmt: skip

# Nonzero entries of rows 2..13 of the stage matrix, {column: a_ij} (columns from 0).
_A = [
    {0: Fr(1, 18)},
    {0: Fr(1, 48), 1: Fr(1, 16)},
    {0: Fr(1, 32), 2: Fr(3, 32)},
    {0: Fr(5, 16), 2: Fr(-75, 64), 3: Fr(75, 64)},
    {0: Fr(3, 80), 3: Fr(3, 16), 4: Fr(3, 20)},
    {0: Fr(29443841, 614563906), 3: Fr(77736538, 692538347),
     4: Fr(-28693883, 1125000000), 5: Fr(23124283, 1800000000)},
    {0: Fr(16016141, 946692911), 3: Fr(61564180, 158732637), 4: Fr(22789713, 633445777),
     5: Fr(545815736, 2771057229), 6: Fr(-180193667, 1043307555)},
    {0: Fr(39632708, 573591083), 3: Fr(-433636366, 683701615),
     4: Fr(-421739975, 2616292301), 5: Fr(100302831, 723423059), 6: Fr(790204164, 839813087),
     7: Fr(800635310, 3783071287)},
    {0: Fr(246121993, 1340847787), 3: Fr(-37695042795, 15268766246),
     4: Fr(-309121744, 1061227803), 5: Fr(-12992083, 490766935),
     6: Fr(6005943493, 2108947869), 7: Fr(393006217, 1396673457),
     8: Fr(123872331, 1001029789)},
    {0: Fr(-1028468189, 846180014), 3: Fr(8478235783, 508512852),
     4: Fr(1311729495, 1432422823), 5: Fr(-10304129995, 1701304382),
     6: Fr(-48777925059, 3047939560), 7: Fr(15336726248, 1032824649),
     8: Fr(-45442868181, 3398467696), 9: Fr(3065993473, 597172653)},
    {0: Fr(185892177, 718116043), 3: Fr(-3185094517, 667107341),
     4: Fr(-477755414, 1098053517), 5: Fr(-703635378, 230739211),
     6: Fr(5731566787, 1027545527), 7: Fr(5232866602, 850066563),
     8: Fr(-4093664535, 808688257), 9: Fr(3962137247, 1805957418),
     10: Fr(65686358, 487910083)},
    {0: Fr(403863854, 491063109), 3: Fr(-5068492393, 434740067),
     4: Fr(-411421997, 543043805), 5: Fr(652783627, 914296604),
     6: Fr(11173962825, 925320556), 7: Fr(-13158990841, 6184727034),
     8: Fr(3936647629, 1978049680), 9: Fr(-160528059, 685178525),
     10: Fr(248638103, 1413531060)},
]  # fmt: skip

# Eighth-order weights b and seventh-order weights b_hat.
_B = {0: Fr(14005451, 335480064), 5: Fr(-59238493, 1068277825), 6: Fr(181606767, 758867731),
      7: Fr(561292985, 797845732), 8: Fr(-1041891430, 1371343529),
      9: Fr(760417239, 1151165299), 10: Fr(118820643, 751138087),
      11: Fr(-528747749, 2220607170), 12: Fr(1, 4)}  # fmt: skip
_B_HAT = {0: Fr(13451932, 455176623), 5: Fr(-808719846, 976000145),
          6: Fr(1757004468, 5645159321), 7: Fr(656045339, 265891186),
          8: Fr(-3867574721, 1518517206), 9: Fr(465885868, 322736535),
          10: Fr(53011238, 667516719), 11: Fr(2, 45)}  # fmt: skip

_NUM_STAGES = 14  # 13 of the method and the first-same-as-last one
_FSAL = 13


def _dense(entries: dict[int, Fr]) -> np.ndarray:
    out = np.zeros(_NUM_STAGES)
    for j, value in entries.items():
        out[j] = float(value)
    return out


def _tableau() -> ButcherTableau:
    b = _dense(_B)
    a = np.zeros((_NUM_STAGES, _NUM_STAGES))
    for i, row in enumerate(_A, start=1):
        a[i] = _dense(row)
    a[_FSAL] = b
    c = np.array([float(x) for x in _C] + [1.0])
    return ButcherTableau(a=a, b=b, c=c, b_error=b - _dense(_B_HAT))


DOPRI8_TABLEAU = _tableau()


class Dopri8Interpolation(AbstractStagePolynomialInterpolation):
    """The C^1, continuous-order-5 dense output of `Dopri8` (see the module docstring)."""

    # Stages 2-5 carry no weight in b; leaving them out keeps the coefficients small.
    weights: ClassVar[np.ndarray] = continuous_weights(
        DOPRI8_TABLEAU.a, DOPRI8_TABLEAU.b, order=5, degree=6, fsal_stage=_FSAL,
        stages=[0, *range(5, _NUM_STAGES)], ridge=1e-5,
    )  # fmt: skip

    t0: Array
    t1: Array
    y0: Y
    y1: Y
    k: Y


class Dopri8(AbstractRungeKutta, AbstractAdaptiveSolver):
    """Prince & Dormand's 8(7) pair: eighth order, embedded seventh order, 13 vector-field
    evaluations per step (first-same-as-last), dense output of order 5.

    The same method as diffrax's ``Dopri8``. Hairer's DOP853 (SciPy's ``DOP853``) is a
    different eighth-order method, available here as `DOP853`.
    """

    tableau: ClassVar[ButcherTableau] = DOPRI8_TABLEAU
    interpolation_cls: ClassVar[type[Dopri8Interpolation]] = Dopri8Interpolation
    _order: ClassVar[int] = 8
    _error_order: ClassVar[float] = 8.0


__all__ = ["Dopri8", "Dopri8Interpolation", "DOPRI8_TABLEAU"]
