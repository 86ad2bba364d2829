"""A script that fails before any solve."""

import jax.numpy as jnp


def load_initial_state(path):
    raise FileNotFoundError(f"no state file at {path}")


y0 = load_initial_state("state.npy")  # RAISES
print(jnp.ones(3))
