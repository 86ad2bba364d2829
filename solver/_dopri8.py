"""The Dormand–Prince 8(5,3) method ("DOP853")."""

from __future__ import annotations

from typing import ClassVar

import jax
import jax.numpy as jnp
import numpy as np

from ._custom_types import Y
from ._interpolation import ThirdOrderHermitePolynomialInterpolation
from ._runge_kutta import AbstractRungeKutta, ButcherTableau, _weighted_sum

# Coefficients of DOP853 as published by Hairer, Nørsett & Wanner, "Solving Ordinary
# Differential Equations I" (2nd ed., 1993), and their dop853.f code. Twelve stages plus the
# FSAL evaluation at (t1, y1).
_C = np.array(
    [
        0.0,
        0.05260015195876773,
        0.0789002279381516,
        0.1183503419072274,
        0.2816496580927726,
        0.3333333333333333,
        0.25,
        0.3076923076923077,
        0.6512820512820513,
        0.6,
        0.8571428571428571,
        1.0,
        1.0,
    ]
)

# Rows 1..11 of the strictly lower-triangular stage matrix (row i has i entries).
_A_ROWS = [
    [
        0.05260015195876773
    ],
    [
        0.0197250569845379, 0.0591751709536137
    ],
    [
        0.02958758547680685, 0.0, 0.08876275643042054
    ],
    [
        0.2413651341592667, 0.0, -0.8845494793282861, 0.924834003261792
    ],
    [
        0.037037037037037035, 0.0, 0.0, 0.17082860872947386, 0.12546768756682242
    ],
    [
        0.037109375, 0.0, 0.0, 0.17025221101954405, 0.06021653898045596, -0.017578125
    ],
    [
        0.03709200011850479, 0.0, 0.0, 0.17038392571223998, 0.10726203044637328,
        -0.015319437748624402, 0.008273789163814023
    ],
    [
        0.6241109587160757, 0.0, 0.0, -3.3608926294469414, -0.868219346841726,
        27.59209969944671, 20.154067550477894, -43.48988418106996
    ],
    [
        0.47766253643826434, 0.0, 0.0, -2.4881146199716677, -0.590290826836843,
        21.230051448181193, 15.279233632882423, -33.28821096898486,
        -0.020331201708508627
    ],
    [
        -0.9371424300859873, 0.0, 0.0, 5.186372428844064, 1.0914373489967295,
        -8.149787010746927, -18.52006565999696, 22.739487099350505, 2.4936055526796523,
        -3.0467644718982196
    ],
    [
        2.273310147516538, 0.0, 0.0, -10.53449546673725, -2.0008720582248625,
        -17.9589318631188, 27.94888452941996, -2.8589982771350235, -8.87285693353063,
        12.360567175794303, 0.6433927460157636
    ],
]

_B = np.array(
    [
        0.054293734116568765,
        0.0,
        0.0,
        0.0,
        0.0,
        4.450312892752409,
        1.8915178993145003,
        -5.801203960010585,
        0.3111643669578199,
        -0.1521609496625161,
        0.20136540080403034,
        0.04471061572777259,
        0.0,
    ]
)

# Weights of the fifth- and third-order error estimates (13 stages, the FSAL one unused).
_E5 = np.array(
    [
        0.01312004499419488,
        0.0,
        0.0,
        0.0,
        0.0,
        -1.2251564463762044,
        -0.4957589496572502,
        1.6643771824549864,
        -0.35032884874997366,
        0.3341791187130175,
        0.08192320648511571,
        -0.022355307863886294,
        0.0,
    ]
)

_E3 = np.array(
    [
        -0.18980075407240762,
        0.0,
        0.0,
        0.0,
        0.0,
        4.450312892752409,
        1.8915178993145003,
        -5.801203960010585,
        -0.4226823213237919,
        -0.1521609496625161,
        0.20136540080403034,
        0.02265179219836082,
        0.0,
    ]
)

_TABLEAU = ButcherTableau.from_rows(c=list(_C), a_rows=_A_ROWS + [list(_B[:12])], b=list(_B))
_TABLEAU = ButcherTableau(a=_TABLEAU.a, b=_TABLEAU.b, c=_TABLEAU.c, b_error=_E5)


class Dopri8(AbstractRungeKutta):
    """Dormand–Prince 8(5,3): eighth order, FSAL (twelve new vector-field evaluations per step).

    The error estimate combines the embedded fifth- and third-order estimates as
    ``e5 * |e5| / sqrt(e5^2 + 0.01 e3^2)`` per component, which scales like ``h^8`` (Hairer's
    combination, applied per component rather than to the norms), so the step-size controller
    uses exponent ``1/8``. Dense output is the cubic Hermite interpolant (DOP853's
    seventh-order continuous extension needs three more stages per step).
    """

    tableau: ClassVar[ButcherTableau] = _TABLEAU
    interpolation_cls: ClassVar[type[ThirdOrderHermitePolynomialInterpolation]] = (
        ThirdOrderHermitePolynomialInterpolation
    )
    _order: ClassVar[int] = 8
    _error_order: ClassVar[float] = 8.0

    def _error_estimate(self, stages: Y, time_dtype: jnp.dtype) -> Y:
        err5 = _weighted_sum(jnp.asarray(_E5, time_dtype), stages)
        err3 = _weighted_sum(jnp.asarray(_E3, time_dtype), stages)

        def combine(e5: jax.Array, e3: jax.Array) -> jax.Array:
            denominator = jnp.sqrt(e5 * e5 + 0.01 * e3 * e3)
            safe = jnp.where(denominator == 0, 1, denominator)
            return jnp.where(denominator == 0, 0, e5 * jnp.abs(e5) / safe)

        return jax.tree_util.tree_map(combine, err5, err3)


__all__ = ["Dopri8"]
