"""A neural ODE: an eqx.nn.MLP vector field, fitted to a spiral by gradient descent through
the solver (jax.grad of the loss differentiates through diffeqsolve).

    python examples/neural_ode.py
"""

import time

import equinox as eqx
import jax
import jax.numpy as jnp

from jaxlint.solver import (
    ODETerm,
    PIDController,
    RecursiveCheckpointAdjoint,
    SaveAt,
    Tsit5,
    diffeqsolve,
)


class VectorField(eqx.Module):
    """dy/dt = MLP(y): width 64, depth 2."""

    mlp: eqx.nn.MLP

    def __init__(self, key: jax.Array):
        self.mlp = eqx.nn.MLP(2, 2, width_size=64, depth=2, activation=jax.nn.softplus, key=key)

    def __call__(self, t, y, args):
        return self.mlp(y)


def solve(model: VectorField, y0: jax.Array, ts: jax.Array) -> jax.Array:
    sol = diffeqsolve(
        ODETerm(model),
        Tsit5(),
        t0=ts[0],
        t1=ts[-1],
        dt0=None,
        y0=y0,
        saveat=SaveAt(ts=ts),
        stepsize_controller=PIDController(rtol=1e-3, atol=1e-6),
        adjoint=RecursiveCheckpointAdjoint(),
    )
    return sol.ys


def spiral(ts: jax.Array) -> jax.Array:
    """Data: a damped rotation, y' = A y."""
    a = jnp.array([[-0.1, 2.0], [-2.0, -0.1]])
    return jax.vmap(lambda t: jax.scipy.linalg.expm(a * t) @ jnp.array([2.0, 0.0]))(ts)


@eqx.filter_value_and_grad
def loss(model: VectorField, ys: jax.Array, ts: jax.Array) -> jax.Array:
    predicted = solve(model, ys[0], ts)
    return jnp.mean((predicted - ys) ** 2)


@eqx.filter_jit
def train_step(model: VectorField, ys: jax.Array, ts: jax.Array, learning_rate: float):
    value, grads = loss(model, ys, ts)
    model = eqx.apply_updates(model, jax.tree_util.tree_map(lambda g: -learning_rate * g, grads))
    return value, model


def main() -> None:
    ts = jnp.linspace(0.0, 2.0, 50)
    ys = spiral(ts)
    model = VectorField(jax.random.PRNGKey(0))
    learning_rate = jnp.asarray(2e-2)  # an array, so a new value does not recompile (P8)
    start = time.perf_counter()
    first_loss = None
    for step in range(201):
        value, model = train_step(model, ys, ts, learning_rate)
        if first_loss is None:
            first_loss = float(value)
        if step % 50 == 0:
            print(f"step {step:4d}   loss {float(value):.5f}")
    print(f"loss {first_loss:.4f} -> {float(value):.4f} in {time.perf_counter() - start:.1f} s")


if __name__ == "__main__":
    main()
