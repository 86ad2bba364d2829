"""Three call sites: eager with NumPy arrays, under jit with a vector field closing over a
traced value, and under vmap (the vmapped call is seen with per-example shapes)."""

import jax
import jax.numpy as jnp
import numpy as np

from stack061 import ODETerm, SaveAt, Euler, diffeqsolve

eager = diffeqsolve(ODETerm(lambda t, y, args: -args * y), Euler(), t0=0.0, t1=1.0, dt0=None,  # SITE: eager
                    y0=np.ones(2, np.float32), args=0.5, saveat=SaveAt(ts=np.linspace(0.0, 1.0, 8)))


@jax.jit
def decay(rate, y0, ts):
    def field(t, y, args):
        return -rate * y  # `rate` is a tracer of this jit: the closure is rebuilt on re-lowering

    return diffeqsolve(ODETerm(field), Euler(), t0=ts[0], t1=ts[-1], dt0=None, y0=y0, saveat=SaveAt(ts=ts)).ys  # SITE: closure


closure = decay(jnp.float32(2.0), jnp.ones(4), jnp.linspace(0.0, 1.0, 8))


def one(y0):
    return diffeqsolve(ODETerm(lambda t, y, args: -y), Euler(), t0=0.0, t1=1.0, dt0=None, y0=y0,  # SITE: vmapped
                       saveat=SaveAt(ts=jnp.linspace(0.0, 1.0, 8))).ys


batched = jax.vmap(one)(jnp.ones((5, 3)))
print(eager.ys.shape, closure.shape, batched.shape)
