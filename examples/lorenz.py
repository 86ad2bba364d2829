"""Solve the Lorenz system with jaxlint.solver: Tsit5, adaptive steps, 1000 save points.

The import is the only line that differs from a diffrax script. Run:

    python examples/lorenz.py
"""

import time

import jax
import jax.numpy as jnp

from jaxlint.solver import ODETerm, PIDController, SaveAt, Tsit5, diffeqsolve

jax.config.update("jax_enable_x64", True)


def lorenz(t, y, args):
    sigma, rho, beta = args
    x, yy, z = y
    return jnp.stack([sigma * (yy - x), x * (rho - z) - yy, x * yy - beta * z])


@jax.jit
def solve(y0, args, ts):
    return diffeqsolve(
        ODETerm(lorenz),
        Tsit5(),
        t0=ts[0],
        t1=ts[-1],
        dt0=None,
        y0=y0,
        args=args,
        saveat=SaveAt(ts=ts),
        stepsize_controller=PIDController(rtol=1e-4, atol=1e-6),
    )


def main() -> None:
    y0 = jnp.array([1.0, 1.0, 1.0])
    args = (jnp.asarray(10.0), jnp.asarray(28.0), jnp.asarray(8.0 / 3.0))
    ts = jnp.linspace(0.0, 10.0, 1000)

    start = time.perf_counter()
    sol = jax.block_until_ready(solve(y0, args, ts))
    first = time.perf_counter() - start
    start = time.perf_counter()
    jax.block_until_ready(solve(y0, args, ts))
    again = time.perf_counter() - start

    stats = {key: int(value) for key, value in sol.stats.items()}
    print(f"Lorenz on [0, 10] with Tsit5, rtol=1e-4, atol=1e-6: {stats}")
    print(f"result code {int(sol.result)} (0 = success)")
    for i in (0, 250, 500, 750, 999):
        x, y, z = (float(v) for v in sol.ys[i])
        print(f"  t = {float(sol.ts[i]):6.3f}   x = {x:9.4f}   y = {y:9.4f}   z = {z:9.4f}")
    print(f"first call (trace + compile + run) {first:.2f} s, second call {again * 1e3:.2f} ms")


if __name__ == "__main__":
    main()
