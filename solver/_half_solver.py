"""`HalfSolver`: an error estimate for any solver, by step doubling.

A method of order ``p`` has local error ``C h^(p+1) + O(h^(p+2))`` over a step ``h``. Taking
the step once (``y_full``) and as two half steps (``y_half``) gives errors ``C h^(p+1)`` and
``2 C (h/2)^(p+1) = 2^(-p) C h^(p+1)``, so their difference::

    |y_half - y_full| ≈ (1 - 2^(-p)) |C| h^(p+1)

estimates the local error (to within a factor between 1/2 and 1) without an embedded method.
It scales as ``h^(p+1)``: the error order the step-size controller uses is ``p + 1``. The
step returns ``y_half``, the more accurate of the two (step doubling, as in Richardson
extrapolation: Hairer, Nørsett & Wanner, "Solving Ordinary Differential Equations I", §II.4).

Each step costs three steps of the wrapped solver. It makes sense for solvers without an
embedded estimate (`Euler`, `Heun` used alone, ...); ones that have one estimate it for less.
Dense output is the full step's interpolant (as in diffrax), which meets ``y_half`` at ``t1``
only to within the error estimate.
"""

from __future__ import annotations

from typing import Any, ClassVar

import jax
import jax.numpy as jnp

from ._custom_types import (
    VF,
    Args,
    BoolScalarLike,
    DenseInfo,
    RealScalarLike,
    SolverState,
    Y,
)
from ._results import RESULTS
from ._solver_base import AbstractAdaptiveSolver, AbstractSolver, AbstractWrappedSolver
from ._term import AbstractTerm


class HalfSolver(AbstractAdaptiveSolver, AbstractWrappedSolver):
    """Wraps ``solver`` and estimates its local error by comparing one step with two half
    steps (see the module docstring), so it can be used with an adaptive controller such as
    `PIDController`. ``isinstance(HalfSolver(Euler()), Euler)`` is True."""

    solver: AbstractSolver

    # The wrapped solver's; ClassVar-annotated so they stay out of the dataclass fields.
    interpolation_cls: ClassVar[Any] = property(lambda self: self.solver.interpolation_cls)
    term_structure: ClassVar[Any] = property(lambda self: self.solver.term_structure)

    def order(self, terms: AbstractTerm) -> int | None:
        return self.solver.order(terms)

    def error_order(self, terms: AbstractTerm) -> float | None:
        order = self.solver.order(terms)
        return None if order is None else order + 1

    def bind_tolerances(self, rtol: Any, atol: Any) -> HalfSolver:
        return HalfSolver(self.solver.bind_tolerances(rtol, atol))

    def init(
        self, terms: AbstractTerm, t0: RealScalarLike, t1: RealScalarLike, y0: Y, args: Args
    ) -> SolverState:
        return self.solver.init(terms, t0, t1, y0, args)

    def step(
        self,
        terms: AbstractTerm,
        t0: RealScalarLike,
        t1: RealScalarLike,
        y0: Y,
        args: Args,
        solver_state: SolverState,
        made_jump: BoolScalarLike,
    ) -> tuple[Y, Y, DenseInfo, SolverState, Any]:
        t_mid = t0 + 0.5 * (t1 - t0)
        y_mid, _, _, mid_state, result_a = self.solver.step(
            terms, t0, t_mid, y0, args, solver_state, made_jump
        )
        y_half, _, _, new_state, result_b = self.solver.step(
            terms, t_mid, t1, y_mid, args, mid_state, False
        )
        y_full, _, dense_info, _, result_c = self.solver.step(
            terms, t0, t1, y0, args, solver_state, made_jump
        )
        y_error = jax.tree_util.tree_map(lambda a, b: jnp.abs(a - b).astype(a.dtype), y_half, y_full)
        # The first failure of the three steps, if any (rejects the step).
        result = RESULTS.promote(result_a, result_b, True)
        result = RESULTS.promote(result, result_c, True)
        return y_half, y_error, dense_info, new_state, result

    def func(self, terms: AbstractTerm, t0: RealScalarLike, y0: Y, args: Args) -> VF:
        return self.solver.func(terms, t0, y0, args)


__all__ = ["HalfSolver"]
