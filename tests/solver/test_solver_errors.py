"""Bad input fails early with an error naming the argument; runtime failures either raise
(``throw=True``) or come back as result codes (``throw=False``)."""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxlint.solver import (
    RESULTS,
    BacksolveAdjoint,
    ConstantStepSize,
    DirectAdjoint,
    Euler,
    Event,
    MultiTerm,
    ODETerm,
    PIDController,
    RecursiveCheckpointAdjoint,
    SaveAt,
    StepTo,
    SubSaveAt,
    Tsit5,
    diffeqsolve,
)


def decay(t, y, args):
    return -y


def solve(**overrides):
    kwargs = dict(
        terms=ODETerm(decay), solver=Tsit5(), t0=0.0, t1=1.0, dt0=0.1, y0=jnp.ones(2),
    )  # fmt: skip
    kwargs.update(overrides)
    return diffeqsolve(**kwargs)


@pytest.mark.parametrize(
    "overrides, error, match",
    [
        (dict(terms=ODETerm(lambda t, y, a: (y, y))), ValueError, r"structure.*`y0`"),
        (dict(terms=ODETerm(lambda t, y, a: jnp.ones(3))), ValueError, r"shape \(3,\).*`y0`"),
        (dict(dt0=None), ValueError, r"`dt0=None`.*`ConstantStepSize`"),
        (dict(dt0=-0.1), ValueError, r"`dt0` must have the sign of `t1 - t0`"),
        (dict(t0=1.0, t1=0.0, dt0=0.1), ValueError, r"`dt0` must have the sign"),
        (dict(saveat=SaveAt(ts=[0.0, 1.5])), ValueError, r"`SaveAt\(ts=...\)` must lie inside"),
        (dict(saveat=SaveAt(ts=[0.5, 0.2])), ValueError, r"`SaveAt\(ts=...\)` must be monotone"),
        (dict(t0=1.0, t1=0.0, dt0=-0.1, saveat=SaveAt(ts=[0.2, 0.5])), ValueError, "monotone"),
        (dict(max_steps=None, adjoint=DirectAdjoint()), ValueError, r"`DirectAdjoint` needs an int `max_steps`"),
        (dict(max_steps=0), ValueError, r"`max_steps` must be a positive int"),
        (dict(max_steps=None, adjoint=RecursiveCheckpointAdjoint(checkpoints=4), saveat=SaveAt(steps=True)),
         ValueError, r"`max_steps=None` cannot be used with `SaveAt\(steps=...\)`"),
        (dict(solver=Euler(), dt0=None, stepsize_controller=PIDController(rtol=1e-3, atol=1e-3)),
         ValueError, r"`Euler` has no error estimate.*`stepsize_controller`"),
        (dict(terms=lambda t, y, a: -y), TypeError, r"`terms` must be a term"),
        (dict(solver="tsit5"), TypeError, r"`solver` must be a solver"),
        (dict(stepsize_controller=None), TypeError, r"`stepsize_controller` must be"),
        (dict(adjoint=BacksolveAdjoint(), event=Event(lambda t, y, args, **kw: y[0] < 0.5)),
         NotImplementedError, r"`BacksolveAdjoint` does not support `event`"),
        (dict(adjoint=BacksolveAdjoint(), saveat=SaveAt(steps=True)), NotImplementedError,
         r"`BacksolveAdjoint`"),
        (dict(dt0=None, stepsize_controller=StepTo(jnp.array([0.0, 0.5, 0.9]))), ValueError,
         r"`StepTo\(ts\)` must have `ts\[0\] == t0` and `ts\[-1\] == t1`"),
    ],
)  # fmt: skip
def test_bad_input_raises_naming_the_argument(overrides, error, match):
    with pytest.raises(error, match=match):
        solve(**overrides)


def test_bad_constructor_arguments():
    with pytest.raises(ValueError, match="saves nothing"):
        SubSaveAt()
    with pytest.raises(ValueError, match=r"`SaveAt\(steps=...\)` must be a bool or an int"):
        SaveAt(steps=-1)
    with pytest.raises(ValueError, match=r"PyTree of `SubSaveAt`s"):
        SaveAt(subs=[SubSaveAt(t1=True), 3])
    with pytest.raises(ValueError, match=r"`SaveAt\(ts=...\)` must be a 1-d array"):
        SaveAt(ts=jnp.ones((2, 2)))
    with pytest.raises(TypeError, match="`MultiTerm` arguments must be terms"):
        MultiTerm(ODETerm(decay), decay)
    with pytest.raises(ValueError, match=r"`StepTo\(ts\)` needs a 1-d array"):
        StepTo(jnp.array([0.0]))


def test_traced_arguments_are_checked_at_run_time():
    @eqx.filter_jit  # (under plain jax.jit the same errors surface wrapped in a JaxRuntimeError)
    def traced(ts, dt0):
        return solve(saveat=SaveAt(ts=ts), dt0=dt0).ys

    np.testing.assert_allclose(traced(jnp.array([0.2, 0.5]), jnp.array(0.1))[:, 0], np.exp([-0.2, -0.5]), rtol=1e-6)
    with pytest.raises(eqx.EquinoxRuntimeError, match="monotone"):
        traced(jnp.array([0.5, 0.2]), jnp.array(0.1))
    with pytest.raises(eqx.EquinoxRuntimeError, match="inside"):
        traced(jnp.array([0.5, 2.0]), jnp.array(0.1))
    with pytest.raises(eqx.EquinoxRuntimeError, match="`dt0` must have the sign"):
        traced(jnp.array([0.2, 0.5]), jnp.array(-0.1))

    @eqx.filter_jit
    def codes(ts, grid):
        return (
            solve(saveat=SaveAt(ts=ts), throw=False).result,
            solve(dt0=None, stepsize_controller=StepTo(grid), throw=False).result,
        )

    bad_ts, bad_grid = codes(jnp.array([0.5, 0.2]), jnp.array([0.0, 0.5, 0.9]))
    assert bad_ts == RESULTS.invalid_save_times_order
    assert bad_grid == RESULTS.invalid_step_to
    good_ts, good_grid = codes(jnp.array([0.2, 0.5]), jnp.array([0.0, 0.5, 1.0]))
    assert good_ts == good_grid == RESULTS.successful


def blow_up(t, y, args):
    return y**2


def test_runtime_failures_raise_with_throw_true():
    with pytest.raises(eqx.EquinoxRuntimeError, match="maximum number of solver steps"):
        solve(solver=Euler(), dt0=0.01, max_steps=10)
    with pytest.raises(eqx.EquinoxRuntimeError, match="non-finite"):
        solve(terms=ODETerm(blow_up), solver=Euler(), t1=20.0, dt0=1.0)
    with pytest.raises(eqx.EquinoxRuntimeError, match="fell below `dtmin`"):
        solve(
            terms=ODETerm(lambda t, y, args: -1000.0 * y), dt0=None,
            stepsize_controller=PIDController(rtol=1e-6, atol=1e-6, dtmin=0.1, force_dtmin=False),
        )  # fmt: skip


def test_runtime_failures_return_codes_with_throw_false():
    too_few = solve(solver=Euler(), dt0=0.01, max_steps=10, throw=False)
    assert too_few.result == RESULTS.max_steps_reached
    assert too_few.stats["num_steps"] == 10
    # The t1 slot holds where the solve stopped (as diffrax does).
    np.testing.assert_allclose(too_few.ts, [0.1])
    np.testing.assert_allclose(too_few.ys[0], 0.99**10 * np.ones(2), rtol=1e-12)

    overflow = solve(terms=ODETerm(blow_up), solver=Euler(), t1=20.0, dt0=1.0, throw=False)
    assert overflow.result == RESULTS.nonfinite

    stiff = solve(
        terms=ODETerm(lambda t, y, args: -1000.0 * y), dt0=None, throw=False,
        stepsize_controller=PIDController(rtol=1e-6, atol=1e-6, dtmin=0.1, force_dtmin=False),
    )  # fmt: skip
    assert stiff.result == RESULTS.dt_min_reached
    assert RESULTS.message(stiff.result).startswith("The step size fell below `dtmin`")

    fine = solve(throw=False)
    assert fine.result == RESULTS.successful
    np.testing.assert_allclose(fine.ys[0], np.exp(-1.0) * np.ones(2), rtol=1e-6)


def test_unbounded_max_steps_with_explicit_checkpoints():
    sol = solve(max_steps=None, adjoint=RecursiveCheckpointAdjoint(checkpoints=4))
    np.testing.assert_allclose(sol.ys[0], np.exp(-1.0) * np.ones(2), rtol=1e-6)
    grad = jax.grad(
        lambda y0: solve(y0=y0, max_steps=None, adjoint=RecursiveCheckpointAdjoint(checkpoints=4)).ys.sum()
    )(jnp.ones(2))
    np.testing.assert_allclose(grad, np.exp(-1.0) * np.ones(2), rtol=1e-6)
    assert isinstance(ConstantStepSize(), ConstantStepSize)


def test_argument_errors_are_also_runtime_errors():
    """diffrax checks these when the solve runs (a RuntimeError); jaxlint checks known values
    before tracing. The error is both, so code written for either library catches it."""
    for bad in (dict(saveat=SaveAt(ts=[0.0, 1.5])), dict(saveat=SaveAt(ts=[0.5, 0.2])), dict(dt0=-0.1)):
        with pytest.raises(RuntimeError):
            solve(**bad)
        with pytest.raises(ValueError):
            solve(**bad)


def test_unbounded_max_steps_without_checkpoints_solves_but_cannot_backpropagate():
    sol = solve(max_steps=None)
    np.testing.assert_allclose(sol.ys[0], np.exp(-1.0) * np.ones(2), rtol=1e-6)
    assert sol.stats["num_steps"] == 10
    # Forward mode needs no memory bound.
    tangent = jax.jvp(lambda y0: solve(y0=y0, max_steps=None).ys, (jnp.ones(2),), (jnp.ones(2),))[1]
    np.testing.assert_allclose(tangent[0], np.exp(-1.0) * np.ones(2), rtol=1e-6)
    with pytest.raises(Exception, match=r"max_steps=None.*checkpoints=k"):
        jax.grad(lambda y0: solve(y0=y0, max_steps=None).ys.sum())(jnp.ones(2))
