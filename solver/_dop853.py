"""Hairer's DOP853: the Dormand–Prince 8(5,3) method with its seventh-order dense output.

Not to be confused with `Dopri8`, the Prince–Dormand 8(7) pair that diffrax calls ``Dopri8``:
the two are different eighth-order methods (different stages, error estimates and dense
output), so each has its own name here."""

from __future__ import annotations

from typing import ClassVar

import jax
import jax.numpy as jnp
import numpy as np
from numpy.polynomial import Polynomial

from ._custom_types import Array, Y
from ._interpolation import AbstractStagePolynomialInterpolation
from ._runge_kutta import AbstractRungeKutta, ButcherTableau, _weighted_sum
from ._solver_base import AbstractAdaptiveSolver

# Coefficients of DOP853 as published by Hairer, Nørsett & Wanner, "Solving Ordinary
# Differential Equations I" (2nd ed., 1993), and their dop853.f code: twelve stages, the
# FSAL evaluation at (t1, y1), and three extra stages for dense output (16 in all).
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
        0.1,
        0.2,
        0.7777777777777778,
    ]
)

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
        0.0,
        0.0,
        0.0,
    ]
)

# Rows 1..15 of the strictly lower-triangular stage matrix (row i has i entries); rows
# 13-15 are the three extra stages of the seventh-order dense output.
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
    list(_B[:12]),  # the FSAL stage: f(t1, y1)
    [
        0.056167502283047954, 0.0, 0.0, 0.0, 0.0, 0.0, 0.25350021021662483,
        -0.2462390374708025, -0.12419142326381637, 0.15329179827876568,
        0.00820105229563469, 0.007567897660545699, -0.008298
    ],
    [
        0.03183464816350214, 0.0, 0.0, 0.0, 0.0, 0.028300909672366776,
        0.053541988307438566, -0.05492374857139099, 0.0, 0.0, -0.00010834732869724932,
        0.0003825710908356584, -0.00034046500868740456, 0.1413124436746325
    ],
    [
        -0.42889630158379194, 0.0, 0.0, 0.0, 0.0, -4.697621415361164, 7.683421196062599,
        4.06898981839711, 0.3567271874552811, 0.0, 0.0, 0.0, -0.0013990241651590145,
        2.9475147891527724, -9.15095847217987
    ],
]

# Weights of the fifth- and third-order error estimates (per stage).
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
        0.0,
        0.0,
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
        0.0,
        0.0,
        0.0,
    ]
)

# Dense output: rows 3..6 of the continuous extension's coefficients (per stage).
_D = np.array(
    [
        [
            -8.428938276109013, 0.0, 0.0, 0.0, 0.0, 0.5667149535193777,
            -3.0689499459498917, 2.38466765651207, 2.117034582445028,
            -0.871391583777973, 2.2404374302607883, 0.6315787787694688,
            -0.08899033645133331, 18.148505520854727, -9.194632392478356,
            -4.436036387594894
        ],
        [
            10.427508642579134, 0.0, 0.0, 0.0, 0.0, 242.28349177525817,
            165.20045171727028, -374.5467547226902, -22.113666853125306,
            7.733432668472264, -30.674084731089398, -9.332130526430229,
            15.697238121770845, -31.139403219565178, -9.35292435884448,
            35.81684148639408
        ],
        [
            19.985053242002433, 0.0, 0.0, 0.0, 0.0, -387.0373087493518,
            -189.17813819516758, 527.8081592054236, -11.57390253995963, 6.8812326946963,
            -1.0006050966910838, 0.7777137798053443, -2.778205752353508,
            -60.19669523126412, 84.32040550667716, 11.99229113618279
        ],
        [
            -25.69393346270375, 0.0, 0.0, 0.0, 0.0, -154.18974869023643,
            -231.5293791760455, 357.6391179106141, 93.40532418362432,
            -37.45832313645163, 104.0996495089623, 29.8402934266605, -43.53345659001114,
            96.32455395918828, -39.17726167561544, -149.72683625798564
        ],
    ]
)

_TABLEAU = ButcherTableau.from_rows(c=list(_C), a_rows=_A_ROWS, b=list(_B))
_TABLEAU = ButcherTableau(a=_TABLEAU.a, b=_TABLEAU.b, c=_TABLEAU.c, b_error=_E5)
_FSAL = 12


def _dense_weights() -> np.ndarray:
    """Per-stage coefficients of ``s, ..., s^7`` of DOP853's continuous extension.

    The extension is ``y0 + sum_r F_r P_r(s)`` where ``P_r`` nests factors ``s`` and
    ``1 - s`` alternately (Hairer's evaluation scheme) and every ``F_r`` is a combination of
    stages: ``F_0 = y1 - y0``, ``F_1 = k_0 - F_0``, ``F_2 = 2 F_0 - k_0 - k_12`` and
    ``F_3..6 = D k``. Expanding gives one polynomial per stage.
    """
    num_stages = len(_B)
    unit = np.eye(num_stages)
    forms = [_B, unit[0] - _B, 2 * _B - unit[0] - unit[_FSAL], *_D]
    s = Polynomial([0.0, 1.0])
    weights = np.zeros((num_stages, 7))
    for r, form in enumerate(forms):
        # Coefficient polynomial of F_r: the scheme multiplies the running sum by s or 1 - s.
        poly = Polynomial([1.0])
        for i in range(len(forms) - 1 - r, len(forms)):
            poly = poly * (s if i % 2 == 0 else 1 - s)
        coefficients = np.zeros(8)
        coefficients[: len(poly.coef)] = poly.coef
        weights += np.outer(form, coefficients[1:])
    return weights


class DOP853Interpolation(AbstractStagePolynomialInterpolation):
    """DOP853's seventh-order continuous extension (uses all 16 stages)."""

    weights: ClassVar[np.ndarray] = _dense_weights()

    t0: Array
    t1: Array
    y0: Y
    y1: Y
    k: Y


class DOP853(AbstractRungeKutta, AbstractAdaptiveSolver):
    """Dormand–Prince 8(5,3) as in Hairer's ``dop853.f`` (and SciPy's ``DOP853``): eighth
    order, FSAL, seventh-order dense output.

    Each step evaluates the vector field 15 times: 11 new stages, the FSAL one at (t1, y1)
    and 3 for dense output (all in one scan, traced once). The error estimate combines the
    embedded fifth- and third-order estimates as ``e5 * |e5| / sqrt(e5^2 + 0.01 e3^2)`` per
    component, which scales like ``h^8`` (Hairer's combination, applied per component rather
    than to norms), so the controller uses exponent ``1/8``.
    """

    tableau: ClassVar[ButcherTableau] = _TABLEAU
    interpolation_cls: ClassVar[type[DOP853Interpolation]] = DOP853Interpolation
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


__all__ = ["DOP853", "DOP853Interpolation"]
