"""Terminating events with diffrax's semantics, and the event bugs of issue 12."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxlint.solver import (
    RESULTS,
    Bisection,
    ConstantStepSize,
    Euler,
    Event,
    NewtonBisection,
    ODETerm,
    SaveAt,
    Tsit5,
    diffeqsolve,
)


def _euler_with_event(saveat, root_finder=None):
    # y' = -y/2 with Euler at dt = 1: y(k) = 0.5**k, and the dense output is linear in each
    # step, so the event at t = 3.5 sits at y = (0.125 + 0.0625) / 2 = 0.09375.
    return diffeqsolve(
        ODETerm(lambda t, y, args: -0.5 * y), Euler(), 0.0, 5.0, 1.0, 1.0, saveat=saveat,
        event=Event(lambda t, y, args, **kw: t - 3.5, root_finder or NewtonBisection()),
        max_steps=6,
    )  # fmt: skip


@pytest.mark.parametrize("t1", [False, True])
def test_steps_end_at_the_located_event_not_at_the_overshooting_step(t1):
    # Bug 1: the step [3, 4] overshoots the event; its end used to stay saved, and with
    # t1=True the saved times went backwards (4, then 3.5).
    sol = _euler_with_event(SaveAt(steps=True, t1=t1))
    assert sol.result == RESULTS.event_occurred
    np.testing.assert_allclose(sol.ts, [1.0, 2.0, 3.0, 3.5, np.inf, np.inf])
    np.testing.assert_allclose(sol.ys, [0.5, 0.25, 0.125, 0.09375, np.inf, np.inf])
    finite = np.asarray(sol.ts)[np.isfinite(sol.ts)]
    assert np.all(np.diff(finite) > 0)


@pytest.mark.parametrize(
    "steps, t1, ts, ys",
    [
        (2, False, [2.0, 3.5, np.inf], [0.25, 0.09375, np.inf]),  # the saved 4th step: replaced
        (2, True, [2.0, 3.5, np.inf], [0.25, 0.09375, np.inf]),  # ... and not saved twice
        (3, False, [3.0, np.inf], [0.125, np.inf]),  # the 4th step was not saved: nothing to do
        (3, True, [3.0, 3.5], [0.125, 0.09375]),  # t1 asks for the end: the event
    ],
)
def test_every_nth_step_with_a_located_event(steps, t1, ts, ys):
    sol = _euler_with_event(SaveAt(steps=steps, t1=t1))
    np.testing.assert_allclose(sol.ts, ts)
    np.testing.assert_allclose(sol.ys, ys)


def test_save_times_after_the_event_are_dropped_and_t1_follows_the_saved_ones():
    sol = _euler_with_event(SaveAt(t0=True, ts=jnp.array([0.5, 2.0, 3.2, 3.7, 4.5]), t1=True))
    np.testing.assert_allclose(sol.ts, [0.0, 0.5, 2.0, 3.2, 3.5, np.inf, np.inf])
    np.testing.assert_allclose(sol.ys[:5], [1.0, 0.75, 0.25, 0.125 - 0.2 * 0.0625, 0.09375])


@pytest.mark.parametrize("dt0", [1.0, 0.3])
def test_newton_bisection_takes_the_converging_newton_step(dt0):
    # Bug 4: with dt0 = 1 a step ends exactly on the root t = 10 of y = -10 + t. Newton's
    # iterate then equals the bracket's end, which a strict inside-the-bracket test rejected:
    # the root was found by bisection only, to its tolerance.
    sol = diffeqsolve(
        ODETerm(lambda t, y, args: jnp.ones_like(y)), Tsit5(), 0.0, 20.0, dt0, -10.0,
        event=Event(lambda t, y, args, **kw: y, root_finder=NewtonBisection()),
    )  # fmt: skip
    assert abs(float(sol.event_time) - 10.0) < 1e-12
    assert abs(float(sol.ys[0])) < 1e-12


def test_boolean_condition_true_at_t0_stops_before_the_first_step():
    sol = diffeqsolve(
        ODETerm(lambda t, y, args: -y), Tsit5(), 0.0, 1.0, 0.1, 2.0,
        saveat=SaveAt(t0=True, t1=True), event=Event(lambda t, y, args, **kw: y > 1.0),
    )  # fmt: skip
    assert sol.result == RESULTS.event_occurred
    assert int(sol.stats["num_steps"]) == 0
    np.testing.assert_allclose(sol.ts, [0.0, 0.0])
    np.testing.assert_allclose(sol.ys, [2.0, 2.0])


def test_pytree_of_conditions_first_to_fire_wins_and_is_marked():
    conditions = {
        "late": lambda t, y, args, **kw: t > 0.8,
        "early": lambda t, y, args, **kw: y - 0.5,  # y = exp(-t) crosses 0.5 at log 2
    }
    sol = diffeqsolve(
        ODETerm(lambda t, y, args: -y), Tsit5(), 0.0, 2.0, 0.05, 1.0,
        event=Event(conditions, root_finder=Bisection(rtol=1e-12, atol=1e-12)),
    )  # fmt: skip
    assert sol.event_mask.keys() == {"late", "early"}
    assert not bool(sol.event_mask["late"]) and bool(sol.event_mask["early"])
    np.testing.assert_allclose(sol.event_time, np.log(2.0), atol=1e-8)


@pytest.mark.parametrize("direction, expected", [(None, np.pi / 2), (True, 3 * np.pi / 2), (False, np.pi / 2)])
def test_direction_selects_up_or_down_crossings(direction, expected):
    # y = (cos t, -sin t): y[0] crosses zero downwards at pi/2 and upwards at 3 pi/2.
    sol = diffeqsolve(
        ODETerm(lambda t, y, args: jnp.stack([y[1], -y[0]])), Tsit5(), 0.0, 6.0, 0.1,
        jnp.array([1.0, 0.0]),
        event=Event(lambda t, y, args, **kw: y[0], NewtonBisection(rtol=1e-12, atol=1e-12), direction),
    )  # fmt: skip
    np.testing.assert_allclose(sol.event_time, expected, atol=1e-6)


def test_event_time_is_differentiable_for_a_pytree_of_conditions():
    def event_time(rate):
        sol = diffeqsolve(
            ODETerm(lambda t, y, args: -args * y), Tsit5(), 0.0, 5.0, 0.01, 1.0, args=rate,
            event=Event([lambda t, y, args, **kw: t > 4.0, lambda t, y, args, **kw: y - 0.5],
                        root_finder=NewtonBisection(rtol=1e-12, atol=1e-12)),
        )  # fmt: skip
        return sol.event_time

    # exp(-a t) = 0.5 at t = log 2 / a: dt/da = -log 2 / a**2
    np.testing.assert_allclose(jax.grad(event_time)(2.0), -np.log(2.0) / 4.0, rtol=1e-6)


def test_optimistix_root_finder_is_accepted():
    optx = pytest.importorskip("optimistix")
    sol = diffeqsolve(
        ODETerm(lambda t, y, args: -y), Tsit5(), 0.0, 2.0, 0.1, 1.0,
        event=Event(lambda t, y, args, **kw: y - 0.5, optx.Newton(rtol=1e-10, atol=1e-10)),
    )  # fmt: skip
    np.testing.assert_allclose(sol.event_time, np.log(2.0), atol=1e-6)


def test_bad_conditions_raise_naming_the_event():
    def solve(cond, **kwargs):
        return diffeqsolve(
            ODETerm(lambda t, y, args: -y), Euler(), 0.0, 1.0, 0.1, 1.0,
            stepsize_controller=ConstantStepSize(), event=Event(cond, **kwargs),
        )  # fmt: skip

    with pytest.raises(ValueError, match="must return a scalar"):
        solve(lambda t, y, args, **kw: jnp.array([y, 1.0]))
    with pytest.raises(ValueError, match="a bool or a float"):
        solve(lambda t, y, args, **kw: jnp.array(1, dtype=int))
    with pytest.raises(ValueError, match="structure of `cond_fn`"):
        Event([lambda t, y, args, **kw: y], direction=[True, False])
    with pytest.raises(TypeError, match="root_finder"):
        Event(lambda t, y, args, **kw: y, root_finder="newton")


def test_steady_state_event_uses_the_controller_tolerances():
    from jaxlint.solver import PIDController, steady_state_event

    sol = diffeqsolve(
        ODETerm(lambda t, y, args: -y), Tsit5(), 0.0, jnp.inf, 1.0, 1.0,
        stepsize_controller=PIDController(rtol=1e-3, atol=1e-6), event=Event(steady_state_event()),
    )  # fmt: skip
    assert bool(sol.event_mask) and sol.result == RESULTS.event_occurred
    # |f| = |y| < 1e-6 + 1e-3 |y| once y < ~1e-6.
    assert 0 < float(sol.ys[0]) < 1.1e-6
    with pytest.raises(ValueError, match="adaptive `stepsize_controller`"):
        diffeqsolve(
            ODETerm(lambda t, y, args: -y), Euler(), 0.0, 10.0, 0.1, 1.0,
            event=Event(steady_state_event()),
        )  # fmt: skip
