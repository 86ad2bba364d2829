"""diffrax's complex-dtype warning: raised for complex inputs, not for real ones; the solve
itself is right (y' = -i y rotates y0 by exp(-i t))."""

import warnings

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jaxlint.solver import ODETerm, PIDController, Tsit5, diffeqsolve


class _Rotate(eqx.Module):
    frequency: jnp.ndarray

    def __call__(self, t, y, args):
        return -1j * self.frequency * y


def _solve(term, y0, args=None):
    return diffeqsolve(term, Tsit5(), 0.0, 1.0, None, y0, args,
                       stepsize_controller=PIDController(rtol=1e-10, atol=1e-12))


def test_complex_state_warns_and_rotates():
    y0 = jnp.array([1.0 + 0.5j, -2.0j])
    with pytest.warns(UserWarning, match="Complex dtype") as record:
        sol = _solve(ODETerm(lambda t, y, args: -1j * y), y0)
    assert len(record) == 1 and record[0].filename == __file__  # points at the caller
    np.testing.assert_allclose(sol.ys[0], y0 * np.exp(-1j), rtol=1e-9)


def test_complex_args_or_term_fields_warn_too():
    with pytest.warns(UserWarning, match="Complex dtype"):
        _solve(ODETerm(lambda t, y, args: jnp.real(args) * y), jnp.ones(2), jnp.array(1j))
    with pytest.warns(UserWarning, match="Complex dtype"):
        _solve(ODETerm(_Rotate(jnp.array(1.0 + 0j))), jnp.ones(2, complex))


def test_real_inputs_do_not_warn():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        sol = _solve(ODETerm(lambda t, y, args: -args * y), jnp.ones(2), jnp.array(2.0))
    np.testing.assert_allclose(sol.ys[0], np.exp(-2.0), rtol=1e-9)


def test_strict_promotion_with_complex_float32_states_and_int32_times():
    # diffrax's test configuration: complex64 state, int32 t0/t1 and a float32 dt0, under
    # strict dtype promotion (the error scale is real, the error complex).
    y0 = jnp.array([1.0 + 1.0j, 0.5j], jnp.complex64)
    t0, t1, dt0 = jnp.array(0, jnp.int32), jnp.array(1, jnp.int32), jnp.array(0.01, jnp.float32)
    with jax.numpy_dtype_promotion("strict"), pytest.warns(UserWarning, match="Complex dtype"):
        sol = diffeqsolve(ODETerm(lambda t, y, args: -1j * y), Tsit5(), t0, t1, dt0, y0,
                          stepsize_controller=PIDController(rtol=1e-5, atol=1e-8))
    assert sol.ys.dtype == jnp.complex64 and sol.ts.dtype == jnp.float32
    np.testing.assert_allclose(sol.ys[0], y0 * np.exp(-1j), rtol=1e-4)
