"""Small synthetic programs whose size does or does not grow with n (shared by the analyzer tests)."""

import jax.numpy as jnp
from jax import lax

import jaxlint


def vector_field(t, y):
    return -0.5 * y + jnp.sin(t)


@jaxlint.case
def python_loop_euler(n):
    def solve(y0, dt):
        y, t = y0, 0.0
        for _ in range(n):
            y = y + dt * vector_field(t, y)  # LINE: python_loop_step
            t = t + dt
        return y

    return solve, (jnp.ones(3), 0.01)


@jaxlint.case
def scan_euler(n):
    def solve(y0, dt):
        def step(carry, _):
            t, y = carry
            return (t + dt, y + dt * vector_field(t, y)), None

        (_, y), _ = lax.scan(step, (0.0, y0), None, length=n)
        return y

    return solve, (jnp.ones(3), 0.01)


def stacked_buffer(n):
    def init(y0, ts):
        return jnp.stack([y0] * ts.shape[0])  # LINE: stack

    return init, (jnp.ones(3), jnp.linspace(0.0, 1.0, n))


def broadcast_buffer(n):
    def init(y0, ts):
        return jnp.broadcast_to(y0, (ts.shape[0], *y0.shape))

    return init, (jnp.ones(3), jnp.linspace(0.0, 1.0, n))


def where_buffer(n):
    def init(y0, ts):
        return jnp.where((ts == ts[0])[:, None], y0, jnp.inf)

    return init, (jnp.ones(3), jnp.linspace(0.0, 1.0, n))


def cond_per_element(n):
    def clip(xs):
        out = []
        for i in range(n):
            out.append(lax.cond(xs[i] > 0, lambda v: v, lambda v: -v, xs[i]))  # LINE: cond
        return jnp.stack(out)

    return clip, (jnp.ones(n),)


def scan_unrolled(n):
    def total(xs):
        return lax.scan(lambda c, x: (c + jnp.sin(x), None), 0.0, xs, unroll=n)[0]  # LINE: unroll

    return total, (jnp.ones(n),)


def quadratic_unroll(n):
    def pairwise(xs):
        acc = 0.0
        for i in range(n):
            for j in range(n):
                acc = acc + xs[i] * xs[j]  # LINE: pair
        return acc

    return pairwise, (jnp.ones(n),)


def not_a_case(n):
    return 42


def raises(n):
    raise RuntimeError(f"no program at n={n}")


def closed_over_table(n):
    import numpy as np

    table = np.linspace(0.0, 1.0, n, dtype=np.float32)

    def shift(x):
        return x + jnp.sum(jnp.asarray(table) * 2.0)  # LINE: table

    return shift, (jnp.ones(3),)
