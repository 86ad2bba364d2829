"""The solver interface: what `diffeqsolve` needs from a numerical method.

A solver is a small ``eqx.Module`` carrying only its configuration. The integration loop calls,
per step::

    y1, y_error, dense_info, solver_state, result = solver.step(
        terms, t0, t1, y0, args, solver_state, made_jump)

- ``y_error`` is the embedded local error estimate (a PyTree like ``y``), or ``None`` for a
  method without one (then only constant step sizes are possible).
- ``dense_info`` is a dict of arrays with a fixed set of keys such that
  ``solver.interpolation_cls(t0=t0, t1=t1, **dense_info)`` interpolates the step.
- ``solver_state`` is carried between steps (e.g. the first-same-as-last derivative), created
  by ``init``. ``made_jump`` is a bool scalar that is True right after a discontinuity
  (``PIDController(jump_ts=...)``): cached derivatives must then be recomputed.
- ``result`` is a `RESULTS` code; anything but ``successful`` rejects the step (adaptive
  controllers retry it smaller, e.g. after a Newton failure).
"""

from __future__ import annotations

import abc

from collections.abc import Callable
from typing import Any, ClassVar

import equinox as eqx

from ._custom_types import VF, Args, BoolScalarLike, DenseInfo, RealScalarLike, SolverState, Y
from ._interpolation import AbstractLocalInterpolation
from ._newton import bind_tolerances, check_root_finder
from ._term import AbstractTerm


class _SolverMeta(type(eqx.Module)):
    """``isinstance(wrapper, SolverClass)`` is also True when ``wrapper`` is an
    `AbstractWrappedSolver` (e.g. `HalfSolver`) around an instance of ``SolverClass``, as in
    diffrax: code that asks "is this an Euler method?" gets the same answer for the wrapped one.
    (``issubclass`` is unchanged: the wrapper's class is not the wrapped solver's class.)"""

    def __instancecheck__(cls, obj: Any) -> bool:
        if super().__instancecheck__(obj):
            return True
        # The wrapper test itself must not recurse through this method.
        is_wrapper = type(eqx.Module).__instancecheck__(AbstractWrappedSolver, obj)
        return is_wrapper and isinstance(obj.solver, cls)


class AbstractSolver(eqx.Module, metaclass=_SolverMeta):
    """Abstract base of every solver (see the module docstring).

    - ``interpolation_cls``: a class (or any callable, e.g. a ``staticmethod``) that builds the
      step's interpolant from ``t0``, ``t1`` and the step's ``dense_info``.
    - ``term_structure``: the terms the solver accepts, as a type: `AbstractTerm` for one term
      (an `ODETerm`, or a `MultiTerm` summing several), ``MultiTerm[tuple[A, B]]`` for a
      solver that treats two terms differently.
    """

    # ClassVar, not eqx.AbstractClassVar: under `from __future__ import annotations` the
    # latter is a string that neither dataclasses nor equinox read as a class variable, so
    # it became a required field of every subclass that did not re-annotate it.
    interpolation_cls: ClassVar[Callable[..., AbstractLocalInterpolation]]
    term_structure: ClassVar[Any] = AbstractTerm

    @abc.abstractmethod
    def order(self, terms: AbstractTerm) -> int | None:
        """Global order of convergence of the method (None if not meaningful)."""

    def error_order(self, terms: AbstractTerm) -> float | None:
        """The exponent ``q`` such that the local error estimate scales as ``h**q``; the
        step-size controller uses ``1/q`` in its update. ``None`` means no error estimate."""
        return None

    @abc.abstractmethod
    def init(
        self, terms: AbstractTerm, t0: RealScalarLike, t1: RealScalarLike, y0: Y, args: Args
    ) -> SolverState:
        """The state carried into the first step (e.g. the FSAL derivative), or None."""

    @abc.abstractmethod
    def step(
        self,
        terms: AbstractTerm,
        t0: RealScalarLike,
        t1: RealScalarLike,
        y0: Y,
        args: Args,
        solver_state: SolverState,
        made_jump: BoolScalarLike,
    ) -> tuple[Y, Y | None, DenseInfo, SolverState, Any]:
        """One step from ``t0`` to ``t1``: ``(y1, y_error, dense_info, solver_state, result)``."""

    def func(self, terms: AbstractTerm, t0: RealScalarLike, y0: Y, args: Args) -> VF:
        """The vector field at ``(t0, y0)`` (used e.g. to pick the initial step)."""
        return terms.vf(t0, y0, args)

    def bind_tolerances(self, rtol: Any, atol: Any) -> "AbstractSolver":
        """Called by `diffeqsolve` with the step-size controller's ``rtol``/``atol`` (or None
        for constant steps); implicit solvers fill Newton tolerances left unset. Explicit
        solvers return themselves."""
        del rtol, atol
        return self


class AbstractWrappedSolver(AbstractSolver):
    """A solver built around another one, its ``solver`` field; it counts as an instance of
    the wrapped solver's classes too (see `_SolverMeta`)."""

    solver: eqx.AbstractVar[AbstractSolver]


class AbstractAdaptiveSolver(AbstractSolver):
    """A solver with an embedded error estimate (``step`` returns a ``y_error``), so it can be
    used with an adaptive step-size controller such as `PIDController`."""


class AbstractImplicitSolver(AbstractAdaptiveSolver):
    """A solver that solves a nonlinear system per step with ``root_finder``.

    The root finder's tolerances follow the step-size controller's unless set explicitly.
    Each step linearises afresh at ``(t0, y0)``, so there is no state to carry between steps.
    """

    root_finder: eqx.AbstractVar[Any]
    root_find_max_steps: eqx.AbstractVar[int]

    def __check_init__(self) -> None:
        check_root_finder(self.root_finder, type(self).__name__)

    def bind_tolerances(self, rtol: Any, atol: Any) -> "AbstractImplicitSolver":
        return eqx.tree_at(
            lambda solver: solver.root_finder, self, bind_tolerances(self.root_finder, rtol, atol)
        )

    def init(self, terms: Any, t0: Any, t1: Any, y0: Any, args: Any) -> None:
        del terms, t0, t1, y0, args
        return None


__all__ = [
    "AbstractSolver",
    "AbstractWrappedSolver",
    "AbstractAdaptiveSolver",
    "AbstractImplicitSolver",
]
