"""ReversibleHeun and LeapfrogMidpoint (diffrax's names): second order, one vector-field
evaluation per step; ReversibleHeun is adaptive and algebraically reversible."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxlint.solver as js


def oscillator(t, y, args):
    return jnp.stack([y[1], -y[0]])


@pytest.mark.parametrize("solver", [js.ReversibleHeun(), js.LeapfrogMidpoint()],
                         ids=lambda s: type(s).__name__)  # fmt: skip
def test_second_order_convergence(solver):
    exact = np.array([np.cos(4.0), -np.sin(4.0)])
    steps = np.array([100, 200, 400])
    errors = []
    for n in steps:
        sol = js.diffeqsolve(js.ODETerm(oscillator), solver, 0.0, 4.0, 4.0 / n,
                             np.array([1.0, 0.0]), max_steps=512)  # fmt: skip
        errors.append(np.abs(np.asarray(sol.ys[-1]) - exact).max())
    fitted = -np.polyfit(np.log(steps), np.log(errors), 1)[0]
    assert abs(fitted - 2) < 0.2, (fitted, errors)
    assert solver.order(None) == 2


def test_reversible_heun_is_adaptive_and_reversible():
    assert isinstance(js.ReversibleHeun(), js.AbstractAdaptiveSolver)
    assert not isinstance(js.LeapfrogMidpoint(), js.AbstractAdaptiveSolver)
    sol = js.diffeqsolve(
        js.ODETerm(oscillator), js.ReversibleHeun(), 0.0, 4.0, None, np.array([1.0, 0.0]),
        stepsize_controller=js.PIDController(rtol=1e-6, atol=1e-8),
    )  # fmt: skip
    np.testing.assert_allclose(sol.ys[-1], [np.cos(4.0), -np.sin(4.0)], atol=1e-4)
    # One step forward, then the same formulas backward, recover (y0, yhat0) to rounding.
    term, solver = js.ODETerm(oscillator), js.ReversibleHeun()
    y0 = jnp.array([1.0, 0.5])
    state0 = (y0 + 1e-3, oscillator(0.0, y0 + 1e-3, None))
    y1, _, _, (yhat1, vf1), _ = solver.step(term, 0.0, 0.1, y0, None, state0, False)
    yhat0 = 2 * y1 - yhat1 - vf1 * 0.1  # run backward: yhat0 = 2 y1 - yhat1 - f(t1, yhat1) h
    vf0 = oscillator(0.0, yhat0, None)
    y0_back = y1 - 0.5 * (vf0 + vf1) * 0.1
    np.testing.assert_allclose(yhat0, state0[0], atol=1e-14)
    np.testing.assert_allclose(y0_back, y0, atol=1e-14)


def test_jump_restarts_cached_values():
    # A vector field that jumps at t = 0.5: with jump_ts ReversibleHeun's cached slope is
    # evaluated again after the jump, so the kink is resolved to the tolerance.
    def field(t, y, args):
        return jnp.where(t < 0.5, 1.0, -1.0) * jnp.ones_like(y)

    controller = js.PIDController(rtol=1e-8, atol=1e-8, jump_ts=[0.5])
    sol = js.diffeqsolve(js.ODETerm(field), js.ReversibleHeun(), 0.0, 1.0, None, jnp.zeros(1),
                         stepsize_controller=controller)  # fmt: skip
    np.testing.assert_allclose(sol.ys[-1], [0.0], atol=1e-6)
