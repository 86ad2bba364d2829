"""The reversible Heun method (Kidger, Foster, Li & Lyons, "Efficient and accurate gradients
for neural SDEs", NeurIPS 2021), for ODEs.

Besides the solution ``y`` it carries an auxiliary state ``yhat`` and the vector field there::

    yhat1 = 2 y0 - yhat0 + f(t0, yhat0) h
    y1    = y0 + (f(t0, yhat0) + f(t1, yhat1)) h / 2

One new vector-field evaluation per step, second order, and algebraically reversible: ``(y0,
yhat0)`` can be recomputed exactly from ``(y1, yhat1)``. The difference of the two slopes,
``(f(t1, yhat1) - f(t0, yhat0)) h / 2``, is an error estimate of order 2, so adaptive steps
work. Dense output is linear.
"""

from __future__ import annotations

from typing import ClassVar

import jax
import jax.numpy as jnp

from ._custom_types import Args, BoolScalarLike, DenseInfo, RealScalarLike, SolverState, Y
from ._interpolation import LocalLinearInterpolation
from ._results import RESULTS
from ._solver_base import AbstractAdaptiveSolver
from ._term import AbstractTerm


class ReversibleHeun(AbstractAdaptiveSolver):
    """Reversible Heun (see the module docstring): second order, one evaluation per step."""

    interpolation_cls: ClassVar[type[LocalLinearInterpolation]] = LocalLinearInterpolation

    def order(self, terms: AbstractTerm) -> int:
        return 2

    def error_order(self, terms: AbstractTerm) -> float:
        return 2.0

    def init(
        self, terms: AbstractTerm, t0: RealScalarLike, t1: RealScalarLike, y0: Y, args: Args
    ) -> SolverState:
        return y0, terms.vf(t0, y0, args)

    def step(
        self,
        terms: AbstractTerm,
        t0: RealScalarLike,
        t1: RealScalarLike,
        y0: Y,
        args: Args,
        solver_state: SolverState,
        made_jump: BoolScalarLike,
    ) -> tuple[Y, Y, DenseInfo, SolverState, jax.Array]:
        yhat0, vf0 = solver_state
        if made_jump is not False:
            # After a jump the cached slope belongs to the other side: evaluate it again.
            fresh = terms.vf(t0, yhat0, args)
            vf0 = jax.tree_util.tree_map(lambda a, b: jnp.where(made_jump, a, b), fresh, vf0)
        control = terms.contr(t0, t1)
        step0 = terms.prod(vf0, control)
        yhat1 = jax.tree_util.tree_map(lambda y, yh, k: 2 * y - yh + k, y0, yhat0, step0)
        vf1 = terms.vf(t1, yhat1, args)
        step1 = terms.prod(vf1, control)
        y1 = jax.tree_util.tree_map(lambda y, a, b: y + 0.5 * (a + b), y0, step0, step1)
        y_error = jax.tree_util.tree_map(lambda a, b: 0.5 * (b - a), step0, step1)
        dense_info = dict(y0=y0, y1=y1)
        result = jnp.asarray(RESULTS.successful, jnp.int32)
        return y1, y_error, dense_info, (yhat1, vf1), result


__all__ = ["ReversibleHeun"]
