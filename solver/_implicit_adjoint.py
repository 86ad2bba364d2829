"""`ImplicitAdjoint`: differentiate a solve to steady state by the implicit function theorem.

A solve run until the state stops moving (``Event(steady_state_event())``, ``t1=inf``) returns
``y*(θ)`` with ``f(t, y*(θ), θ) = 0``, where ``θ`` is every parameter in ``terms`` and ``args``.
Differentiating that identity in ``θ``::

    (∂f/∂y) dy*/dθ + ∂f/∂θ = 0   ⇒   dy*/dθ = -(∂f/∂y)⁻¹ ∂f/∂θ

so a tangent ``δθ`` maps to ``δy* = -J⁻¹ (∂f/∂θ · δθ)`` with ``J = ∂f/∂y`` at the solution:
one Jacobian and one linear solve, instead of differentiating every step of the solve. The
rule is a JVP that is linear in ``δθ``, so JAX transposes it for reverse mode (``J`` becomes
``Jᵀ``). The answer does not depend on ``y0`` (a steady state forgets where it started; its
gradient is zero) nor on how the solver got there, and it is only right if the solve did reach
``f = 0``: the tolerance of the steady-state event bounds the error of the gradient.

Only ``SaveAt(t1=True)`` is supported (the one output that is a steady state).
"""

from __future__ import annotations

from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
from jax.flatten_util import ravel_pytree

from ._adjoint import AbstractAdjoint, _lax_loop
from ._custom_types import PyTree, Y
from ._saveat import save_y


def _frozenset(x: Any) -> frozenset:
    return frozenset(x) if isinstance(x, (set, frozenset, list, tuple)) else frozenset([x])


class ImplicitAdjoint(AbstractAdjoint):
    """Gradients of a steady state by the implicit function theorem (module docstring).

    - ``linear_solver``: None (default) solves ``J x = b`` with a dense LU factorisation of the
      Jacobian (fine up to a few thousand state elements); or any Lineax solver (e.g.
      ``lineax.GMRES(...)``), given a ``JacobianLinearOperator`` with ``tags``. diffrax's
      default is ``lineax.AutoLinearSolver(well_posed=None)``: jaxlint does not require Lineax.
    - ``tags``: Lineax tags describing ``J`` (e.g. ``lineax.symmetric_tag``), used with a
      Lineax ``linear_solver``.
    """

    linear_solver: Any = None
    tags: frozenset = eqx.field(default_factory=frozenset, converter=_frozenset, static=True)

    def check(self, *, saveat, event, max_steps):
        subs = saveat.sub_list
        only_t1 = (
            len(subs) == 1
            and subs[0].t1
            and not subs[0].t0
            and subs[0].ts is None
            and not subs[0].steps
            and subs[0].fn is save_y
            and not (saveat.dense or saveat.solver_state or saveat.controller_state)
            and not saveat.made_jump
        )
        if not only_t1:
            raise ValueError(
                "`ImplicitAdjoint` needs `saveat=SaveAt(t1=True)`: only the final state is a "
                "steady state it can differentiate."
            )

    def run(self, run, config, terms, y0, args):
        params, static = eqx.partition((terms, args), eqx.is_inexact_array)
        return _steady_state(params, y0, static=static, run=run, config=config, adjoint=self)

    def solve_linear(self, jacobian_fn, y: Y, rhs: Y) -> Y:
        """``x`` with ``J x = rhs``, where ``J = d jacobian_fn / dy`` at ``y``."""
        if self.linear_solver is None:
            flat_y, unravel = ravel_pytree(y)
            flat_fn = lambda v: ravel_pytree(jacobian_fn(unravel(v)))[0]
            matrix = jax.jacfwd(flat_fn)(flat_y)
            return unravel(jnp.linalg.solve(matrix, ravel_pytree(rhs)[0]))
        import lineax as lx  # only with a Lineax solver: not a dependency of jaxlint

        operator = lx.JacobianLinearOperator(lambda v, _: jacobian_fn(v), y, tags=self.tags)
        return lx.linear_solve(operator, rhs, self.linear_solver).value


@eqx.filter_custom_jvp
def _steady_state(params, y0, *, static, run, config, adjoint):
    terms, args = eqx.combine(params, static)
    return run(config, terms, y0, args, _lax_loop, _lax_loop)


def _rate(params: PyTree, static: PyTree, t: Any, y: Y) -> Y:
    """``dy/dt = f(t, y, θ)`` (for a `MultiTerm`, the sum of its terms)."""
    terms, args = eqx.combine(params, static)
    return terms.vf_prod(t, y, args, terms.contr(t, t + 1))


@_steady_state.def_jvp
def _steady_state_jvp(primals, tangents, *, static, run, config, adjoint):
    params, y0 = primals
    t_params, _ = tangents  # y0's tangent is ignored: the steady state does not depend on it
    out = _steady_state(params, y0, static=static, run=run, config=config, adjoint=adjoint)
    out = jax.lax.stop_gradient(out)
    y_star = out.y_final
    t_star = out.t_final
    if t_params is None:
        t_y = jax.tree_util.tree_map(jnp.zeros_like, y_star)
    else:
        # Symbolic zeros (None) become arrays: jax.jvp needs a tangent per primal leaf.
        t_params = jax.tree_util.tree_map(
            lambda p, t: p if p is None else (jnp.zeros_like(p) if t is None else t),
            params, t_params, is_leaf=lambda x: x is None,
        )
        # ∂f/∂θ · δθ, then δy* = -J⁻¹ (∂f/∂θ · δθ).
        _, df_dtheta = jax.jvp(lambda p: _rate(p, static, t_star, y_star), (params,), (t_params,))
        solved = adjoint.solve_linear(lambda y: _rate(params, static, t_star, y), y_star, df_dtheta)
        t_y = jax.tree_util.tree_map(jnp.negative, solved)
    t_ys = [jax.tree_util.tree_map(lambda d: d[None], t_y)]
    t_out = jax.tree_util.tree_map(lambda _: None, out)
    t_out = eqx.tree_at(lambda o: (o.ys, o.y_final), t_out, (t_ys, t_y), is_leaf=lambda x: x is None)
    return out, t_out


__all__ = ["ImplicitAdjoint"]
