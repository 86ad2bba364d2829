"""#606 in miniature: Lorenz inside jax.jit, save points as an argument (a plain script)."""

import jax
import jax.numpy as jnp

import stack061


def lorenz(t, y, args):
    sigma, rho, beta = 10.0, 28.0, 8.0 / 3.0
    x, v, z = y
    return jnp.stack([sigma * (v - x), x * (rho - z) - v, x * v - beta * z])


@jax.jit
def solve(y0, ts):
    solution = stack061.diffeqsolve(  # SITE: solve
        stack061.ODETerm(lorenz), stack061.Euler(), t0=ts[0], t1=ts[-1], dt0=None, y0=y0,
        saveat=stack061.SaveAt(ts=ts),
    )
    return solution.ys


ys = solve(jnp.ones(3), jnp.linspace(0.0, 1.0, 50))
print("AFTER SOLVE", ys.shape)
