"""The result of `diffeqsolve`."""

from __future__ import annotations

from typing import Any

import equinox as eqx

from ._custom_types import Array, PyTree, RealScalarLike, Y
from ._interpolation import DenseInterpolation


class Solution(eqx.Module):
    """What `diffeqsolve` returns.

    - ``t0``, ``t1``: the interval asked for.
    - ``ts``, ``ys``: saved times and outputs (``fn(t, y, args)``). For ``SaveAt(subs=[...])``
      they have the structure of ``subs``, one entry per `SubSaveAt`. Slots that were never reached (after a
      terminating event, or when the solve failed with ``throw=False``) hold ``inf``.
    - ``stats``: ``num_steps``, ``num_accepted_steps``, ``num_rejected_steps``, ``max_steps``.
    - ``result``: a `RESULTS` code (``RESULTS.successful`` or ``RESULTS.event_occurred`` on
      success).
    - ``solver_state``, ``controller_state``, ``made_jump``: their values at the end of the
      solve when `SaveAt` asks for them, else None.
    - ``event_mask``: with an `Event`, a PyTree of bools shaped like its ``cond_fn``, True
      for the condition that stopped the solve (else None). ``event_time``: the time it
      stopped (``inf`` when no event happened); jaxlint's addition to diffrax's fields.
    - ``evaluate(t)``, ``derivative(t)``: dense output (needs ``SaveAt(dense=True)``).
    """

    t0: Array
    t1: Array
    ts: Any
    ys: Any
    interpolation: DenseInterpolation | None
    stats: dict[str, Array | int | None]
    result: Array
    solver_state: PyTree | None = None
    controller_state: PyTree | None = None
    made_jump: Array | None = None
    event_mask: PyTree | None = None
    event_time: Array | None = None

    def _dense(self) -> DenseInterpolation:
        if self.interpolation is None:
            raise ValueError(
                "Dense output was not saved: pass `saveat=SaveAt(dense=True, ...)` to "
                "`diffeqsolve` to use `Solution.evaluate` / `Solution.derivative`."
            )
        return self.interpolation

    def evaluate(
        self, t0: RealScalarLike, t1: RealScalarLike | None = None, left: bool = True
    ) -> Y:
        """The solution at ``t0`` (or the increment ``y(t1) - y(t0)``), by dense output."""
        return self._dense().evaluate(t0, t1, left)

    def derivative(self, t: RealScalarLike, left: bool = True) -> PyTree:
        """``dy/dt`` at ``t``, by differentiating the dense output."""
        return self._dense().derivative(t, left)


__all__ = ["Solution"]
