"""`AdjointTerm`: the term of the continuous adjoint equations of another term.

For ``dy = f(t, y, θ) dx`` (``x`` the control; ``x = t`` for an ODE) and a scalar loss of the
solution, the adjoint ``a_y = dL/dy(t)`` and the parameter adjoints solve, backwards in time::

    dy    =  f(t, y, θ) dx
    da_y  = -a_y · ∂(f dx)/∂y
    da_θ  = -a_y · ∂(f dx)/∂θ          (θ: the floating arrays of ``args`` and of the term)

This is again a controlled equation on the augmented state ``(y, a_y, a_args, a_term)``
driven by the same control, so it is a term: ``vf_prod`` computes all four increments with
one reverse-mode product (``jax.vjp`` of ``f dx`` at ``a_y``). These are the equations
`BacksolveAdjoint` integrates from the end of the solve back to its start.

The right-hand side is linear in the control ``dx``; ``vf`` returns that linear map (its
Jacobian in ``dx``, a `_LinearInControl`), and ``prod`` applies it to a control, so that
``prod(vf(t, s, args), dx) == vf_prod(t, s, args, dx)`` as the term contract requires.
"""

from __future__ import annotations

from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp

from ._custom_types import Args, Control, PyTree, RealScalarLike
from ._term import AbstractTerm


class _LinearInControl(eqx.Module):
    """A linear map from controls to augmented states: ``blocks[i][j]`` is the derivative of
    output leaf ``i`` with respect to control leaf ``j`` (shape ``out_i.shape +
    control_j.shape``)."""

    blocks: list[list[jax.Array]]
    out_treedef: Any = eqx.field(static=True)

    def __call__(self, control: Control) -> PyTree:
        control_leaves = jax.tree_util.tree_leaves(control)
        outputs = []
        for row in self.blocks:
            total = None
            for block, c in zip(row, control_leaves):
                c = jnp.asarray(c)
                part = jnp.tensordot(block, c.astype(block.dtype), axes=c.ndim)
                total = part if total is None else total + part
            outputs.append(total)
        return jax.tree_util.tree_unflatten(self.out_treedef, outputs)


class AdjointTerm(AbstractTerm):
    """The adjoint system of ``term`` on the state ``(y, a_y, a_args, a_term)`` (module
    docstring). ``a_args`` and ``a_term`` are accumulated, never read: pass zeros (or None,
    their values are ignored) shaped like the floating parts of ``args`` and ``term``."""

    term: AbstractTerm

    def vf_prod(self, t: RealScalarLike, y: tuple, args: Args, control: Control) -> tuple:
        y_, a_y, _, _ = y
        diff_args, static_args = eqx.partition(args, eqx.is_inexact_array)
        diff_term, static_term = eqx.partition(self.term, eqx.is_inexact_array)

        def increment(state, args_, term_):
            term_ = eqx.combine(term_, static_term)
            return term_.vf_prod(t, state, eqx.combine(args_, static_args), control)

        dy, pullback = jax.vjp(increment, y_, diff_args, diff_term)
        da_y, da_args, da_term = pullback(jax.tree_util.tree_map(jnp.negative, a_y))
        return dy, da_y, da_args, da_term

    def vf(self, t: RealScalarLike, y: tuple, args: Args) -> _LinearInControl:
        control = self.contr(t, t)  # only its structure, shapes and dtypes matter
        out_struct = jax.eval_shape(lambda c: self.vf_prod(t, y, args, c), control)
        out_treedef = jax.tree_util.tree_structure(out_struct)
        jacobian = jax.jacfwd(lambda c: self.vf_prod(t, y, args, c))(control)
        # jacfwd nests the control's structure under every output leaf.
        control_treedef = jax.tree_util.tree_structure(control)
        rows = out_treedef.flatten_up_to(jacobian)
        blocks = [control_treedef.flatten_up_to(row) for row in rows]
        return _LinearInControl(blocks=blocks, out_treedef=out_treedef)

    def contr(self, t0: RealScalarLike, t1: RealScalarLike) -> Control:
        return self.term.contr(t0, t1)

    def prod(self, vf: _LinearInControl, control: Control) -> tuple:
        return vf(control)


__all__ = ["AdjointTerm"]
