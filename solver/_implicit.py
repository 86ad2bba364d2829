"""The implicit Euler method, and the set-up every implicit step shares.

Implicit steps work on the *flattened* state: whatever PyTree ``y`` is (arrays, tuples,
``eqx.Module`` s), `jax.flatten_util.ravel_pytree` turns it into one vector so the Jacobian is
a plain matrix and the Newton system a dense linear solve. `linearise_step` computes, once
per step, the increment ``k0 = f(t0, y0) * dt`` and its Jacobian ``d k0 / d y0`` in a single
forward-mode pass (`jax.jacfwd` with the value as auxiliary output, so the vector field is
evaluated once for both).

A complex state is solved as the real vector of its real and imaginary parts (twice as long):
the Jacobian of a vector field that is not holomorphic (``conj``, ``abs``) is then still exact,
and `jax.jacfwd` never sees complex input.

The nonlinear equation of each stage goes to the solver's ``root_finder``: `VeryChord` (the
default) iterates on the per-step factorisation; any optimistix root finder
(``optimistix.Newton``, ``optimistix.Chord``, ...) is called through ``optimistix.root_find``
with ``root_find_max_steps`` iterations, and a failure rejects the step the same way.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar, NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.scipy.linalg as jsl
from jax import lax
from jax.flatten_util import ravel_pytree

from ._custom_types import Args, Array, BoolScalarLike, DenseInfo, RealScalarLike, Y
from ._interpolation import LocalLinearInterpolation
from ._newton import VeryChord, is_very_chord, optimistix_solve
from ._results import RESULTS
from ._solver_base import AbstractImplicitSolver
from ._term import AbstractTerm


class Linearisation(NamedTuple):
    """What an implicit step knows about the problem at ``(t0, y0)``.

    - ``y0``: the flattened state (real: a complex state is stored as its real and imaginary
      parts); ``unravel`` maps flat vectors back to the PyTree of ``y``.
    - ``increment(t, y_flat)``: ``vf_prod`` over the step, flattened.
    - ``k0``: ``increment(t0, y0)``.
    - ``jacobian``: ``d increment / d y`` at ``(t0, y0)``, shape ``(n, n)``; None when the
      root finder does not need it.
    """

    y0: Array
    unravel: Callable[[Array], Y]
    increment: Callable[[RealScalarLike, Array], Array]
    k0: Array
    jacobian: Array | None


def linearise_step(
    terms: AbstractTerm,
    t0: RealScalarLike,
    t1: RealScalarLike,
    y0: Y,
    args: Args,
    with_jacobian: bool = True,
) -> Linearisation:
    """Flatten the problem over ``[t0, t1]`` and linearise it at ``(t0, y0)``."""
    y0_packed, unravel_packed = ravel_pytree(y0)
    dtype = y0_packed.dtype
    control = terms.contr(t0, t1)

    if jnp.issubdtype(dtype, jnp.complexfloating):
        size = y0_packed.shape[0]

        def to_flat(z: Array) -> Array:
            z = z.astype(dtype)
            return jnp.concatenate([jnp.real(z), jnp.imag(z)])

        def unravel(flat: Array) -> Y:
            return unravel_packed(lax.complex(flat[:size], flat[size:]))

    else:

        def to_flat(z: Array) -> Array:
            return z.astype(dtype)

        unravel = unravel_packed

    y0_flat = to_flat(y0_packed)

    def increment(t: RealScalarLike, y_flat: Array) -> Array:
        out_packed, _ = ravel_pytree(terms.vf_prod(t, unravel(y_flat), args, control))
        return to_flat(out_packed)

    if not with_jacobian:
        return Linearisation(y0_flat, unravel, increment, increment(t0, y0_flat), None)

    def value_twice(y_flat: Array) -> tuple[Array, Array]:
        value = increment(t0, y_flat)
        return value, value

    jacobian, k0 = jax.jacfwd(value_twice, has_aux=True)(y0_flat)
    return Linearisation(y0_flat, unravel, increment, k0, jacobian)


def solve_stage(
    solver: AbstractImplicitSolver,
    residual: Callable[[Array], Array],
    guess: Array,
    chord_solve: Callable[[Array], Array] | None,
    reference: Array,
    skip: Array | bool = False,
) -> tuple[Array, Array]:
    """Solve one stage's ``residual(w) = 0`` with the solver's root finder: ``(w, result)``."""
    root_finder = solver.root_finder
    max_steps = solver.root_find_max_steps
    if is_very_chord(root_finder):
        assert chord_solve is not None
        w, result, _ = root_finder.solve(
            residual, guess, chord_solve, reference, skip=skip, default_max_steps=max_steps
        )
        return w, result
    return optimistix_solve(root_finder, residual, guess, skip, max_steps)


def chord_factor(jacobian: Array, gamma: float) -> Callable[[Array], Array]:
    """``r -> (I - gamma * jacobian)^{-1} r`` with the LU factorisation computed once."""
    n = jacobian.shape[0]
    matrix = jnp.eye(n, dtype=jacobian.dtype) - jnp.asarray(gamma, jacobian.dtype) * jacobian
    lu_and_pivots = jsl.lu_factor(matrix)
    return lambda rhs: jsl.lu_solve(lu_and_pivots, rhs)


class ImplicitEuler(AbstractImplicitSolver):
    r"""The implicit (backward) Euler method, ``y1 = y0 + f(t1, y1) * dt``.

    First order, L-stable: the workhorse for very stiff problems when accuracy matters less
    than robustness. The nonlinear equation is solved by `VeryChord` (chord iterations with the
    Jacobian taken once per step at ``(t0, y0)``).

    The error estimate for adaptive steps is the difference from the trapezoidal rule,
    ``(k1 - k0) / 2`` with ``k0 = f(t0, y0) dt`` and ``k1 = f(t1, y1) dt``; it is of size
    ``h**2 y''/2``. For stiff components that raw difference is dominated by
    ``dt * df/dy`` times the deviation of ``y0`` from the slow manifold, so it is filtered
    with the iteration matrix, ``(I - dt J)^{-1} (k1 - k0) / 2`` (Shampine's filter, as in
    Hairer & Wanner's RADAU5), which leaves the non-stiff part unchanged to leading order.

    Dense output is linear interpolation between the step's end points.

    **Arguments:**

    - `root_finder`: `VeryChord` (default) or an optimistix root finder. Its ``rtol``/``atol``
      are taken from the step-size controller when left unset.
    - `root_find_max_steps`: the most root-finder iterations per step.
    """

    interpolation_cls: ClassVar[type[LocalLinearInterpolation]] = LocalLinearInterpolation
    root_finder: Any = eqx.field(default_factory=VeryChord)
    root_find_max_steps: int = eqx.field(static=True, default=10)

    def order(self, terms: AbstractTerm) -> int:
        del terms
        return 1

    def error_order(self, terms: AbstractTerm) -> float:
        del terms
        return 2.0

    def step(
        self,
        terms: AbstractTerm,
        t0: RealScalarLike,
        t1: RealScalarLike,
        y0: Y,
        args: Args,
        solver_state: None,
        made_jump: BoolScalarLike,
    ) -> tuple[Y, Y, DenseInfo, None, Array]:
        del solver_state, made_jump
        problem = linearise_step(terms, t0, t1, y0, args)
        chord_solve = chord_factor(problem.jacobian, 1.0)

        # The unknown is the displacement w = y1 - y0 = increment(t1, y1).
        def residual(w: Array) -> Array:
            return w - problem.increment(t1, problem.y0 + w)

        w, result = solve_stage(self, residual, problem.k0, chord_solve, problem.y0)
        failed = result != RESULTS.successful
        w = jnp.where(failed, jnp.zeros_like(w), w)  # a rejected step never carries NaN
        y1_flat = problem.y0 + w
        error_flat = chord_solve(0.5 * (w - problem.k0))
        y1 = problem.unravel(y1_flat)
        dense_info = dict(y0=y0, y1=y1)
        return y1, problem.unravel(error_flat), dense_info, None, result


__all__ = ["ImplicitEuler", "Linearisation", "linearise_step", "chord_factor", "solve_stage"]
