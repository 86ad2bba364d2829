"""Terminating events: stop the solve when a condition on ``(t, y)`` is met.

``Event(cond_fn)`` with ``cond_fn(t, y, args, **kwargs)`` returning either a bool (the event
happens when it becomes True) or a real scalar (the event happens when it changes sign).
``kwargs`` are ``terms, solver, t0, t1, dt0, saveat, stepsize_controller, max_steps``; accept
``**kwargs`` to ignore them.

Without a ``root_finder`` the solve stops at the end of the step where the event was detected.
With one, the event time is located inside that step on the step's dense interpolant:
`Bisection` works for both kinds of condition, `NewtonBisection` (safeguarded Newton, faster)
for real-valued ones. The located time is differentiable (implicit function theorem).
"""

from __future__ import annotations

import abc
from collections.abc import Callable

import equinox as eqx
import jax
import jax.numpy as jnp
from jax import lax

from ._custom_types import Array, RealScalarLike


class AbstractRootFinder(eqx.Module):
    """Locates the event time in ``[lower, upper]`` (internal, increasing times)."""

    rtol: RealScalarLike = 1e-8
    atol: RealScalarLike = 1e-8
    max_iterations: int = eqx.field(static=True, default=256)

    @abc.abstractmethod
    def find(
        self,
        value_fn: Callable[[Array], Array],
        crossed: Callable[[Array], Array],
        lower: Array,
        upper: Array,
    ) -> Array:
        """A time ``t`` within tolerance of where ``crossed`` first becomes True.

        ``crossed(t)`` is False at ``lower`` and True at ``upper``; ``value_fn(t)`` is the
        real-valued condition (for Newton steps)."""

    def _not_converged(self, lower: Array, upper: Array) -> Array:
        return (upper - lower) > self.atol + self.rtol * jnp.maximum(jnp.abs(lower), jnp.abs(upper))


class Bisection(AbstractRootFinder):
    """Halve the bracket until it is shorter than ``atol + rtol * |t|``; returns its right end
    (where the event has happened)."""

    def find(self, value_fn, crossed, lower, upper):
        del value_fn

        def cond(carry):
            lo, hi, i = carry
            return self._not_converged(lo, hi) & (i < self.max_iterations)

        def body(carry):
            lo, hi, i = carry
            mid = lo + 0.5 * (hi - lo)
            past = crossed(mid)
            return jnp.where(past, lo, mid), jnp.where(past, mid, hi), i + 1

        _, upper, _ = lax.while_loop(cond, body, (lower, upper, 0))
        return upper


class NewtonBisection(AbstractRootFinder):
    """Newton's method on the real-valued condition, falling back to bisection whenever the
    Newton step leaves the bracket; stops when the step or the bracket is below tolerance."""

    def find(self, value_fn, crossed, lower, upper):
        def cond(carry):
            lo, hi, t, step, i = carry
            small_step = jnp.abs(step) <= self.atol + self.rtol * jnp.abs(t)
            return self._not_converged(lo, hi) & ~small_step & (i < self.max_iterations)

        def body(carry):
            lo, hi, t, _, i = carry
            value, slope = jax.jvp(value_fn, (t,), (jnp.ones_like(t),))
            newton = t - value / jnp.where(slope == 0, 1, slope)
            inside = (slope != 0) & (newton > lo) & (newton < hi)
            t_new = jnp.where(inside, newton, lo + 0.5 * (hi - lo))
            past = crossed(t_new)
            lo_new = jnp.where(past, lo, t_new)
            hi_new = jnp.where(past, t_new, hi)
            return lo_new, hi_new, t_new, t_new - t, i + 1

        init = (lower, upper, upper, jnp.asarray(jnp.inf, upper.dtype), 0)
        _, _, t, _, _ = lax.while_loop(cond, body, init)
        return t


class Event(eqx.Module):
    """A terminating event (see the module docstring)."""

    cond_fn: Callable[..., Array | bool]
    root_finder: AbstractRootFinder | None = None

    def __check_init__(self) -> None:
        if not callable(self.cond_fn):
            raise TypeError("`Event(cond_fn)` must be callable as `cond_fn(t, y, args, **kwargs)`.")
        if self.root_finder is not None and not isinstance(self.root_finder, AbstractRootFinder):
            raise TypeError(
                "`Event(root_finder=...)` must be a `Bisection` or `NewtonBisection`, got "
                f"{type(self.root_finder).__name__}."
            )


def event_happened(previous: Array, current: Array) -> Array:
    """Whether an event fired between two evaluations of the condition."""
    if jnp.result_type(current) == jnp.bool_:
        return current & ~previous
    return ((previous < 0) & (current >= 0)) | ((previous > 0) & (current <= 0))


def is_boolean(value: Array) -> bool:
    return jnp.result_type(value) == jnp.bool_


__all__ = ["Event", "AbstractRootFinder", "Bisection", "NewtonBisection"]
