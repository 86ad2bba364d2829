"""Regression tests for diffrax 0.7 API-surface differences found by running diffrax's own
test suite on `jaxlint.solver` (issue 12; benchmarks/diffrax_suite.py)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

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


def test_discrete_terminating_event_is_a_deprecated_boolean_event():
    # diffrax 0.7 still accepts diffeqsolve(discrete_terminating_event=...) with a warning.
    seen = []

    def stop(state, **kwargs):
        seen.append(sorted(kwargs))
        return state.tprev > 2.5

    event = js.DiscreteTerminatingEvent(stop)
    term = js.ODETerm(lambda t, y, args: -y)
    with pytest.warns(DeprecationWarning, match="discrete_terminating_event"):
        sol = js.diffeqsolve(term, js.Euler(), 0.0, 10.0, 1.0, 1.0,
                             discrete_terminating_event=event)  # fmt: skip
    assert float(sol.ts[0]) == 3.0  # the end of the first step past 2.5
    assert "args" in seen[0] and "solver" in seen[0]
    with pytest.raises(ValueError, match="not both"), pytest.warns(DeprecationWarning):
        js.diffeqsolve(term, js.Euler(), 0.0, 10.0, 1.0, 1.0, event=js.Event(lambda t, y, a, **k: t > 1),
                       discrete_terminating_event=event)  # fmt: skip


class _ExpensiveDecay(js.ODETerm):
    """A term whose vector field is declared too big to carry between steps."""

    def is_vf_expensive(self, t0, t1, y, args):
        return True


def test_is_vf_expensive_turns_off_the_fsal_cache():
    # diffrax: an FSAL solver on such a term carries no state (init gives None, step takes
    # and returns None) and evaluates the first stage afresh; the solution is unchanged.
    f = lambda t, y, args: -y  # noqa: E731
    cheap, expensive = js.ODETerm(f), _ExpensiveDecay(f)
    solver = js.Dopri5()
    assert cheap.is_vf_expensive(0.0, 1.0, 1.0, None) is False
    assert solver.init(expensive, 0.0, 0.1, jnp.array(1.0), None) is None
    y1, _, _, state, _ = solver.step(expensive, 0.0, 0.1, jnp.array(1.0), None, None, False)
    assert state is None
    np.testing.assert_allclose(y1, np.exp(-0.1), rtol=1e-7)
    pid = js.PIDController(rtol=1e-8, atol=1e-8)
    a = js.diffeqsolve(cheap, solver, 0.0, 2.0, None, 1.0, stepsize_controller=pid)
    b = js.diffeqsolve(expensive, solver, 0.0, 2.0, None, 1.0, stepsize_controller=pid)
    np.testing.assert_allclose(b.ys, a.ys, rtol=1e-12)
    assert b.stats["num_steps"] == a.stats["num_steps"]
