"""@jaxlint.case functions where one raises, one returns the wrong shape, one fails to lower."""

import jax.numpy as jnp

import jaxlint

NOT_CALLABLE = 3


@jaxlint.case
def fine(n):
    return (lambda x: jnp.broadcast_to(x, (n, 3))), (jnp.ones(3),)


@jaxlint.case
def raises_at_64(n):
    if n == 64:
        raise ValueError("cannot build at this size")
    return (lambda x: x), (jnp.ones(n),)


@jaxlint.case
def wrong_shape(n):
    return [n]


@jaxlint.case
def fails_to_lower(n):
    def uses_python_bool(x):
        if x.sum() > 0:  # a traced value in a Python `if`
            return x
        return -x

    return uses_python_bool, (jnp.ones(n),)


@jaxlint.case
def grows(n):
    return (lambda x: jnp.stack([x] * n)), (jnp.ones(3),)
