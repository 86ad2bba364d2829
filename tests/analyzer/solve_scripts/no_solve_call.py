"""A script that does JAX work but never solves an ODE."""

import jax.numpy as jnp

print(jnp.cumsum(jnp.ones(4)))
