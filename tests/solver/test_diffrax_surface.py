"""Regression tests for diffrax 0.7 API-surface differences found by running diffrax's own
test suite on `jaxlint.solver` (issue 12; benchmarks/diffrax_suite.py)."""

import jax
import jax.numpy as jnp
import numpy as np

import jaxlint.solver as js


def test_pid_controller_with_step_or_jump_ts_is_a_clip_controller():
    # diffrax 0.7: PIDController(..., step_ts=, jump_ts=) returns the ClipStepSizeController
    # wrapper; without them it is a plain PIDController.
    ts = jnp.array([3.0, 4.0])
    plain = js.PIDController(rtol=1e-4, atol=1e-6)
    wrapped = js.PIDController(rtol=1e-4, atol=1e-6, step_ts=ts, jump_ts=ts)
    assert isinstance(plain, js.PIDController)
    assert not isinstance(plain, js.ClipStepSizeController)
    assert isinstance(wrapped, js.ClipStepSizeController)
    assert isinstance(wrapped.controller, js.PIDController)
    assert wrapped.step_ts.tolist() == [3.0, 4.0] and wrapped.jump_ts.tolist() == [3.0, 4.0]
    assert (wrapped.rtol, wrapped.atol) == (1e-4, 1e-6)


def test_local_linear_interpolation_of_python_scalars():
    # A user-built interpolant over Python floats failed (`float` has no `.dtype`).
    interp = js.LocalLinearInterpolation(t0=2.0, t1=3.3, y0=2.1, y1=2.2)
    np.testing.assert_allclose(interp.evaluate(2.8), 2.1 + 0.1 * 0.8 / 1.3)
    np.testing.assert_allclose(interp.evaluate(2.8, 2.9), 0.1 * 0.1 / 1.3)
    _, slope = jax.jvp(interp.evaluate, (2.8,), (1.0,))
    np.testing.assert_allclose(slope, 0.1 / 1.3)
