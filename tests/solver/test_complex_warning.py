"""diffrax's complex-dtype warning: raised for complex inputs, not for real ones; the solve
itself is right (y' = -i y rotates y0 by exp(-i t))."""

import warnings

import equinox as eqx
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
