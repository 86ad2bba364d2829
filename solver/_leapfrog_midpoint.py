"""The leapfrog (explicit midpoint two-step) method.

A two-step method: ``y1 = y_prev + f(t0, y0) (t1 - t_prev)``, where ``(t_prev, y_prev)`` is
the point before ``(t0, y0)``; the first step (no previous point) is explicit Euler. One
vector-field evaluation per step, second order with constant steps, time-reversible, and no
error estimate: use it with `ConstantStepSize`. Dense output is linear.
"""

from __future__ import annotations

from typing import ClassVar

import jax
import jax.numpy as jnp

from ._custom_types import Args, BoolScalarLike, DenseInfo, RealScalarLike, SolverState, Y
from ._interpolation import LocalLinearInterpolation
from ._results import RESULTS
from ._solver_base import AbstractSolver
from ._term import AbstractTerm


class LeapfrogMidpoint(AbstractSolver):
    """Leapfrog / midpoint two-step method (see the module docstring)."""

    interpolation_cls: ClassVar[type[LocalLinearInterpolation]] = LocalLinearInterpolation

    def order(self, terms: AbstractTerm) -> int:
        return 2

    def init(
        self, terms: AbstractTerm, t0: RealScalarLike, t1: RealScalarLike, y0: Y, args: Args
    ) -> SolverState:
        return jnp.asarray(t0), y0

    def step(
        self,
        terms: AbstractTerm,
        t0: RealScalarLike,
        t1: RealScalarLike,
        y0: Y,
        args: Args,
        solver_state: SolverState,
        made_jump: BoolScalarLike,
    ) -> tuple[Y, None, DenseInfo, SolverState, jax.Array]:
        t_prev, y_prev = solver_state
        if made_jump is not False:
            # Across a jump the previous point is on the other side: restart with Euler.
            t_prev = jnp.where(made_jump, t0, t_prev)
            y_prev = jax.tree_util.tree_map(lambda a, b: jnp.where(made_jump, a, b), y0, y_prev)
        t_prev = jnp.asarray(t_prev, jnp.result_type(t0))
        control = terms.contr(t_prev, t1)
        y1 = jax.tree_util.tree_map(jnp.add, y_prev, terms.vf_prod(t0, y0, args, control))
        dense_info = dict(y0=y0, y1=y1)
        result = jnp.asarray(RESULTS.successful, jnp.int32)
        return y1, None, dense_info, (jnp.asarray(t0, t_prev.dtype), y0), result


__all__ = ["LeapfrogMidpoint"]
