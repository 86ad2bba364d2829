"""The solve inside an eqx.filter_jit'd function that takes a Module (a plain script)."""

import equinox as eqx
import jax
import jax.numpy as jnp

import stack061


class Model(eqx.Module):
    rate: jax.Array
    name: str = "decay"  # a static field: filter_jit keeps it out of the trace


@eqx.filter_jit
def predict(model, y0, ts):
    field = stack061.ODETerm(lambda t, y, args: -args.rate * y)
    return stack061.diffeqsolve(field, stack061.Euler(), t0=ts[0], t1=ts[-1], dt0=None, y0=y0, args=model,  # SITE: predict
                                saveat=stack061.SaveAt(ts=ts)).ys


class Trainer:
    @jax.jit
    def loss(self, y0, ts):  # jax.jit on a method, called through an instance
        return jnp.sum(predict(Model(jnp.ones(())), y0, ts))


print(predict(Model(jnp.float32(0.5)), jnp.ones(3), jnp.linspace(0.0, 1.0, 10)).shape)
