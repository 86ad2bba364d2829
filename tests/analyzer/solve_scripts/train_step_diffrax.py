"""A training step with jax.grad through a diffrax solve saved at the data's times (a plain script).

The program the user compiles is `step`: the solve's forward pass, its gradient (the
default RecursiveCheckpointAdjoint) and the loss around it.
"""

import diffrax
import jax
import jax.numpy as jnp


def field(t, y, params):
    return -params["rate"] * y + params["drive"] * jnp.sin(t)


def loss(params, y0, ts, data):
    solution = diffrax.diffeqsolve(  # SITE: loss
        diffrax.ODETerm(field), diffrax.Tsit5(), t0=ts[0], t1=ts[-1], dt0=0.01, y0=y0, args=params,
        saveat=diffrax.SaveAt(ts=ts), max_steps=256,
    )
    return jnp.mean((solution.ys - data) ** 2)


@jax.jit
def step(params, y0, ts, data):
    value, grads = jax.value_and_grad(loss)(params, y0, ts, data)
    return jax.tree_util.tree_map(lambda p, g: p - 0.1 * g, params, grads), value


if __name__ == "__main__":
    ts = jnp.linspace(0.0, 1.0, 20)
    params = {"rate": jnp.ones(2), "drive": jnp.full(2, 0.5)}
    data = jnp.zeros((20, 2))
    params, value = step(params, jnp.ones(2), ts, data)
    print("loss", float(value))
