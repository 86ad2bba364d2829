"""A plain solve script (no jaxlint in it): `jaxlint residuals` intercepts its diffeqsolve call."""

import jax
import jax.numpy as jnp

from jaxlint.solver import Euler, ODETerm, SaveAt, diffeqsolve

jax.config.update("jax_enable_x64", True)


def decay(t, y, rate):
    return -rate * y


@jax.jit
def solve(y0, rate, ts):
    return diffeqsolve(ODETerm(decay), Euler(), ts[0], ts[-1], 0.01, y0, args=rate, saveat=SaveAt(ts=ts), max_steps=200).ys  # LINE: call


print(solve(jnp.array([1.0, 2.0]), jnp.array(0.5), jnp.linspace(0.0, 1.0, 11))[-1])
