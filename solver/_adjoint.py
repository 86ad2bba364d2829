"""Adjoints: how a solve is differentiated.

The integration loop (`_integrate.run`) is written once; an adjoint only chooses the loop
primitives it runs on (``outer_loop`` over steps, ``inner_loop`` over the save points inside a
step) or, for `BacksolveAdjoint`, replaces reverse-mode differentiation of the loop by a
backwards solve of the continuous adjoint equations.

| adjoint | reverse mode | forward mode | memory in reverse mode |
| --- | --- | --- | --- |
| `RecursiveCheckpointAdjoint` | yes | no | ``checkpoints`` states |
| `DirectAdjoint` | yes | yes | ∝ ``max_steps`` |
| `BacksolveAdjoint` | yes | no | O(1) in the number of steps |
| `ForwardMode` | no | yes | — |
"""

from __future__ import annotations

import abc
import functools
import math
from collections.abc import Callable
from typing import Any

import equinox as eqx
import equinox.internal as eqxi

from ._custom_types import Args, PyTree, Y
from ._event import Event
from ._saveat import SaveAt
from ._term import AbstractTerm


def _lax_loop(cond, body, init, *, max_steps, buffers):
    return eqxi.while_loop(cond, body, init, max_steps=max_steps, buffers=buffers, kind="lax")


def _checkpointed_loop(cond, body, init, *, max_steps, buffers, checkpoints=None):
    return eqxi.while_loop(
        cond,
        body,
        init,
        max_steps=max_steps,
        buffers=buffers,
        kind="checkpointed",
        checkpoints=checkpoints,
    )


def _bounded_loop(cond, body, init, *, max_steps, buffers):
    """A reverse- and forward-differentiable loop of nested scans, ``log_16(max_steps)`` deep."""
    return eqxi.while_loop(
        cond, body, init, max_steps=max_steps, buffers=buffers, kind="bounded", base=16
    )


def _two_level_bounded_loop(cond, body, init, *, max_steps, buffers):
    """A bounded loop whose nesting depth is two for any bound ``n > 2`` (base
    ``isqrt(n) + 1``), so the program does not depend on ``n``: used for the save points."""
    if max_steps <= 2:
        base = 2
    else:
        base = math.isqrt(max_steps) + 1  # base < n < base**2: exactly two levels
    return eqxi.while_loop(
        cond, body, init, max_steps=max(max_steps, 3), buffers=buffers, kind="bounded", base=base
    )


class AbstractAdjoint(eqx.Module):
    """How `diffeqsolve` is differentiated (see the module docstring)."""

    def check(self, *, saveat: SaveAt, event: Event | None, max_steps: int | None) -> None:
        """Raise a clear error for a configuration this adjoint cannot handle."""

    @abc.abstractmethod
    def run(self, run: Callable[..., Any], config: Any, terms: AbstractTerm, y0: Y, args: Args):
        """Call ``run(config, terms, y0, args, outer_loop, inner_loop)`` (or wrap it)."""


class RecursiveCheckpointAdjoint(AbstractAdjoint):
    """Reverse mode through the solver's own operations, with binomial (treeverse)
    checkpointing: ``checkpoints`` saved states bound the memory; more checkpoints, less
    recomputation. ``checkpoints=None`` picks ``O(log max_steps)`` of them and needs an int
    ``max_steps``. One traced loop body whatever the number of checkpoints (pitfall P4).
    Not forward-mode differentiable (use `ForwardMode` or `DirectAdjoint`)."""

    checkpoints: int | None = eqx.field(static=True, default=None)

    def check(self, *, saveat, event, max_steps):
        if max_steps is None and self.checkpoints is None:
            raise ValueError(
                "`max_steps=None` needs a bound on memory: pass "
                "`adjoint=RecursiveCheckpointAdjoint(checkpoints=k)` or an int `max_steps`."
            )

    def run(self, run, config, terms, y0, args):
        outer = functools.partial(_checkpointed_loop, checkpoints=self.checkpoints)
        return run(config, terms, y0, args, outer, _checkpointed_loop)


class DirectAdjoint(AbstractAdjoint):
    """Differentiate the loop directly: a bounded loop (nested scans) that supports both
    reverse and forward mode, at the price of memory and compile time that grow with
    ``log(max_steps)``. Needs an int ``max_steps``."""

    def check(self, *, saveat, event, max_steps):
        if max_steps is None:
            raise ValueError(
                "`DirectAdjoint` needs an int `max_steps` (its loop is bounded); use "
                "`RecursiveCheckpointAdjoint(checkpoints=k)` for `max_steps=None`."
            )

    def run(self, run, config, terms, y0, args):
        return run(config, terms, y0, args, _bounded_loop, _two_level_bounded_loop)


class ForwardMode(AbstractAdjoint):
    """Forward-mode (``jax.jvp``/``jax.jacfwd``) differentiation through plain while loops:
    no memory overhead, any ``max_steps`` (including None); no reverse mode."""

    def run(self, run, config, terms, y0, args):
        return run(config, terms, y0, args, _lax_loop, _lax_loop)


__all__ = ["AbstractAdjoint", "RecursiveCheckpointAdjoint", "DirectAdjoint", "ForwardMode"]
