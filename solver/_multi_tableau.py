"""Runge–Kutta methods with one tableau per term: `MultiButcherTableau` (additive RK).

For ``dy/dt = f_1(t, y) + ... + f_M(t, y)`` given as ``MultiTerm(term_1, ..., term_M)``, an
additive Runge–Kutta method gives every term its own tableau ``(a^m, b^m, c^m)`` with the same
number of stages ``s``. Stage ``i`` is one point shared by all terms, built from every term's
earlier increments, and each term is evaluated there at its own time::

    Y_i    = y0 + sum_m sum_{j<i} a^m_ij k^m_j
    k^m_i  = f_m(t0 + c^m_i h, Y_i) h
    y1     = y0 + sum_m sum_i b^m_i k^m_i,      y_error = sum_m sum_i (b^m - b̂^m)_i k^m_i

With every tableau equal this is the single-tableau method applied to the sum (the two agree to
rounding). Different tableaus let, e.g., a stiff term use an implicit (ESDIRK) tableau while the
rest stays explicit: an IMEX method such as Kennedy & Carpenter's ARK schemes. Besides each
tableau's own order conditions, an additive method of order ``p`` needs the coupling conditions
between tableaus (trees whose nodes are coloured by term); equal tableaus satisfy them trivially.

This engine runs explicit tableaus; a tableau with a non-zero diagonal is accepted when the
class is defined (as in diffrax) but stepping with it raises ``NotImplementedError``:
jaxlint.solver does not have implicit stages inside additive methods yet.

`CalculateJacobian` names when a method would (re)compute the Jacobian of its implicit part;
diffrax's custom solvers declare it, jaxlint accepts it for compatibility.
"""

from __future__ import annotations

import enum
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from ._custom_types import Args, BoolScalarLike, DenseInfo, RealScalarLike, SolverState, Y
from ._interpolation import LocalLinearInterpolation
from ._results import RESULTS
from ._term import AbstractTerm, MultiTerm


class CalculateJacobian(enum.IntEnum):
    """When a Runge–Kutta method computes the Jacobian of its implicit part: ``never``
    (explicit methods), ``every_stage`` (DIRK: each stage has its own diagonal), ``first_stage``
    (SDIRK: one diagonal, so one factorisation per step from the first stage) or
    ``second_stage`` (ESDIRK: the first stage is explicit, so from the second)."""

    never = 0
    every_stage = 1
    first_stage = 2
    second_stage = 3


def _is_implicit(tableau: Any) -> bool:
    return bool(np.any(np.diag(np.asarray(tableau.a)) != 0))


class MultiButcherTableau:
    """One tableau per term of a `MultiTerm` (module docstring). All tableaus need the same
    number of stages, and at most one may be implicit (``ValueError`` otherwise)."""

    def __init__(self, *tableaus: Any) -> None:
        if not tableaus:
            raise ValueError("`MultiButcherTableau` needs at least one tableau.")
        stages = {int(t.num_stages) for t in tableaus}
        if len(stages) != 1:
            raise ValueError(
                "`MultiButcherTableau`: every tableau needs the same number of stages (the "
                f"stages are shared between terms); got {sorted(stages)}."
            )
        if sum(_is_implicit(t) for t in tableaus) > 1:
            raise ValueError(
                "`MultiButcherTableau`: at most one tableau may be implicit (one stiff term "
                "solved implicitly, the others explicitly)."
            )
        self.tableaus = tuple(tableaus)

    @property
    def num_stages(self) -> int:
        return int(self.tableaus[0].num_stages)

    @property
    def implicit(self) -> bool:
        return any(_is_implicit(t) for t in self.tableaus)

    @property
    def fsal_stage(self) -> int | None:
        """The stage at ``(t1, y1)`` for every term (each term's vector field there is the next
        step's first stage), or None."""
        stages = {getattr(t, "fsal_stage", None) for t in self.tableaus}
        return stages.pop() if len(stages) == 1 else None

    @property
    def fsal(self) -> bool:
        return self.fsal_stage is not None and not self.implicit

    @property
    def b_error(self) -> tuple[np.ndarray, ...] | None:
        errors = [t.b_error for t in self.tableaus]
        return None if any(e is None for e in errors) else tuple(errors)


def _stack_sum(weights: jax.Array, stages: Y) -> Y:
    """``sum_i weights[i] * stages[i]`` per leaf (leading stage axis)."""

    def leaf(k: jax.Array) -> jax.Array:
        return jnp.sum(weights.astype(k.dtype).reshape((-1,) + (1,) * (k.ndim - 1)) * k, axis=0)

    return jax.tree_util.tree_map(leaf, stages)


def _add(*trees: Y) -> Y:
    return jax.tree_util.tree_map(lambda *xs: sum(xs[1:], xs[0]), *trees)


def multi_tableau_step(
    solver: Any,
    terms: AbstractTerm,
    t0: RealScalarLike,
    t1: RealScalarLike,
    y0: Y,
    args: Args,
    solver_state: SolverState,
    made_jump: BoolScalarLike,
) -> tuple[Y, Y | None, DenseInfo, SolverState, jax.Array]:
    """One step of ``solver`` (an `AbstractRungeKutta` whose ``tableau`` is a
    `MultiButcherTableau`); the same contract as `AbstractSolver.step`."""
    tableau: MultiButcherTableau = solver.tableau
    if not isinstance(terms, MultiTerm) or len(terms.terms) != len(tableau.tableaus):
        raise ValueError(
            f"`{type(solver).__name__}` has {len(tableau.tableaus)} tableaus and needs a "
            f"`MultiTerm` of as many terms; got {type(terms).__name__}."
        )
    if tableau.implicit:
        raise NotImplementedError(
            f"`{type(solver).__name__}`: implicit tableaus inside a `MultiButcherTableau` "
            "(IMEX methods) are not implemented in jaxlint.solver; use explicit tableaus."
        )
    parts = terms.terms
    num_stages = tableau.num_stages
    with jax.numpy_dtype_promotion("standard"):
        time_dtype = jnp.result_type(t0, t1, float)
    t0 = jnp.asarray(t0, time_dtype)
    h = jnp.asarray(t1, time_dtype) - t0
    controls = [term.contr(t0, t0 + h) for term in parts]
    fsal = solver.carries_vf(terms, t0, t0 + h, y0, args)
    use_cache = fsal and made_jump is False
    first = 1 if use_cache else 0

    stages = tuple(
        jax.tree_util.tree_map(
            lambda y: jnp.zeros((num_stages, *jnp.shape(y)), jnp.result_type(y)), y0
        )
        for _ in parts
    )
    if use_cache:
        stages = tuple(
            jax.tree_util.tree_map(lambda buf, k: buf.at[0].set(k), buf_m, term.prod(vf, c))
            for buf_m, term, vf, c in zip(stages, parts, solver_state, controls)
        )
    last_vf = solver_state if use_cache else jax.tree_util.tree_map(
        jnp.zeros_like, jax.eval_shape(lambda: terms.vf(t0, y0, args))
    )
    fsal_stage = tableau.fsal_stage

    def one_stage(carry, xs):
        stages, fsal_vf = carry
        a_rows, c_row, i = xs
        y_i = _add(y0, *(_stack_sum(a_rows[m], stages[m]) for m in range(len(parts))))
        vfs = tuple(term.vf(t0 + c_row[m] * h, y_i, args) for m, term in enumerate(parts))
        new_stages = tuple(
            jax.tree_util.tree_map(
                lambda buf, k: lax.dynamic_update_index_in_dim(buf, k, i, 0),
                stages[m], term.prod(vfs[m], controls[m]),
            )
            for m, term in enumerate(parts)
        )  # fmt: skip
        if fsal_stage is not None:
            vfs = jax.tree_util.tree_map(
                lambda new, old: jnp.where(i == fsal_stage, new, old), vfs, fsal_vf
            )
        return (new_stages, vfs), None

    a_all = jnp.asarray(np.stack([np.asarray(t.a) for t in tableau.tableaus], 1), time_dtype)
    c_all = jnp.asarray(np.stack([np.asarray(t.c) for t in tableau.tableaus], 1), time_dtype)
    xs = (a_all[first:], c_all[first:], jnp.arange(first, num_stages))
    (stages, last_vf), _ = lax.scan(one_stage, (stages, tuple(last_vf)), xs)

    weights = [jnp.asarray(t.b, time_dtype) for t in tableau.tableaus]
    y1 = _add(y0, *(_stack_sum(w, k) for w, k in zip(weights, stages)))
    errors = tableau.b_error
    y_error = None
    if errors is not None:
        y_error = _add(*(_stack_sum(jnp.asarray(e, time_dtype), k) for e, k in zip(errors, stages)))
    new_state = tuple(last_vf) if fsal else None
    return y1, y_error, _dense_info(solver, y0, y1, stages), new_state, jnp.asarray(
        RESULTS.successful, jnp.int32
    )


def _dense_info(solver: Any, y0: Y, y1: Y, stages: tuple[Y, ...]) -> DenseInfo:
    """A custom ``interpolation_cls`` (a function) gets every term's stage buffer, ``k`` as a
    tuple (diffrax's layout); `LocalLinearInterpolation` only needs the ends."""
    cls = solver.interpolation_cls
    if isinstance(cls, type) and issubclass(cls, LocalLinearInterpolation):
        return dict(y0=y0, y1=y1)
    if isinstance(cls, type):
        raise TypeError(
            f"`{type(solver).__name__}`: a `MultiButcherTableau` solver needs "
            "`LocalLinearInterpolation` or a function of (t0, t1, y0, y1, k) as "
            "`interpolation_cls`."
        )
    return dict(y0=y0, y1=y1, k=stages)


__all__ = ["CalculateJacobian", "MultiButcherTableau", "multi_tableau_step"]
