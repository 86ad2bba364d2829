"""The explicit Euler method."""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from ._interpolation import LocalLinearInterpolation
from ._runge_kutta import AbstractRungeKutta, ButcherTableau

_EULER_TABLEAU = ButcherTableau(
    a=np.zeros((1, 1)), b=np.array([1.0]), c=np.array([0.0]), b_error=None
)


class Euler(AbstractRungeKutta):
    """Explicit Euler: ``y1 = y0 + f(t0, y0) h``.

    First order, one vector-field evaluation per step and no error estimate, so it needs a
    constant step size (`ConstantStepSize` or `StepTo`). Dense output is linear.
    """

    tableau: ClassVar[ButcherTableau] = _EULER_TABLEAU
    interpolation_cls: ClassVar[type[LocalLinearInterpolation]] = LocalLinearInterpolation
    _order: ClassVar[int] = 1


__all__ = ["Euler"]
