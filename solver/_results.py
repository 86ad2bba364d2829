"""Result codes returned by `diffrax`-style solves (``Solution.result``) and solver steps.

`RESULTS` is an enumeration in diffrax's sense: ``RESULTS.max_steps_reached`` is a member,
``RESULTS[member]`` its message, ``len(RESULTS)`` the number of members. Each member is an
``int`` (with ``._value``, as diffrax's members have), so ``result == RESULTS.successful``
and ``jnp.where(bad, RESULTS.nonfinite, result)`` work inside traced code, and a
``Solution.result`` is a plain ``int32`` array (scalar, or batched under ``vmap``).

Runtime failures never raise inside the loop: they become a code, and
``diffeqsolve(..., throw=True)`` turns a failing code into a runtime error at the end
(`RESULTS.raise_if_failed`).
"""

from __future__ import annotations

from collections.abc import Iterator

import equinox as eqx
import jax.numpy as jnp
import numpy as np

from ._custom_types import Array, PyTree


class _Code(int):
    """One member of `RESULTS`: an int that knows its name."""

    name: str

    def __new__(cls, value: int, name: str) -> _Code:
        self = super().__new__(cls, value)
        self.name = name
        return self

    @property
    def _value(self) -> int:  # diffrax's enumeration items expose their integer so
        return int(self)

    def __repr__(self) -> str:
        return f"RESULTS.{self.name}"


# (name, message) in code order; the position is the code.
_MEMBERS: tuple[tuple[str, str], ...] = (
    ("successful", ""),
    ("max_steps_reached", "The maximum number of solver steps was reached. Try increasing "
     "`max_steps`."),
    ("dt_min_reached", "The step size fell below `dtmin`. The problem may be stiff: try an "
     "implicit solver, or relax `dtmin` / set `force_dtmin=True`."),
    ("nonfinite", "A non-finite value (NaN or inf) appeared in the state or its error "
     "estimate."),
    ("event_occurred", "Terminating differential equation solve because an event occurred."),
    ("nonlinear_divergence", "Nonlinear solve diverged: the implicit (Newton) iteration of a "
     "step did not converge. Try a smaller step size or an adaptive step-size controller."),
    ("invalid_save_times_order", "`SaveAt(ts=...)` must be monotone in the direction of "
     "integration (from t0 to t1)."),
    ("invalid_save_times_range", "`SaveAt(ts=...)` must lie inside [t0, t1]."),
    ("invalid_dt0_sign", "`dt0` must have the sign of `t1 - t0`."),
    ("invalid_step_to", "`StepTo(ts)` must start at `t0`, end at `t1` and be strictly "
     "monotone in the direction of integration."),
    ("nonlinear_max_steps_reached", "The maximum number of steps was reached in the "
     "nonlinear solver. The problem may not be solveable (e.g., a root-find on a function "
     "that has no roots), or you may need to increase `max_steps`."),
    ("singular", "The linear solver returned non-finite (NaN or inf) output: the operator "
     "is singular."),
    ("max_steps_rejected", "The maximum number of rejected steps was reached."),
    ("internal_error", "An internal error occurred in jaxlint.solver: please report it with "
     "a small example."),
)  # fmt: skip


class _Enumeration(type):
    """``len(RESULTS)``, ``RESULTS[code]`` (the message) and ``iter(RESULTS)``."""

    def __len__(cls) -> int:
        return len(_MEMBERS)

    def __iter__(cls) -> Iterator[_Code]:
        return (getattr(cls, name) for name, _ in _MEMBERS)

    def __getitem__(cls, code: int | Array) -> str:
        return cls.messages[int(np.asarray(code))]


class RESULTS(metaclass=_Enumeration):
    """Result codes and their messages (``RESULTS[code]``).

    - ``successful``: the solve reached ``t1``.
    - ``event_occurred``: a terminating `Event` stopped the solve (also a success).
    - ``max_steps_reached``: ``max_steps`` steps were taken before ``t1``.
    - ``dt_min_reached``: the adaptive step fell below ``PIDController(dtmin=...)`` (and
      ``force_dtmin=False``).
    - ``nonfinite``: the state (or its error estimate) became NaN/inf and the step size could
      not shrink any further.
    - ``nonlinear_divergence``: the Newton iteration of an implicit step did not converge.
      A solver step returns it to reject the step; adaptive controllers then retry with a
      smaller step, so it only reaches the `Solution` with a constant step size.
      (``implicit_nonconvergence`` is the same member under its older name.)
    - ``nonlinear_max_steps_reached``, ``singular``: failures of a nonlinear / linear solve
      (optimistix's names, for root finders that report them).
    - ``invalid_save_times_order``, ``invalid_save_times_range``, ``invalid_dt0_sign``,
      ``invalid_step_to``: bad *traced* arguments (known ones raise ``ValueError`` before
      tracing). The solve does not start; ``throw=True`` raises the message.
    """

    messages: tuple[str, ...] = tuple(message for _, message in _MEMBERS)

    successful = _Code(0, "successful")
    max_steps_reached = _Code(1, "max_steps_reached")
    dt_min_reached = _Code(2, "dt_min_reached")
    nonfinite = _Code(3, "nonfinite")
    event_occurred = _Code(4, "event_occurred")
    nonlinear_divergence = _Code(5, "nonlinear_divergence")
    implicit_nonconvergence = nonlinear_divergence
    invalid_save_times_order = _Code(6, "invalid_save_times_order")
    invalid_save_times_range = _Code(7, "invalid_save_times_range")
    invalid_dt0_sign = _Code(8, "invalid_dt0_sign")
    invalid_step_to = _Code(9, "invalid_step_to")
    nonlinear_max_steps_reached = _Code(10, "nonlinear_max_steps_reached")
    singular = _Code(11, "singular")
    max_steps_rejected = _Code(12, "max_steps_rejected")
    internal_error = _Code(13, "internal_error")

    @classmethod
    def message(cls, code: int | Array) -> str:
        """The message for a (concrete) code; the same as ``RESULTS[code]``."""
        return cls.messages[int(np.asarray(code))]

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


assert all(int(getattr(RESULTS, name)) == code for code, (name, _) in enumerate(_MEMBERS))

__all__ = ["RESULTS"]
