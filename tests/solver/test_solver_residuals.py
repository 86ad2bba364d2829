"""Reverse-mode memory per save point: only the saved outputs, never the bookkeeping around them.

Measured with the public analyzer API (`measure_residuals`: the bytes ``jax.vjp`` keeps for
the backward pass, the function's own arguments left out) at 16 and 64 save points of the same
solve. The difference over 48 points is what one save point costs. A 2-D float64 state is 16
bytes per save point. What is inherent:

- `RecursiveCheckpointAdjoint`: equinox's checkpointed loop keeps the filled output buffer
  for its recomputations, twice: 32 bytes (diffrax 0.7.2 stores 56 on this solve).
- `DirectAdjoint`: nothing per save point.
- `BacksolveAdjoint`: the saved states it restarts the backward solve from (16) and the save
  times, kept once by equinox's custom_vjp (8): 24.

Before, masking the buffers with ``jnp.where`` at allocation and at the end kept a broadcast
mask and a zero tangent per save point (36 bytes more), and save times converted to internal
time were a residual too (8 more).
"""

from __future__ import annotations

import jax.numpy as jnp
import pytest

from jaxlint.analyzer.residuals import measure_residuals
from jaxlint.solver import (
    BacksolveAdjoint,
    DirectAdjoint,
    Euler,
    ODETerm,
    RecursiveCheckpointAdjoint,
    SaveAt,
    diffeqsolve,
)

SMALL, LARGE = 16, 64


def decay(t, y, rate):
    return -rate * y


def _solve(y0, rate, *, ts, adjoint, saveat_flags):
    # t0 and t1 taken from the traced ts (as tests/analyzer/residual_script.py does): the
    # direction of integration is then traced, the general case.
    return diffeqsolve(
        ODETerm(decay), Euler(), ts[0], ts[-1], 0.01, y0, args=rate,
        saveat=SaveAt(ts=ts, **saveat_flags), adjoint=adjoint, max_steps=200,
    ).ys  # fmt: skip


def _measure(adjoint, saveat_flags, n):
    # ts is held fixed (a keyword argument): the gradient is with respect to y0 and rate.
    kwargs = dict(ts=jnp.linspace(0.0, 1.0, n), adjoint=adjoint, saveat_flags=saveat_flags)
    return measure_residuals(_solve, (jnp.array([1.0, 2.0]), jnp.array(0.5)), kwargs)


@pytest.mark.parametrize("saveat_flags", [{}, {"t0": True, "t1": True}], ids=["ts", "t0+ts+t1"])
@pytest.mark.parametrize(
    "adjoint, bytes_per_save_point",
    [(RecursiveCheckpointAdjoint(), 32), (DirectAdjoint(), 0), (BacksolveAdjoint(), 24)],
    ids=["recursive-checkpoint", "direct", "backsolve"],
)
def test_residual_bytes_per_save_point(adjoint, bytes_per_save_point, saveat_flags):
    small, large = (_measure(adjoint, saveat_flags, n) for n in (SMALL, LARGE))
    grown = large.figures["residual_bytes"] - small.figures["residual_bytes"]
    assert grown == bytes_per_save_point * (LARGE - SMALL), {
        line: large.lines.get(line, 0) - small.lines.get(line, 0) for line in large.lines
    }
    assert large.figures["residuals"] == small.figures["residuals"]


def test_no_per_save_point_residual_is_charged_to_the_save_buffers():
    small, large = (_measure(RecursiveCheckpointAdjoint(), {}, n) for n in (SMALL, LARGE))
    grown = {
        line: large.lines.get(line, 0) - small.lines.get(line, 0)
        for line in set(large.lines) | set(small.lines)
    }
    growing = sorted(line for line, delta in grown.items() if delta)
    # Only the loop call (equinox's copies of the filled buffer) grows with the save points.
    assert [line.split(":")[0] for line in growing] == ["solver/_adjoint.py"], growing
