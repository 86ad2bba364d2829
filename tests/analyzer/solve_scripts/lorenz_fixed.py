"""The same script against the fixed solver: the program must not grow."""

import jax
import jax.numpy as jnp

from fixed_solver import ODETerm, SaveAt, diffeqsolve
from stack061 import Euler


@jax.jit
def solve(y0, ts):
    return diffeqsolve(ODETerm(lambda t, y, args: -y), Euler(), t0=ts[0], t1=ts[-1], dt0=None, y0=y0, saveat=SaveAt(ts=ts)).ys


print(solve(jnp.ones(3), jnp.linspace(0.0, 1.0, 20)).shape)
