"""A vector field object holding a traced value in a plain attribute: not re-lowerable."""

import jax
import jax.numpy as jnp

from stack061 import ODETerm, SaveAt, Euler, diffeqsolve


class Decay:
    def __init__(self, rate):
        self.rate = rate

    def __call__(self, t, y, args):
        return -self.rate * y


@jax.jit
def solve(rate, ts):
    return diffeqsolve(ODETerm(Decay(rate)), Euler(), t0=ts[0], t1=ts[-1], dt0=None, y0=jnp.ones(2), saveat=SaveAt(ts=ts)).ys


print(solve(jnp.float32(1.0), jnp.linspace(0.0, 1.0, 4)))
