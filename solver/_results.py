"""Result codes returned by `diffeqsolve` (``Solution.result``) and by solver steps.

A code is an ``int32`` array (scalar, or batched under ``vmap``). Codes are plain Python ints
on the class, so ``result == RESULTS.successful`` and ``jnp.where(bad, RESULTS.nonfinite,
result)`` work inside traced code. Runtime failures never raise inside the loop: they become a
code, and ``diffeqsolve(..., throw=True)`` turns a failing code into a runtime error at the end
(`RESULTS.raise_if_failed`).
"""

from __future__ import annotations

import equinox as eqx
import jax.numpy as jnp

from ._custom_types import Array, PyTree


class RESULTS:
    """Integer result codes and their messages.

    - ``successful``: the solve reached ``t1``.
    - ``max_steps_reached``: ``max_steps`` steps were taken before ``t1``.
    - ``dt_min_reached``: the adaptive step fell below ``PIDController(dtmin=...)`` (and
      ``force_dtmin=False``).
    - ``nonfinite``: the state (or its error estimate) became NaN/inf and the step size could not
      shrink any further.
    - ``event_occurred``: a terminating `Event` stopped the solve before ``t1`` (a success).
    - ``implicit_nonconvergence``: the Newton iteration of an implicit step did not converge. A
      solver step returns it to reject the step; adaptive controllers then retry with a smaller
      step, so it only reaches the `Solution` with a constant step size.
    - ``invalid_save_times_order``, ``invalid_save_times_range``, ``invalid_dt0_sign``,
      ``invalid_step_to``: bad *traced* arguments (known ones raise ``ValueError`` before
      tracing). The solve does not start; ``throw=True`` raises the message.
    """

    successful = 0
    max_steps_reached = 1
    dt_min_reached = 2
    nonfinite = 3
    event_occurred = 4
    implicit_nonconvergence = 5
    invalid_save_times_order = 6
    invalid_save_times_range = 7
    invalid_dt0_sign = 8
    invalid_step_to = 9

    messages: tuple[str, ...] = (
        "",
        "The maximum number of solver steps was reached. Try increasing `max_steps`.",
        "The step size fell below `dtmin`. The problem may be stiff: try an implicit solver, "
        "or relax `dtmin` / set `force_dtmin=True`.",
        "A non-finite value (NaN or inf) appeared in the state or its error estimate.",
        "A terminating event occurred.",
        "The implicit (Newton) iteration failed to converge. Try a smaller step size or an "
        "adaptive step-size controller.",
        "`SaveAt(ts=...)` must be monotone in the direction of integration (from t0 to t1).",
        "`SaveAt(ts=...)` must lie inside [t0, t1].",
        "`dt0` must have the sign of `t1 - t0`.",
        "`StepTo(ts)` must start at `t0`, end at `t1` and be strictly monotone in the direction "
        "of integration.",
    )

    @classmethod
    def message(cls, code: int) -> str:
        """The message for a (concrete) code."""
        return cls.messages[int(code)]

    @classmethod
    def is_successful(cls, result: Array) -> Array:
        """True where the code means the solve ended normally (``t1`` reached, or an event)."""
        return (result == cls.successful) | (result == cls.event_occurred)

    @classmethod
    def promote(cls, result: Array, new_code: Array | int, pred: Array | bool) -> Array:
        """``new_code`` where ``pred`` holds and ``result`` is still successful, else ``result``.

        Keeps the first failure: a later failure never overwrites an earlier one.
        """
        keep = (result != cls.successful) | ~jnp.asarray(pred)
        return jnp.where(keep, result, jnp.asarray(new_code, jnp.int32)).astype(jnp.int32)

    @classmethod
    def raise_if_failed(cls, x: PyTree, result: Array) -> PyTree:
        """Return ``x`` unchanged, raising a runtime error (``EqxRuntimeError``) at run time if
        ``result`` is a failure code. Works under ``jit``/``vmap``/``grad``."""
        failed = ~cls.is_successful(result)
        return eqx.branched_error_if(x, failed, result, cls.messages)


__all__ = ["RESULTS"]
