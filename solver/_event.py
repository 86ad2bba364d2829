"""Terminating events: stop the solve when a condition on ``(t, y)`` is met.

``Event(cond_fn, root_finder=None, direction=None)``. ``cond_fn`` is one function or a PyTree
of them, each ``cond_fn(t, y, args, **kwargs)`` returning a scalar:

- a bool: the event happens at the end of the first step where it is True, and before the
  first step if it is True at ``t0`` already (the solve then takes no step);
- a float ``g``: the event happens on the step where ``sign(g)`` changes (diffrax's rule, so
  leaving an exact zero counts too); ``direction=True`` only for upcrossings
  (``g <= 0`` to ``g > 0``), ``False`` only for downcrossings, ``None`` both. ``direction``
  is one value for every condition, or a PyTree like ``cond_fn``.

``kwargs`` are ``terms, solver, t0, t1, dt0, saveat, stepsize_controller, max_steps``; accept
``**kwargs`` to ignore them. When several conditions fire on the same step, the first in
PyTree order wins: ``Solution.event_mask`` (a PyTree of bools like ``cond_fn``) marks it.

Without a ``root_finder`` the solve stops at the end of the step where the event happened.
With one, the time where the winning float condition is zero is located inside that step on
the step's dense interpolant: `Bisection` and `NewtonBisection` (safeguarded Newton, faster)
bracket the root, and also locate where a boolean condition turns True (by bisection). An
optimistix root finder (e.g. ``optx.Newton(rtol, atol)``) is accepted too; with one, a
boolean condition keeps the step end, as in diffrax. The located time is differentiable
(implicit function theorem).
"""

from __future__ import annotations

import abc
import warnings
from collections.abc import Callable
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
from jax import lax

from ._custom_types import Array, PyTree, RealScalarLike


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
    """Newton's method on the real-valued condition, kept inside a bracket: a Newton step
    that would leave the closed bracket ``[lo, hi]`` is replaced by bisection. Stops when the
    step or the bracket is below tolerance.

    The bracket is closed on purpose: once an end sits on the root (a step end can land
    exactly on it), Newton's next iterate *is* that end, and an open test would reject the
    converging step forever and fall back to bisection's tolerance."""

    def find(self, value_fn, crossed, lower, upper):
        def cond(carry):
            lo, hi, t, step, i = carry
            small_step = jnp.abs(step) <= self.atol + self.rtol * jnp.abs(t)
            return self._not_converged(lo, hi) & ~small_step & (i < self.max_iterations)

        def body(carry):
            lo, hi, t, _, i = carry
            value, slope = jax.jvp(value_fn, (t,), (jnp.ones_like(t),))
            newton = t - value / jnp.where(slope == 0, 1, slope)
            inside = (slope != 0) & (newton >= lo) & (newton <= hi)
            t_new = jnp.where(inside, newton, lo + 0.5 * (hi - lo))
            past = crossed(t_new)
            lo_new = jnp.where(past, lo, t_new)
            hi_new = jnp.where(past, t_new, hi)
            return lo_new, hi_new, t_new, t_new - t, i + 1

        init = (lower, upper, upper, jnp.asarray(jnp.inf, upper.dtype), 0)
        _, _, t, _, _ = lax.while_loop(cond, body, init)
        return t


def _is_optimistix_root_finder(x: Any) -> bool:
    try:
        import optimistix as optx
    except ImportError:  # then it cannot be one
        return False
    return isinstance(x, optx.AbstractRootFinder)


def _is_fn(x: Any) -> bool:
    return callable(x)


class Event(eqx.Module):
    """A terminating event (see the module docstring)."""

    cond_fn: PyTree[Callable[..., Array | bool]]
    root_finder: Any = None
    direction: PyTree[bool | None] = None

    def __init__(
        self,
        cond_fn: PyTree[Callable[..., Array | bool]],
        root_finder: Any = None,
        direction: bool | None | PyTree[bool | None] = None,
    ):
        conds, structure = jax.tree_util.tree_flatten(cond_fn, is_leaf=_is_fn)
        if not conds or not all(callable(c) for c in conds):
            raise TypeError(
                "`Event(cond_fn)` must be a function `cond_fn(t, y, args, **kwargs)` or a "
                "PyTree of them."
            )
        if direction is None or isinstance(direction, bool):
            direction = jax.tree_util.tree_unflatten(structure, [direction] * len(conds))
        leaves, direction_structure = jax.tree_util.tree_flatten(
            direction, is_leaf=lambda x: x is None
        )
        if direction_structure != structure or any(d not in (None, True, False) for d in leaves):
            raise ValueError(
                "`Event(direction=...)` must be None, a bool, or a PyTree of `None | bool` "
                "with the structure of `cond_fn`."
            )
        if not (
            root_finder is None
            or isinstance(root_finder, AbstractRootFinder)
            or _is_optimistix_root_finder(root_finder)
        ):
            raise TypeError(
                "`Event(root_finder=...)` must be `Bisection()`, `NewtonBisection()` or an "
                f"optimistix root finder, got {type(root_finder).__name__}."
            )
        self.cond_fn = cond_fn
        self.root_finder = root_finder
        self.direction = direction

    @property
    def conditions(self) -> list[Callable[..., Array | bool]]:
        return jax.tree_util.tree_leaves(self.cond_fn, is_leaf=_is_fn)

    @property
    def directions(self) -> list[bool | None]:
        return jax.tree_util.tree_leaves(self.direction, is_leaf=lambda x: x is None)

    def unflatten(self, values: list[Any]) -> PyTree:
        structure = jax.tree_util.tree_structure(self.cond_fn, is_leaf=_is_fn)
        return jax.tree_util.tree_unflatten(structure, values)


def steady_state_event(
    rtol: RealScalarLike | None = None,
    atol: RealScalarLike | None = None,
    norm: Callable[[PyTree], Array] | None = None,
) -> Callable[..., Array]:
    """A boolean condition for `Event`: the solve has reached a steady state once the vector
    field is small against the state, ``norm(f(t, y)) < atol + rtol * norm(y)``.

    ``rtol``, ``atol`` and ``norm`` default to those of the adaptive step-size controller of
    the solve (e.g. `PIDController`); give them explicitly with a constant step size. The
    check costs one extra vector-field evaluation per step."""

    def cond_fn(t, y, args, *, terms, solver, stepsize_controller, **kwargs):
        del kwargs
        # A wrapper (e.g. `ClipStepSizeController`) exposes the tolerances of what it wraps.
        inner = getattr(stepsize_controller, "controller", stepsize_controller)
        adaptive = getattr(inner, "adaptive", False)
        if not adaptive and (rtol is None or atol is None or norm is None):
            raise ValueError(
                "`steady_state_event()` takes `rtol`, `atol` and `norm` from an adaptive "
                "`stepsize_controller` (e.g. `PIDController`); with this one, pass them to "
                "`steady_state_event(rtol=..., atol=..., norm=...)`."
            )
        rtol_ = inner.rtol if rtol is None else rtol
        atol_ = inner.atol if atol is None else atol
        norm_ = inner.norm if norm is None else norm
        vf = solver.func(terms, t, y, args)
        return norm_(vf) < atol_ + rtol_ * norm_(y)

    return cond_fn


# diffrax < 0.7's discrete events, kept by diffrax 0.7 for backward compatibility:
# ``diffeqsolve(..., discrete_terminating_event=DiscreteTerminatingEvent(fn))`` with
# ``fn(state, **kwargs)`` reading ``state.tprev`` / ``state.y``. They become a boolean `Event`.


class AbstractDiscreteTerminatingEvent(eqx.Module):
    """A boolean condition on the solver state, checked at the end of every step."""

    @abc.abstractmethod
    def __call__(self, state: Any, **kwargs: Any) -> Array | bool: ...


class DiscreteTerminatingEvent(AbstractDiscreteTerminatingEvent):
    """Stop after the first step where ``cond_fn(state, **kwargs)`` is True (``state.tprev``
    the step end, ``state.y`` the state there). Deprecated form of `Event`."""

    cond_fn: Callable[..., Array | bool]

    def __call__(self, state: Any, **kwargs: Any) -> Array | bool:
        return self.cond_fn(state, **kwargs)


class SteadyStateEvent(AbstractDiscreteTerminatingEvent):
    """`steady_state_event` in the deprecated discrete-event form."""

    rtol: RealScalarLike | None = None
    atol: RealScalarLike | None = None
    norm: Callable[[PyTree], Array] | None = None

    def __call__(self, state: Any, *, args: Any, **kwargs: Any) -> Array | bool:
        condition = steady_state_event(self.rtol, self.atol, self.norm)
        return condition(state.tprev, state.y, args, **kwargs)


class _DiscreteState(eqx.Module):
    tprev: Any
    y: Any


class _DiscreteCondition(eqx.Module):
    """A discrete terminating event as an `Event` condition ``cond_fn(t, y, args, **kw)``."""

    event: AbstractDiscreteTerminatingEvent

    def __call__(self, t: Any, y: Any, args: Any, **kwargs: Any) -> Array | bool:
        return self.event(_DiscreteState(tprev=t, y=y), args=args, **kwargs)


def event_from_discrete(
    event: Event | None, discrete: AbstractDiscreteTerminatingEvent | None
) -> Event | None:
    """The `Event` for ``diffeqsolve(event=, discrete_terminating_event=)`` (the latter with a
    DeprecationWarning, as diffrax 0.7)."""
    if discrete is None:
        return event
    warnings.warn(
        "`diffeqsolve(..., discrete_terminating_event=...)` is deprecated (as in diffrax 0.7): "
        "use `diffeqsolve(..., event=Event(cond_fn))`.",
        DeprecationWarning,
        stacklevel=3,
    )
    if event is not None:
        raise ValueError(
            "`diffeqsolve` takes `event=` or `discrete_terminating_event=`, not both."
        )
    if not isinstance(discrete, AbstractDiscreteTerminatingEvent):
        raise TypeError(
            "`discrete_terminating_event` must be a `DiscreteTerminatingEvent`, got "
            f"{type(discrete).__name__}."
        )
    return Event(_DiscreteCondition(discrete))


def check_value(value: Any) -> Array:
    """A condition's value as a scalar bool or float array, else a ``ValueError``."""
    if jax.tree_util.tree_structure(value) != jax.tree_util.tree_structure(0):
        raise ValueError(
            "`Event`: each condition must return a scalar, got a PyTree "
            f"{jax.tree_util.tree_structure(value)}."
        )
    value = jnp.asarray(value)
    if value.shape != ():
        raise ValueError(f"`Event`: each condition must return a scalar, got shape {value.shape}.")
    if not (value.dtype == jnp.bool_ or jnp.issubdtype(value.dtype, jnp.floating)):
        raise ValueError(
            f"`Event`: each condition must return a bool or a float, got {value.dtype}."
        )
    return value


def crossing(previous: Array, current: Array, direction: bool | None) -> Array:
    """Whether a real condition changed sign between two evaluations (see the module
    docstring for the rule and ``direction``)."""
    before, after = jnp.sign(previous), jnp.sign(current)
    if direction is None:
        return before != after
    if direction:
        return (before <= 0) & (after > 0)
    return (before > 0) & (after <= 0)


def first_only(masks: list[Array]) -> list[Array]:
    """Keep the first True of ``masks`` (PyTree order): one event wins a step."""
    seen = jnp.asarray(False)
    out = []
    for mask in masks:
        out.append(mask & ~seen)
        seen = seen | mask
    return out


def is_boolean(value: Array) -> bool:
    return jnp.result_type(value) == jnp.bool_


__all__ = [
    "Event",
    "AbstractRootFinder",
    "Bisection",
    "NewtonBisection",
    "steady_state_event",
    "AbstractDiscreteTerminatingEvent",
    "DiscreteTerminatingEvent",
    "SteadyStateEvent",
]
