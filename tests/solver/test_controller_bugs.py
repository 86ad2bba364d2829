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
    # ImplicitEuler is first order: its global error scales like sqrt(tol), not tol.
    rtol = 1e-2 if isinstance(solver, js.ImplicitEuler) else 1e-3
    np.testing.assert_allclose(sol.ys[:, 0], np.exp(-np.linspace(0, 1, 5)), rtol=rtol)


# ClipStepSizeController (diffrax 0.7's home of step_ts / jump_ts)
# ---------------------------------------------------------------------------------------------


def _forced_oscillator(t, y, args):
    x, v = y
    force = jnp.where(t < 7.5, 10.0, -10.0)
    return v, -4 * jnp.pi**2 * x - 0.2 * jnp.pi * v + force


def _steps(controller, t0=0, t1=15):
    sol = js.diffeqsolve(
        js.ODETerm(_forced_oscillator), js.Dopri5(), t0, t1, None, (1.5, 0.0),
        stepsize_controller=controller, saveat=js.SaveAt(steps=True), max_steps=2048,
    )
    ts = np.asarray(sol.ts)
    return sol, ts[np.isfinite(ts)]


@pytest.mark.parametrize("backwards", [False, True])
def test_clip_controller_steps_to_step_ts_and_across_jump_ts(backwards):
    t0, t1 = (15, 0) if backwards else (0, 15)
    pid = js.PIDController(rtol=1e-4, atol=1e-6)
    clip = js.ClipStepSizeController(pid, step_ts=[3.5, 8], jump_ts=[7.5])  # lists accepted
    sol, ts = _steps(clip, t0, t1)
    assert int(sol.result) == js.RESULTS.successful
    assert 3.5 in ts and 8.0 in ts
    # The step before the jump ends one ulp short of it (user time), the next starts past it.
    near = ts[np.abs(ts - 7.5) < 1e-9]
    assert len(near) == 1 and near[0] != 7.5
    # The older PIDController(step_ts=..., jump_ts=...) form clips at the same times.
    _, ts_pid = _steps(js.PIDController(rtol=1e-4, atol=1e-6, step_ts=[3.5, 8], jump_ts=[7.5]),
                       t0, t1)
    assert 3.5 in ts_pid and 8.0 in ts_pid


def test_jump_ts_save_steps_forward():
    pid = js.PIDController(rtol=1e-4, atol=1e-6)
    plain, _ = _steps(js.ClipStepSizeController(pid))
    jumped, _ = _steps(js.ClipStepSizeController(pid, jump_ts=[7.5]))
    assert int(jumped.stats["num_steps"]) < int(plain.stats["num_steps"])


def test_steps_after_the_last_jump_are_not_shortened_or_flagged():
    # Regression: with no jump left, the end of the proposed step was taken for a jump time,
    # so every later step was cut by an ulp and counted as a jump.
    t_end, is_jump = js._step_size_controller.clip_to_marks(
        None, jnp.array([1.0]), jnp.asarray(2.0), jnp.asarray(3.0)
    )
    assert float(t_end) == 3.0 and not bool(is_jump)


def test_nested_clip_wrappers_bump_past_jumps():
    pid = js.PIDController(rtol=0, atol=1.0)
    inner = js.ClipStepSizeController(pid, jump_ts=[3.0, 13.0], step_ts=[23.0])
    outer = js.ClipStepSizeController(inner, step_ts=[2.0, 13.0], jump_ts=[23.0])
    term = js.ODETerm(lambda t, y, args: -y)
    _, state = outer.init(term, -1.0, 0.0, 0.0, 4.0, None, lambda *a: 0.0, 5)
    before = lambda x: np.nextafter(x, -np.inf)  # noqa: E731
    after = lambda x: np.nextafter(x, np.inf)  # noqa: E731
    _, t0, t1, jump, state, _ = outer.adapt_step_size(0.0, 1.0, 0.0, 0.0, None, 0.0, 5, state)
    assert (float(t0), float(t1), bool(jump)) == (1.0, 2.0, False)
    _, t0, t1, jump, state, _ = outer.adapt_step_size(t0, t1, 0.0, 0.0, None, 0.0, 5, state)
    assert (float(t0), float(t1), bool(jump)) == (2.0, before(3.0), False)
    _, t0, t1, jump, state, _ = outer.adapt_step_size(10.0, 11.0, 0.0, 0.0, None, 0.0, 5, state)
    assert (float(t0), float(t1), bool(jump)) == (11.0, before(13.0), False)
    _, t0, t1, jump, state, _ = outer.adapt_step_size(t0, t1, 0.0, 0.0, None, 0.0, 5, state)
    assert (float(t0), float(t1), bool(jump)) == (after(13.0), before(23.0), True)


def test_clip_controller_arguments():
    with pytest.raises(ValueError, match="adaptive"):
        js.ClipStepSizeController(js.ConstantStepSize(), step_ts=[1.0])
    with pytest.raises(ValueError, match="1-d"):
        js.ClipStepSizeController(PID, step_ts=[[1.0]])
    with pytest.raises(NotImplementedError, match="SDE"):
        js.ClipStepSizeController(PID, store_rejected_steps=10)
    clip = js.ClipStepSizeController(PID, step_ts=[2, 1])
    assert clip.step_ts.tolist() == [1.0, 2.0] and (clip.rtol, clip.atol) == (PID.rtol, PID.atol)


def test_bad_step_to_raises_what_diffrax_raises():
    # diffrax raises RuntimeError (at run time); jaxlint checks before tracing, with an error
    # that is both that and a ValueError.
    for ts in (jnp.linspace(0.1, 2.0, 5), jnp.array([0.0, 2.3, 2.0]), jnp.linspace(2.0, 0.0, 5)):
        with pytest.raises(RuntimeError, match="StepTo"):
            js.diffeqsolve(DECAY, js.Euler(), 0, 2, None, 1.0, stepsize_controller=js.StepTo(ts))
        with pytest.raises(ValueError, match="StepTo"):
            js.diffeqsolve(DECAY, js.Euler(), 0, 2, None, 1.0, stepsize_controller=js.StepTo(ts))
