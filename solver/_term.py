"""Terms: what the solver integrates.

An ODE ``dy/dt = f(t, y, args)`` is written ``ODETerm(f)``. A solver only talks to a term
through four methods, which also admit controls other than time (diffrax's design)::

    vf(t, y, args)              the vector field f(t, y, args)
    contr(t0, t1)               the control increment over [t0, t1]; for an ODE, t1 - t0
    prod(vf, control)           how a vector field acts on a control; for an ODE, vf * dt
    vf_prod(t, y, args, c)      prod(vf(t, y, args), c)

``MultiTerm(a, b, ...)`` adds terms: ``vf`` is the tuple of the terms' vector fields, ``contr``
the tuple of their controls, and ``prod`` the sum of the terms' products.
"""

from __future__ import annotations

import abc
from collections.abc import Callable
from typing import Generic, TypeVar

import equinox as eqx
import jax
import jax.numpy as jnp

from ._custom_types import VF, Args, Control, PyTree, RealScalarLike, Y


_VF = TypeVar("_VF")
_Control = TypeVar("_Control")
_Terms = TypeVar("_Terms")


class AbstractTerm(eqx.Module, Generic[_VF, _Control]):
    """Abstract base of all terms (see the module docstring for the contract).

    Terms are generic in their vector-field and control types, so solvers can state the
    structure they accept as a type, e.g. ``MultiTerm[tuple[AbstractTerm, AbstractTerm]]``
    (a solver's ``term_structure``, as in diffrax)."""

    @abc.abstractmethod
    def vf(self, t: RealScalarLike, y: Y, args: Args) -> VF: ...

    @abc.abstractmethod
    def contr(self, t0: RealScalarLike, t1: RealScalarLike) -> Control: ...

    @abc.abstractmethod
    def prod(self, vf: VF, control: Control) -> Y: ...

    def vf_prod(self, t: RealScalarLike, y: Y, args: Args, control: Control) -> Y:
        """``prod(vf(t, y, args), control)``: the increment of ``y`` over a step."""
        return self.prod(self.vf(t, y, args), control)

    def is_vf_expensive(
        self, t0: RealScalarLike, t1: RealScalarLike, y: Y, args: Args
    ) -> bool:
        """Whether the vector field's value is too big to carry from one step to the next
        (a Python bool). When True, first-same-as-last solvers evaluate the first stage
        afresh and carry no solver state (``init`` returns None), as in diffrax."""
        del t0, t1, y, args
        return False


def _check_same_structure(y: Y, out: PyTree, what: str) -> None:
    """Trace-time check that a vector field returned something shaped like ``y``."""
    y_struct = jax.tree_util.tree_structure(y)
    out_struct = jax.tree_util.tree_structure(out)
    if y_struct != out_struct:
        raise ValueError(
            f"{what} returned a PyTree with structure {out_struct}, but the state `y0` has "
            f"structure {y_struct}; the vector field must return the same structure as `y0`."
        )
    for y_leaf, out_leaf in zip(jax.tree_util.tree_leaves(y), jax.tree_util.tree_leaves(out)):
        if jnp.shape(y_leaf) != jnp.shape(out_leaf):
            raise ValueError(
                f"{what} returned a leaf of shape {jnp.shape(out_leaf)} where the state `y0` "
                f"has shape {jnp.shape(y_leaf)}; the vector field must return the shape of `y0`."
            )


class ODETerm(AbstractTerm[_VF, RealScalarLike]):
    """The term of an ordinary differential equation ``dy/dt = vector_field(t, y, args)``.

    ``vector_field`` must return a PyTree with the structure and shapes of ``y`` (checked at
    trace time). Its output is cast to the dtypes of ``y``.
    """

    vector_field: Callable[[RealScalarLike, Y, Args], Y]

    def vf(self, t: RealScalarLike, y: Y, args: Args) -> Y:
        out = self.vector_field(t, y, args)
        _check_same_structure(y, out, "`ODETerm.vector_field`")
        return jax.tree_util.tree_map(lambda o, yi: jnp.asarray(o, jnp.result_type(yi)), out, y)

    def contr(self, t0: RealScalarLike, t1: RealScalarLike) -> RealScalarLike:
        return t1 - t0

    def prod(self, vf: Y, control: RealScalarLike) -> Y:
        return jax.tree_util.tree_map(lambda v: v * jnp.asarray(control, v.dtype), vf)


class MultiTerm(AbstractTerm, Generic[_Terms]):
    """The sum of several terms: ``MultiTerm(ODETerm(f), ODETerm(g))`` integrates ``f + g``."""

    terms: tuple[AbstractTerm, ...]

    def __init__(self, *terms: AbstractTerm):
        if not terms:
            raise ValueError("`MultiTerm` needs at least one term.")
        for term in terms:
            if not isinstance(term, AbstractTerm):
                raise TypeError(
                    f"`MultiTerm` arguments must be terms (e.g. `ODETerm(f)`), got {type(term)}."
                )
        self.terms = tuple(terms)

    def vf(self, t: RealScalarLike, y: Y, args: Args) -> tuple[VF, ...]:
        return tuple(term.vf(t, y, args) for term in self.terms)

    def contr(self, t0: RealScalarLike, t1: RealScalarLike) -> tuple[Control, ...]:
        return tuple(term.contr(t0, t1) for term in self.terms)

    def is_vf_expensive(
        self, t0: RealScalarLike, t1: RealScalarLike, y: Y, args: Args
    ) -> bool:
        return any(term.is_vf_expensive(t0, t1, y, args) for term in self.terms)

    def prod(self, vf: tuple[VF, ...], control: tuple[Control, ...]) -> Y:
        increments = [term.prod(v, c) for term, v, c in zip(self.terms, vf, control)]
        return jax.tree_util.tree_map(lambda *xs: sum(xs[1:], xs[0]), *increments)


__all__ = ["AbstractTerm", "ODETerm", "MultiTerm"]
