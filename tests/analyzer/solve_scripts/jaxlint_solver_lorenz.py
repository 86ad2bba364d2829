"""#606's shape with jaxlint.solver: Lorenz, Tsit5, PID steps, save points as a jit argument."""

import jax
import jax.numpy as jnp

from jaxlint.solver import ODETerm, PIDController, SaveAt, Tsit5, diffeqsolve


def lorenz(t, y, args):
    sigma, rho, beta = 10.0, 28.0, 8.0 / 3.0
    x, v, z = y
    return jnp.stack([sigma * (v - x), x * (rho - z) - v, x * v - beta * z])


@jax.jit
def solve(y0, ts):
    return diffeqsolve(
        ODETerm(lorenz), Tsit5(), t0=ts[0], t1=ts[-1], dt0=None, y0=y0, saveat=SaveAt(ts=ts),
        stepsize_controller=PIDController(rtol=1e-4, atol=1e-6), max_steps=4096,
    ).ys


print(solve(jnp.ones(3), jnp.linspace(0.0, 1.0, 10))[-1])
