"""Cases for `jaxlint scale`: save buffers built three ways, and an Euler loop two ways.

    jaxlint scale examples/growth_cases.py --n 16,64,256

Each case is a function of the size n returning (fn, args). The stacked buffer and the
Python-loop Euler gain ops with every save point / step; the others stay the same size.
"""

import jax
import jax.numpy as jnp
from jax import lax

import jaxlint


def vector_field(t, y):
    return -0.5 * y + jnp.sin(t)


@jaxlint.case
def stacked_save_buffer(n):
    """The diffrax 0.6.1 pattern (#606): one concatenate operand per save point."""

    def init(y0, ts):
        return jnp.stack([y0] * ts.shape[0])

    return init, (jnp.ones(3), jnp.linspace(0.0, 1.0, n))


@jaxlint.case
def broadcast_save_buffer(n):
    """The 0.7 fix: one broadcast at any n."""

    def init(y0, ts):
        return jnp.broadcast_to(y0, (ts.shape[0], *y0.shape))

    return init, (jnp.ones(3), jnp.linspace(0.0, 1.0, n))


@jaxlint.case
def where_save_buffer(n):
    """Buffer initialisation by `where`: y0 at t0, inf elsewhere, at any n."""

    def init(y0, ts):
        return jnp.where((ts == ts[0])[:, None], y0, jnp.inf)

    return init, (jnp.ones(3), jnp.linspace(0.0, 1.0, n))


@jaxlint.case
def python_loop_euler(n):
    """n Euler steps in a Python loop: the trace is unrolled, one step's ops per step."""

    def solve(y0, dt):
        y, t = y0, 0.0
        for _ in range(n):
            y = y + dt * vector_field(t, y)
            t = t + dt
        return y

    return solve, (jnp.ones(3), 0.01)


@jaxlint.case
def scan_euler(n):
    """n Euler steps in lax.scan: one traced step at any n."""

    def solve(y0, dt):
        def step(carry, _):
            t, y = carry
            return (t + dt, y + dt * vector_field(t, y)), None

        (_, y), _ = lax.scan(step, (0.0, y0), None, length=n)
        return y

    return solve, (jnp.ones(3), 0.01)
