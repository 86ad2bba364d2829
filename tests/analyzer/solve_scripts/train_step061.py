"""A training step: jax.grad (and jax.vmap over initial states) through a solve with diffrax
0.6.1's save-buffer pattern, inside jax.jit (a plain script). The program the user compiles
is `step`: forward, batched, and its gradient."""

import jax
import jax.numpy as jnp

import stack061


def loss(rate, y0s, ts, data):
    def one(y0):
        field = stack061.ODETerm(lambda t, y, args: -args * y)
        return stack061.diffeqsolve(field, stack061.Euler(), t0=ts[0], t1=ts[-1], dt0=None, y0=y0, args=rate,  # SITE: loss
                                    saveat=stack061.SaveAt(ts=ts)).ys

    ys = jax.vmap(one)(y0s)
    return jnp.mean((ys - data) ** 2)


@jax.jit
def step(rate, y0s, ts, data):
    value, grad = jax.value_and_grad(loss)(rate, y0s, ts, data)
    return rate - 0.1 * grad, value


if __name__ == "__main__":
    ts = jnp.linspace(0.0, 1.0, 12)
    print(step(jnp.float32(0.5), jnp.ones((4, 3)), ts, jnp.zeros((4, 12, 3))))
