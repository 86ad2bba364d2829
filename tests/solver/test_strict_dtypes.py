"""diffrax's test configuration (strict dtype promotion, float32 times) with a state that has
no elements: the error norm's default-float zero must not promote the float32 step sizes."""

import jax
import jax.numpy as jnp
from jaxlint.solver import ODETerm, PIDController, Tsit5, diffeqsolve


def test_empty_state_with_float32_times_under_strict_promotion():
    t0, t1 = jnp.array(0, jnp.float32), jnp.array(1, jnp.float32)
    with jax.numpy_dtype_promotion("strict"):
        sol = diffeqsolve(ODETerm(lambda t, y, args: None), Tsit5(), t0, t1, jnp.float32(0.01),
                          None, stepsize_controller=PIDController(rtol=1e-5, atol=1e-8))
    assert sol.ys is None and sol.ts.dtype == jnp.float32 and float(sol.ts[-1]) == 1.0
