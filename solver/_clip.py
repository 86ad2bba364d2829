"""`ClipStepSizeController`: step to given times, and across known jumps, with any adaptive
controller (diffrax 0.7's home of ``step_ts`` / ``jump_ts``).

The wrapped controller proposes the next step as usual; the wrapper only shortens it:

- to end exactly at the first of ``step_ts`` after the step's start (e.g. a time where the
  vector field has a kink, or where accuracy matters);
- to end one ulp *before* the first of ``jump_ts`` (a discontinuity of the vector field); the
  step after it then starts one ulp *after* the jump, with ``made_jump=True`` so that
  first-same-as-last solvers re-evaluate the vector field instead of reusing a slope from
  the other side. The vector field is never evaluated at the jump itself. Whether a step
  crosses a jump is read off its start time (one ulp before a jump time), not carried as
  state, so nested wrappers and solves that start just before a jump both work.

Wrappers nest: each one clips what the controller inside proposes.
"""

from __future__ import annotations

from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp

from ._custom_types import RealScalarLike
from ._step_size_controller import (
    AbstractStepSizeController,
    clip_to_marks,
    nextafter_down,
    nextafter_up,
    sorted_times,
)


class _ClipState(eqx.Module):
    inner: Any  # the wrapped controller's state


def _bump_past_jump(t: jax.Array, jump_ts: jax.Array) -> tuple[jax.Array, jax.Array]:
    """If ``t`` is the float just before a jump time, the float just after that jump (and
    True). Decided from the value, not from a flag carried between steps, so a solve that
    *starts* one ulp before a jump (the end of an earlier solve) crosses it too."""
    index = jnp.searchsorted(jump_ts, t, side="right")
    safe = jnp.minimum(index, jump_ts.shape[0] - 1)
    jump = jump_ts[safe].astype(jnp.result_type(t))
    at_jump = (index < jump_ts.shape[0]) & (nextafter_down(jump) == t)
    return jnp.where(at_jump, nextafter_up(jump), t), at_jump


class ClipStepSizeController(AbstractStepSizeController):
    """Wraps an adaptive step-size controller (e.g. `PIDController`) to clip its steps at
    ``step_ts`` and ``jump_ts`` (see the module docstring).

    **Arguments:**

    - `controller`: the adaptive controller to wrap.
    - `step_ts`: times that must be stepped to exactly (any array-like of times).
    - `jump_ts`: times at which the vector field jumps (floating point).
    - `store_rejected_steps`: not supported here (it serves SDE solvers, which jaxlint.solver
      does not have); passing it raises.
    """

    controller: AbstractStepSizeController
    step_ts: jax.Array | None
    jump_ts: jax.Array | None

    def __init__(
        self,
        controller: AbstractStepSizeController,
        step_ts: Any = None,
        jump_ts: Any = None,
        store_rejected_steps: int | None = None,
    ):
        if not isinstance(controller, AbstractStepSizeController) or not controller.adaptive:
            raise ValueError(
                "`ClipStepSizeController(controller)` needs an adaptive controller such as "
                f"`PIDController(rtol, atol)`, got {type(controller).__name__}."
            )
        if store_rejected_steps is not None:
            raise NotImplementedError(
                "`ClipStepSizeController(store_rejected_steps=...)` is for SDE solvers, which "
                "jaxlint.solver does not have."
            )
        self.controller = controller
        self.step_ts = sorted_times(step_ts, "ClipStepSizeController(step_ts=...)")
        self.jump_ts = sorted_times(jump_ts, "ClipStepSizeController(jump_ts=...)")

    # What `diffeqsolve` and the solvers read from an adaptive controller.
    @property
    def adaptive(self) -> bool:
        return True

    @property
    def can_jump(self) -> bool:
        return self.jump_ts is not None or self.controller.can_jump

    @property
    def rtol(self) -> Any:
        return getattr(self.controller, "rtol", None)

    @property
    def atol(self) -> Any:
        return getattr(self.controller, "atol", None)

    @property
    def norm(self) -> Any:
        return getattr(self.controller, "norm", None)

    @property
    def error_order(self) -> Any:
        return getattr(self.controller, "error_order", None)

    def tolerances(self):
        return self.controller.tolerances()

    def check(self, t0: RealScalarLike, t1: RealScalarLike) -> bool:
        return self.controller.check(t0, t1)

    def input_result(self, t0: jax.Array, t1: jax.Array) -> jax.Array:
        return self.controller.input_result(t0, t1)

    def wrap(self, direction: jax.Array) -> "ClipStepSizeController":
        def internal(ts: jax.Array | None) -> jax.Array | None:
            return None if ts is None else jnp.sort(ts * direction)

        return eqx.tree_at(
            lambda c: (c.controller, c.step_ts, c.jump_ts),
            self,
            (self.controller.wrap(direction), internal(self.step_ts), internal(self.jump_ts)),
            is_leaf=lambda x: x is None,
        )

    def bind(self, t0: jax.Array, dt0: jax.Array | None) -> "ClipStepSizeController":
        return eqx.tree_at(lambda c: c.controller, self, self.controller.bind(t0, dt0))

    def init(self, terms, t0, t1, y0, dt0, args, func, error_order):
        tnext, inner = self.controller.init(terms, t0, t1, y0, dt0, args, func, error_order)
        tnext, _ = clip_to_marks(self.step_ts, self.jump_ts, jnp.asarray(t0), tnext)
        return tnext, _ClipState(inner)

    def adapt_step_size(self, t0, t1, y0, y1_candidate, args, y_error, error_order, state):
        keep, t0_next, t1_next, made_jump, inner, result = self.controller.adapt_step_size(
            t0, t1, y0, y1_candidate, args, y_error, error_order, state.inner
        )
        if self.jump_ts is not None:
            t0_next, jumped = _bump_past_jump(t0_next, self.jump_ts)
            made_jump = jnp.asarray(made_jump) | jumped
            # Never a step of zero length: the inner controller scales steps
            # multiplicatively and would stay stuck.
            t1_next = jnp.maximum(t1_next, nextafter_up(t0_next))
        t1_next, _ = clip_to_marks(self.step_ts, self.jump_ts, t0_next, t1_next)
        if not self.can_jump:
            made_jump = False
        return keep, t0_next, t1_next, made_jump, _ClipState(inner), result


__all__ = ["ClipStepSizeController"]
