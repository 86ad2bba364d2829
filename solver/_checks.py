"""Argument checks for `diffeqsolve`: errors that name the argument at fault.

Values known before tracing (Python numbers, NumPy arrays, jax arrays outside ``jit``) are
checked now with an `InvalidArgumentError`: a ``ValueError`` that is also a ``RuntimeError``,
the type diffrax raises for the same mistakes (it checks them only when the solve runs). For traced values the same predicates become a result code
(`RESULTS.invalid_*`): the solve does not start, and ``throw=True`` raises the message through
the one runtime error check every solve has anyway (each separate check is a branch with a
host callback, which costs compile time).
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from ._custom_types import Array, InvalidArgumentError
from ._results import RESULTS
from ._saveat import SaveAt
from ._solver_base import AbstractSolver
from ._step_size_controller import AbstractStepSizeController
from ._term import AbstractTerm


def concrete_value(x: Any) -> np.ndarray | None:
    """``x`` as a NumPy array if it is known at trace time, else None."""
    try:
        return np.asarray(x)
    except (jax.errors.ConcretizationTypeError, jax.errors.TracerArrayConversionError):
        return None


def is_concrete(*xs: Any) -> bool:
    """Whether every value is known at trace time."""
    return all(concrete_value(x) is not None for x in jax.tree_util.tree_leaves(xs))


def check_types(
    terms: Any, solver: Any, stepsize_controller: Any, saveat: Any, max_steps: Any
) -> None:
    if isinstance(terms, (tuple, list)) and all(isinstance(t, AbstractTerm) for t in terms):
        # A PyTree of terms: diffrax's form for solvers that take terms separately. A
        # structure mismatch, hence ValueError as in diffrax.
        raise ValueError(
            f"`terms` is a {type(terms).__name__} of terms, but `{type(solver).__name__}` takes "
            "one term: combine them with `MultiTerm(...)`."
        )
    if not isinstance(terms, AbstractTerm):
        raise TypeError(
            f"`terms` must be a term such as `ODETerm(f)` or `MultiTerm(...)`, got "
            f"{type(terms).__name__}."
        )
    if not isinstance(solver, AbstractSolver):
        raise TypeError(
            f"`solver` must be a solver such as `Tsit5()`, got {type(solver).__name__}."
        )
    if not isinstance(stepsize_controller, AbstractStepSizeController):
        raise TypeError(
            "`stepsize_controller` must be `ConstantStepSize()`, `StepTo(ts)` or "
            f"`PIDController(...)`, got {type(stepsize_controller).__name__}."
        )
    if not isinstance(saveat, SaveAt):
        raise TypeError(f"`saveat` must be a `SaveAt`, got {type(saveat).__name__}.")
    if max_steps is not None and (not isinstance(max_steps, (int, np.integer)) or max_steps < 1):
        raise ValueError(f"`max_steps` must be a positive int or None, got {max_steps!r}.")
    if stepsize_controller.adaptive and getattr(stepsize_controller, "error_order", None) is None:
        if solver.error_order(terms) is None:
            raise ValueError(
                f"`{type(solver).__name__}` has no error estimate, so it cannot be used with an "
                "adaptive `stepsize_controller`; use `ConstantStepSize()` (with `dt0`)."
            )


def check_steps_need_bound(saveat: SaveAt, max_steps: int | None) -> None:
    if max_steps is None and (saveat.dense or any(sub.steps for sub in saveat.sub_list)):
        raise ValueError(
            "`max_steps=None` cannot be used with `SaveAt(steps=...)` or `SaveAt(dense=True)`: "
            "their buffers have one slot per step; pass an int `max_steps`."
        )


def check_dt0(t0: Array, t1: Array, dt0: Array | None) -> Array:
    """``dt0`` must point from ``t0`` towards ``t1``: raise now if known, else return the
    result code to start the solve with."""
    ok = jnp.asarray(RESULTS.successful, jnp.int32)
    if dt0 is None:
        return ok
    if is_concrete(t0, t1, dt0):
        span = float(concrete_value(t1)) - float(concrete_value(t0))
        step = float(concrete_value(dt0))
        if span * step < 0 or (step == 0 and span != 0):
            raise InvalidArgumentError(
                f"`dt0` must have the sign of `t1 - t0` (got dt0={step}, t1 - t0={span})."
            )
        return ok
    bad = ((t1 - t0) * dt0 < 0) | ((dt0 == 0) & (t1 != t0))
    return jnp.where(bad, RESULTS.invalid_dt0_sign, ok).astype(jnp.int32)


def check_save_times(ts: Array, t0: Array, t1: Array, where: str) -> Array:
    """Internal (increasing-time) save times must be non-decreasing and inside [t0, t1]: raise
    now if known, else return the result code to start the solve with."""
    ok = jnp.asarray(RESULTS.successful, jnp.int32)
    if jnp.shape(ts)[0] == 0:
        return ok
    if is_concrete(ts, t0, t1):
        ts_np = concrete_value(ts)
        lo, hi = float(concrete_value(t0)), float(concrete_value(t1))
        if np.any(np.diff(ts_np) < 0):
            raise InvalidArgumentError(
                f"`{where}` must be monotone in the direction of integration (from t0 to t1)."
            )
        if ts_np[0] < lo or ts_np[-1] > hi:
            raise InvalidArgumentError(f"`{where}` must lie inside [t0, t1].")
        return ok
    unordered = jnp.any(ts[1:] < ts[:-1])
    outside = (ts[0] < t0) | (ts[-1] > t1)
    code = jnp.where(outside, RESULTS.invalid_save_times_range, ok)
    return jnp.where(unordered, RESULTS.invalid_save_times_order, code).astype(jnp.int32)


__all__ = ["InvalidArgumentError", "check_types", "check_steps_need_bound", "check_dt0", "check_save_times", "is_concrete"]
