"""The same small solver with the fix diffrax 0.7 made: ``jnp.broadcast_to`` (tests only)."""

from jax import lax
import jax.numpy as jnp

from stack061 import ODETerm, SaveAt, Solution  # noqa: F401  (the same public names)


def diffeqsolve(terms, solver, t0, t1, dt0, y0, args=None, *, saveat, stepsize_controller=None, max_steps=4096):
    ts = saveat.subs.ts

    def step(y, times):
        t, t_next = times
        y_next = y + (t_next - t) * terms.vector_field(t, y, args)
        return y_next, y_next

    def integrate(y):
        _, ys = lax.scan(step, y, (ts[:-1], ts[1:]))
        return jnp.concatenate([y[None], ys])

    def make_ys(out):
        return jnp.broadcast_to(out, (ts.shape[0], *jnp.shape(out)))

    return Solution(ts=ts, ys=lax.cond(t0 == t1, make_ys, integrate, y0))
