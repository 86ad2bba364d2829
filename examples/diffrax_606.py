"""The diffrax #606 reproduction: Lorenz, Tsit5, adaptive steps, n save points, inside jax.jit.

    jaxlint scale examples/diffrax_606.py --n 1k,10k,30k

With diffrax 0.6.1 the program gains ~1.07 StableHLO ops per save point (``jnp.stack([out] *
out_size)`` at diffrax/_integrate.py:785) and XLA compile time explodes (3.2 s / 109 s / > 13 min
at 1k / 10k / 30k save points on a 2-core machine, benchmarks/RESULTS.md); with diffrax 0.7.2 it
is the same size at any n and compiles in ~1 s. The script itself is an ordinary user script: nothing in it names jaxlint.
"""

import diffrax
import jax
import jax.numpy as jnp


def lorenz(t, y, args):
    sigma, rho, beta = 10.0, 28.0, 8.0 / 3.0
    x, v, z = y
    return jnp.stack([sigma * (v - x), x * (rho - z) - v, x * v - beta * z])


@jax.jit
def solve(y0, ts):
    solution = diffrax.diffeqsolve(
        diffrax.ODETerm(lorenz),
        diffrax.Tsit5(),
        t0=ts[0],
        t1=ts[-1],
        dt0=None,
        y0=y0,
        saveat=diffrax.SaveAt(ts=ts),
        stepsize_controller=diffrax.PIDController(rtol=1e-4, atol=1e-6),
        max_steps=None,
    )
    return solution.ys


if __name__ == "__main__":
    ts = jnp.linspace(0.0, 10.0, 100)
    ys = solve(jnp.array([1.0, 1.0, 1.0]), ts)
    print(f"diffrax {diffrax.__version__}: y(t1) = {ys[-1]}")
