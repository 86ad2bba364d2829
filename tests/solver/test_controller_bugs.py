"""Regression tests for issue 12's step-size controller and dtype bugs (2, 3 and 5)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxlint.solver as js

DECAY = js.ODETerm(lambda t, y, args: -y)
PID = js.PIDController(rtol=1e-8, atol=1e-10)


def _final(t0, t1, controller=PID):
    sol = js.diffeqsolve(DECAY, js.Tsit5(), t0, t1, None, 1.0, stepsize_controller=controller)
    return sol.ys[-1]


def test_gradient_with_respect_to_t0_and_t1_under_pid():
    # Bug 2: the controller called jnp.nextafter (no derivative rule) on every step.
    d_t1 = jax.grad(lambda t1: _final(0.0, t1))(1.0)
    d_t0 = jax.grad(lambda t0: _final(t0, 1.0))(0.0)
    np.testing.assert_allclose(d_t1, -np.exp(-1.0), rtol=1e-6)
    np.testing.assert_allclose(d_t0, np.exp(-1.0), rtol=1e-6)


def test_gradient_with_respect_to_t1_with_jump_times():
    controller = js.PIDController(rtol=1e-8, atol=1e-10, jump_ts=jnp.array([0.5]))
    d_t1 = jax.grad(lambda t1: _final(0.0, t1, controller))(1.0)
    np.testing.assert_allclose(d_t1, -np.exp(-1.0), rtol=1e-6)


@pytest.mark.parametrize("y0", [jnp.zeros((2, 0)), None, (jnp.zeros((0,)), None)])
def test_pid_on_a_state_without_elements_takes_steps(y0):
    # Bug 3: RMS of no elements was 0/0 = NaN, so every step was rejected.
    sol = js.diffeqsolve(
        js.ODETerm(lambda t, y, args: y), js.Tsit5(), 0.0, 1.0, 0.1, y0,
        stepsize_controller=js.PIDController(rtol=1e-6, atol=1e-8),
    )
    assert int(sol.result) == js.RESULTS.successful
    assert int(sol.stats["num_rejected_steps"]) == 0
    assert 1 <= int(sol.stats["num_accepted_steps"]) <= 3


def test_rms_norm_of_nothing_is_zero():
    assert float(js.rms_norm(jnp.zeros((2, 0)))) == 0.0
    assert float(js.rms_norm(None)) == 0.0
    np.testing.assert_allclose(js.rms_norm((jnp.array([3.0]), jnp.zeros(0))), 3.0)


SOLVERS = [js.Heun(), js.Bosh3(), js.Tsit5(), js.Dopri5(), js.Dopri8(), js.ImplicitEuler(),
           js.Kvaerno3(), js.Kvaerno4(), js.Kvaerno5()]


@pytest.mark.parametrize("solver", SOLVERS, ids=lambda s: type(s).__name__)
@pytest.mark.parametrize("dtype", [jnp.float64, jnp.float32])
def test_strict_dtype_promotion(solver, dtype):
    # Bug 5: `rate ** (k + 1)` mixed int32 and float64 in Newton; float32 states with
    # float64 (or Python int) times mixed dtypes in the controller.
    with jax.numpy_dtype_promotion("strict"):
        sol = js.diffeqsolve(
            DECAY, solver, 0, 1, 0.1, jnp.ones(2, dtype),
            stepsize_controller=js.PIDController(rtol=1e-5, atol=1e-5),
            saveat=js.SaveAt(ts=jnp.linspace(0.0, 1.0, 5)),
        )
    assert sol.ys.dtype == dtype
    np.testing.assert_allclose(sol.ys[:, 0], np.exp(-np.linspace(0, 1, 5)), rtol=1e-3)
