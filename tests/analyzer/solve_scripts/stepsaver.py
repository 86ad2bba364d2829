"""A tiny solver whose SaveAt can save t1, every step (buffers of max_steps) or dense output,
with diffeqsolve's call shape (for tests of what n is when a call saves no `ts`)."""

from typing import Any, NamedTuple

import equinox as eqx
import jax.numpy as jnp
from jax import lax


class SubSaveAt(eqx.Module):
    t0: bool = False
    t1: bool = False
    ts: Any = None
    steps: bool = False
    fn: Any = None


class SaveAt(eqx.Module):
    subs: SubSaveAt
    dense: bool = False

    def __init__(self, *, t1=False, steps=False, dense=False):
        self.subs = SubSaveAt(t1=t1, steps=steps)
        self.dense = dense


class Solution(NamedTuple):
    ys: Any


def diffeqsolve(y0, *, saveat, max_steps=4096):
    def step(y, _):
        y = y - 0.01 * y
        return y, y

    final, ys = lax.scan(step, y0, None, length=16)
    if saveat.subs.steps or saveat.dense:
        # A buffer of max_steps rows written in a Python loop: grows with max_steps.
        buffer = jnp.stack([final] * max_steps)
        return Solution(buffer)
    return Solution(final[None])
