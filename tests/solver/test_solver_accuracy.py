"""Accuracy of the explicit solvers: convergence orders, analytic solutions, SciPy agreement,
reverse time, PyTree states, vmap, dense output, events, step-size controller features."""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.integrate import solve_ivp

from jaxlint.solver import (
    RESULTS,
    Bisection,
    Bosh3,
    ConstantStepSize,
    Dopri5,
    DOP853,
    Dopri8,
    Euler,
    Event,
    Heun,
    Midpoint,
    MultiTerm,
    NewtonBisection,
    ODETerm,
    PIDController,
    Ralston,
    SaveAt,
    StepTo,
    SubSaveAt,
    ThirdOrderHermitePolynomialInterpolation,
    Tsit5,
    diffeqsolve,
)


def oscillator(t, y, args):
    return jnp.stack([y[1], -y[0]])


def decay(t, y, args):
    return -args * y


def lorenz(t, y, args):
    sigma, rho, beta = 10.0, 28.0, 8.0 / 3.0
    return jnp.stack(
        [sigma * (y[1] - y[0]), y[0] * (rho - y[2]) - y[1], y[0] * y[1] - beta * y[2]]
    )


# (solver, theoretical order, step counts over [0, 10]) chosen in the asymptotic range and
# above round-off in float64.
ORDERS = [
    (Euler, 1, (400, 800, 1600)),
    (Heun, 2, (50, 100, 200)),
    (Midpoint, 2, (50, 100, 200)),
    (Ralston, 2, (50, 100, 200)),
    (Bosh3, 3, (25, 50, 100)),
    (Tsit5, 5, (100, 200, 400)),
    (Dopri5, 5, (10, 20, 40)),
    # Dopri8 is ninth order on linear problems (its stability polynomial matches exp to
    # z^9): its order is measured on a nonlinear problem in test_dopri8.py.
    (DOP853, 8, (5, 7, 10)),
]


@pytest.mark.parametrize("solver_cls, order, steps", ORDERS, ids=[o[0].__name__ for o in ORDERS])
def test_convergence_order(solver_cls, order, steps):
    t1 = 10.0
    exact = np.array([np.cos(t1), -np.sin(t1)])

    @jax.jit
    def final_state(dt0):
        sol = diffeqsolve(
            ODETerm(oscillator), solver_cls(), 0.0, t1, dt0, jnp.array([1.0, 0.0]), max_steps=2048
        )
        return sol.ys[0]

    dts = np.array([t1 / n for n in steps])
    errors = np.array([np.abs(np.asarray(final_state(dt)) - exact).max() for dt in dts])
    fitted = np.polyfit(np.log(dts), np.log(errors), 1)[0]
    assert abs(fitted - order) <= 0.2, (fitted, errors)


# Save points between steps are interpolated: natively for Tsit5/Dopri5/Dopri8/DOP853, by
# cubic Hermite for Bosh3. Dopri8's dense output has order 5 (DOP853's 7).
@pytest.mark.parametrize(
    "solver_cls, between_steps",
    [(Bosh3, 1e-7), (Tsit5, 1e-7), (Dopri5, 1e-7), (Dopri8, 5e-8), (DOP853, 1e-8)],
    ids=["Bosh3", "Tsit5", "Dopri5", "Dopri8", "DOP853"],
)
def test_analytic_problems_to_tolerance(solver_cls, between_steps):
    controller = PIDController(rtol=1e-9, atol=1e-11)
    ts = jnp.linspace(0.0, 5.0, 11)

    @jax.jit
    def both():
        decay_sol = diffeqsolve(
            ODETerm(decay), solver_cls(), 0.0, 5.0, None, jnp.array([1.0, 2.0]), args=0.8,
            saveat=SaveAt(ts=ts, t1=True), stepsize_controller=controller,
        )
        osc_sol = diffeqsolve(
            ODETerm(oscillator), solver_cls(), 0.0, 5.0, None, jnp.array([1.0, 0.0]),
            saveat=SaveAt(ts=ts, t1=True), stepsize_controller=controller,
        )  # fmt: skip
        return decay_sol.ys, osc_sol.ys

    decay_ys, osc_ys = both()
    t = np.append(np.asarray(ts), 5.0)[:, None]
    decay_exact = np.exp(-0.8 * t) * np.array([1.0, 2.0])
    osc_exact = np.hstack([np.cos(t), -np.sin(t)])
    # At t1 (a step end): the solver's own accuracy.
    np.testing.assert_allclose(decay_ys[-1], decay_exact[-1], rtol=1e-8)
    np.testing.assert_allclose(osc_ys[-1], osc_exact[-1], atol=1e-8)
    np.testing.assert_allclose(decay_ys, decay_exact, rtol=between_steps, atol=1e-9)
    np.testing.assert_allclose(osc_ys, osc_exact, atol=between_steps)


@pytest.mark.parametrize("solver_cls", [Tsit5, Dopri8, DOP853])
def test_lorenz_agrees_with_scipy_dop853(solver_cls):
    y0 = np.array([1.0, 1.0, 1.0])
    ts = np.linspace(0.0, 2.0, 21)
    reference = solve_ivp(
        lambda t, y: np.asarray(lorenz(t, y, None)), (0.0, 2.0), y0, method="DOP853",
        t_eval=ts, rtol=1e-12, atol=1e-12,
    ).y.T  # fmt: skip
    sol = diffeqsolve(
        ODETerm(lorenz), solver_cls(), 0.0, 2.0, None, jnp.asarray(y0),
        saveat=SaveAt(ts=jnp.asarray(ts)), stepsize_controller=PIDController(rtol=1e-9, atol=1e-9),
    )  # fmt: skip
    # Lorenz amplifies local errors (Lyapunov exponent ~0.9): allow two orders of magnitude.
    np.testing.assert_allclose(sol.ys, reference, rtol=1e-6, atol=1e-6)
    assert sol.result == RESULTS.successful


def test_reverse_time_matches_analytic_and_forward():
    ts = jnp.array([2.0, 1.5, 0.5, 0.0])
    sol = diffeqsolve(
        ODETerm(decay), Tsit5(), 2.0, 0.0, None, jnp.exp(-2.0), args=1.0,
        saveat=SaveAt(ts=ts, t1=True), stepsize_controller=PIDController(rtol=1e-10, atol=1e-12),
    )  # fmt: skip
    np.testing.assert_allclose(sol.ts, [2.0, 1.5, 0.5, 0.0, 0.0])
    np.testing.assert_allclose(sol.ys, np.exp(-np.array([2.0, 1.5, 0.5, 0.0, 0.0])), rtol=1e-9)
    dense = diffeqsolve(
        ODETerm(decay), Dopri5(), 2.0, 0.0, None, jnp.exp(-2.0), args=1.0,
        saveat=SaveAt(dense=True), stepsize_controller=PIDController(rtol=1e-10, atol=1e-12),
    )  # fmt: skip
    for t in (1.7, 0.9, 0.25):
        np.testing.assert_allclose(dense.evaluate(t), np.exp(-t), rtol=1e-8)
        np.testing.assert_allclose(dense.derivative(t), -np.exp(-t), rtol=1e-7)
    constant = diffeqsolve(ODETerm(decay), Euler(), 1.0, 0.0, -0.25, 1.0, args=1.0)
    assert constant.stats["num_steps"] == 4
    np.testing.assert_allclose(constant.ys, [1.25**4])  # y_{n+1} = y_n (1 + 0.25)


class ODEField(eqx.Module):
    x: jax.Array
    y: jax.Array


def test_module_and_pytree_states_match_flat_array():
    def field(t, state, args):
        return ODEField(x=jnp.cos(state.y) * t**2, y=jnp.sin(state.x) * t**2)

    def flat(t, z, args):
        return jnp.stack([jnp.cos(z[1]) * t**2, jnp.sin(z[0]) * t**2])

    controller = PIDController(rtol=1e-8, atol=1e-8)
    ts = jnp.linspace(0.0, 2.0, 5)
    module_sol = diffeqsolve(
        ODETerm(field), Dopri5(), 0.0, 2.0, None, ODEField(jnp.array(0.3), jnp.array(-0.2)),
        saveat=SaveAt(ts=ts), stepsize_controller=controller,
    )  # fmt: skip
    flat_sol = diffeqsolve(
        ODETerm(flat), Dopri5(), 0.0, 2.0, None, jnp.array([0.3, -0.2]),
        saveat=SaveAt(ts=ts), stepsize_controller=controller,
    )  # fmt: skip
    assert isinstance(module_sol.ys, ODEField) and module_sol.ys.x.shape == (5,)
    np.testing.assert_allclose(module_sol.ys.x, flat_sol.ys[:, 0], rtol=1e-12)
    np.testing.assert_allclose(module_sol.ys.y, flat_sol.ys[:, 1], rtol=1e-12)
    dict_sol = diffeqsolve(
        ODETerm(lambda t, s, a: {"a": -s["b"], "b": s["a"]}), Tsit5(), 0.0, 1.0, 0.01,
        {"a": jnp.array(1.0), "b": jnp.array(0.0)},
    )  # fmt: skip
    np.testing.assert_allclose(dict_sol.ys["a"], [np.cos(1.0)], rtol=1e-9)


def test_vmap_over_y0_matches_individual_solves():
    def solve(y0):
        return diffeqsolve(
            ODETerm(lorenz), Tsit5(), 0.0, 0.5, None, y0,
            stepsize_controller=PIDController(rtol=1e-7, atol=1e-9),
        ).ys[0]  # fmt: skip

    y0s = jnp.array([[1.0, 1.0, 1.0], [-2.0, 0.5, 20.0], [5.0, 5.0, 5.0]])
    batched = jax.jit(jax.vmap(solve))(y0s)
    single = jax.jit(solve)
    for i in range(3):
        np.testing.assert_allclose(batched[i], single(y0s[i]), rtol=1e-6)


@pytest.mark.parametrize(
    "solver_cls, tolerance",
    [(Tsit5, 1e-6), (Dopri5, 1e-6), (Bosh3, 1e-5), (Dopri8, 1e-6), (DOP853, 1e-7)],
)
def test_dense_output_between_steps(solver_cls, tolerance):
    sol = diffeqsolve(
        ODETerm(oscillator), solver_cls(), 0.0, 6.0, None, jnp.array([1.0, 0.0]),
        saveat=SaveAt(dense=True), stepsize_controller=PIDController(rtol=1e-8, atol=1e-8),
        max_steps=1024,
    )  # fmt: skip
    assert sol.stats["num_accepted_steps"] > 3
    ts = jnp.linspace(0.05, 5.95, 37)  # not step boundaries
    values = jax.vmap(sol.evaluate)(ts)
    slopes = jax.vmap(sol.derivative)(ts)
    t = np.asarray(ts)
    np.testing.assert_allclose(values, np.stack([np.cos(t), -np.sin(t)], 1), atol=tolerance)
    np.testing.assert_allclose(slopes, np.stack([-np.sin(t), -np.cos(t)], 1), atol=tolerance * 20)
    increment = sol.evaluate(1.0, 2.0)
    np.testing.assert_allclose(increment[0], np.cos(2.0) - np.cos(1.0), atol=tolerance * 2)


def test_linear_dense_output_of_euler_joins_steps():
    sol = diffeqsolve(
        ODETerm(decay), Euler(), 0.0, 1.0, 0.25, 1.0, args=1.0,
        saveat=SaveAt(dense=True, steps=True), max_steps=4,
    )  # fmt: skip
    steps = np.concatenate([[1.0], np.asarray(sol.ys)])
    np.testing.assert_allclose(steps, 0.75 ** np.arange(5), rtol=1e-15)
    for n in range(4):
        middle = 0.25 * n + 0.125
        np.testing.assert_allclose(sol.evaluate(middle), (steps[n] + steps[n + 1]) / 2, rtol=1e-14)
        np.testing.assert_allclose(sol.derivative(middle), -steps[n], rtol=1e-14)


def test_multiterm_sums_terms():
    ts = jnp.linspace(0.0, 1.0, 4)
    split = diffeqsolve(
        MultiTerm(ODETerm(lambda t, y, a: -y), ODETerm(lambda t, y, a: jnp.sin(t) * y)),
        Tsit5(), 0.0, 1.0, 0.05, 1.0, saveat=SaveAt(ts=ts),
    )  # fmt: skip
    whole = diffeqsolve(
        ODETerm(lambda t, y, a: -y + jnp.sin(t) * y), Tsit5(), 0.0, 1.0, 0.05, 1.0,
        saveat=SaveAt(ts=ts),
    )  # fmt: skip
    np.testing.assert_allclose(split.ys, whole.ys, rtol=1e-13)


def test_t0_equals_t1_returns_y0_everywhere():
    y0 = jnp.array([3.0, -1.0])
    sol = diffeqsolve(
        ODETerm(oscillator), Tsit5(), 1.0, 1.0, None, y0,
        saveat=SaveAt(t0=True, ts=jnp.full((5,), 1.0), t1=True, dense=True),
        stepsize_controller=PIDController(rtol=1e-6, atol=1e-6), max_steps=16,
    )  # fmt: skip
    assert sol.result == RESULTS.successful
    assert sol.stats["num_steps"] == 0
    np.testing.assert_array_equal(sol.ts, np.ones(7))
    np.testing.assert_array_equal(sol.ys, np.tile(np.asarray(y0), (7, 1)))
    np.testing.assert_array_equal(sol.evaluate(1.0), y0)


def test_steps_subsaveat_and_fn():
    sol = diffeqsolve(
        ODETerm(decay), Tsit5(), 0.0, 1.0, 0.25, 1.0, args=1.0,
        saveat=SaveAt(subs=[
            SubSaveAt(steps=True),
            SubSaveAt(t0=True, ts=jnp.array([0.1, 0.6]), fn=lambda t, y, args: (t, 2 * y)),
            SubSaveAt(t1=True),
        ]),
        max_steps=8,
    )  # fmt: skip
    steps_ts, fixed_ts, end_ts = sol.ts
    steps_ys, (fn_t, fn_y), end_ys = sol.ys
    np.testing.assert_allclose(steps_ts, [0.25, 0.5, 0.75, 1.0] + [np.inf] * 4)
    np.testing.assert_allclose(steps_ys[:4], np.exp(-steps_ts[:4]), rtol=1e-6)
    assert np.all(np.isinf(steps_ys[4:]))
    np.testing.assert_allclose(fixed_ts, [0.0, 0.1, 0.6])
    np.testing.assert_allclose(fn_t, [0.0, 0.1, 0.6])
    np.testing.assert_allclose(fn_y, 2 * np.exp(-np.array([0.0, 0.1, 0.6])), rtol=1e-5)
    np.testing.assert_allclose(end_ts, [1.0])
    np.testing.assert_allclose(end_ys, [np.exp(-1.0)], rtol=1e-6)


def test_stepto_step_ts_and_jump_ts():
    grid = jnp.array([0.0, 0.1, 0.5, 0.55, 1.0])
    sol = diffeqsolve(
        ODETerm(decay), Euler(), 0.0, 1.0, None, 1.0, args=1.0,
        stepsize_controller=StepTo(grid), saveat=SaveAt(steps=True), max_steps=8,
    )  # fmt: skip
    np.testing.assert_allclose(sol.ts[:4], grid[1:])
    expected = np.cumprod(1 - np.diff(np.asarray(grid)))
    np.testing.assert_allclose(sol.ys[:4], expected, rtol=1e-12)

    marks = jnp.array([0.3, 0.7])
    steps = diffeqsolve(
        ODETerm(decay), Tsit5(), 0.0, 1.0, 0.2, 1.0, args=1.0, saveat=SaveAt(steps=True),
        stepsize_controller=PIDController(rtol=1e-3, atol=1e-6, step_ts=marks), max_steps=64,
    )  # fmt: skip
    visited = np.asarray(steps.ts)
    for mark in (0.3, 0.7):
        assert np.any(np.abs(visited - mark) < 1e-12)

    # dy/dt switches from +1 to -1 at t = 1: y(2) = 0 exactly for a method that steps to the
    # jump and restarts there; with jump_ts the solver needs few steps.
    switch = lambda t, y, args: jnp.where(t < 1.0, 1.0, -1.0)  # noqa: E731
    jumped = diffeqsolve(
        ODETerm(switch), Tsit5(), 0.0, 2.0, None, 0.0,
        stepsize_controller=PIDController(rtol=1e-8, atol=1e-8, jump_ts=jnp.array([1.0])),
    )  # fmt: skip
    np.testing.assert_allclose(jumped.ys, [0.0], atol=1e-12)
    assert jumped.stats["num_steps"] < 20


def test_pid_coefficients_and_forced_dtmin():
    def solve(controller):
        return diffeqsolve(
            ODETerm(oscillator), Tsit5(), 0.0, 10.0, None, jnp.array([1.0, 0.0]),
            stepsize_controller=controller, max_steps=512,
        )  # fmt: skip

    exact = np.array([np.cos(10.0), -np.sin(10.0)])
    integral = solve(PIDController(rtol=1e-7, atol=1e-9))
    pid = solve(PIDController(rtol=1e-7, atol=1e-9, pcoeff=0.3, icoeff=0.3, dcoeff=0.1))
    np.testing.assert_allclose(pid.ys[0], exact, atol=1e-5)
    assert int(pid.stats["num_steps"]) != int(integral.stats["num_steps"])
    # With force_dtmin the solver takes steps of dtmin whatever their error.
    forced = solve(PIDController(rtol=1e-12, atol=1e-12, dtmin=0.25, force_dtmin=True))
    assert int(forced.stats["num_accepted_steps"]) == 40
    assert forced.result == RESULTS.successful


def test_dtmax_bounds_steps():
    sol = diffeqsolve(
        ODETerm(decay), Tsit5(), 0.0, 1.0, None, 1.0, args=0.1, saveat=SaveAt(steps=True),
        stepsize_controller=PIDController(rtol=1e-3, atol=1e-3, dtmax=0.1), max_steps=64,
    )  # fmt: skip
    taken = np.diff(np.concatenate([[0.0], np.asarray(sol.ts)[: int(sol.stats["num_accepted_steps"])]]))
    assert taken.max() <= 0.1 + 1e-12
    assert int(sol.stats["num_accepted_steps"]) >= 10


def test_events_locate_crossing_and_stop():
    ts = jnp.linspace(0.0, 3.0, 7)
    controller = PIDController(rtol=1e-8, atol=1e-10)
    crossing = Event(lambda t, y, args, **kw: y - 0.5, root_finder=NewtonBisection(rtol=1e-12, atol=1e-12))
    sol = diffeqsolve(
        ODETerm(decay), Tsit5(), 0.0, 3.0, None, 1.0, args=1.0, event=crossing,
        saveat=SaveAt(ts=ts, t1=True), stepsize_controller=controller,
    )  # fmt: skip
    assert sol.result == RESULTS.event_occurred
    np.testing.assert_allclose(sol.event_time, np.log(2.0), atol=1e-9)
    # Outputs are packed in time order (as diffrax): the two ts entries before the event,
    # then the t1 output at the event, then unused slots.
    np.testing.assert_allclose(sol.ts[2], np.log(2.0), atol=1e-9)
    np.testing.assert_allclose(sol.ys[2], 0.5, atol=1e-9)
    np.testing.assert_allclose(sol.ys[:2], np.exp(-np.asarray(ts[:2])), rtol=1e-8)
    assert np.all(np.isinf(sol.ys[3:])) and np.all(np.isinf(sol.ts[3:]))

    below = Event(lambda t, y, args, **kw: y < 0.5, root_finder=Bisection(rtol=1e-12, atol=1e-12))
    located = diffeqsolve(
        ODETerm(decay), Tsit5(), 0.0, 3.0, None, 1.0, args=1.0, event=below,
        stepsize_controller=controller,
    )  # fmt: skip
    np.testing.assert_allclose(located.event_time, np.log(2.0), atol=1e-9)

    unlocated = diffeqsolve(
        ODETerm(decay), Tsit5(), 0.0, 3.0, 0.1, 1.0, args=1.0,
        event=Event(lambda t, y, args, **kw: y < 0.5),
    )  # fmt: skip
    # Without a root finder the solve stops at the end of the step that crossed.
    np.testing.assert_allclose(unlocated.event_time, 0.7, atol=1e-12)
    assert unlocated.result == RESULTS.event_occurred


def test_save_times_inside_the_step_past_a_located_event_are_dropped():
    # Steps of 0.5: the step [0.5, 1.0] crosses y = 0.5 at log 2 and saves 0.75 and 1.0 before
    # the event is located; those two slots lie past the event time and become inf.
    ts = jnp.array([0.25, 0.5, 0.75, 1.0, 1.5])
    finder = NewtonBisection(rtol=1e-12, atol=1e-12)
    crossing = Event(lambda t, y, args, **kw: y - 0.5, root_finder=finder)
    located = diffeqsolve(
        ODETerm(decay), Tsit5(), 0.0, 2.0, 0.5, 1.0, args=1.0, event=crossing,
        saveat=SaveAt(ts=ts),
    )  # fmt: skip
    np.testing.assert_allclose(located.event_time, np.log(2.0), atol=1e-4)  # Tsit5 at dt = 0.5
    np.testing.assert_allclose(located.ts[:2], [0.25, 0.5])
    np.testing.assert_allclose(located.ys[:2], np.exp(-np.asarray(ts[:2])), rtol=1e-4)
    assert np.all(np.isinf(located.ts[2:])) and np.all(np.isinf(located.ys[2:]))

    # Without a root finder the solve ends at the end of that step: what it saved is kept.
    unlocated = diffeqsolve(
        ODETerm(decay), Tsit5(), 0.0, 2.0, 0.5, 1.0, args=1.0,
        event=Event(lambda t, y, args, **kw: y < 0.5), saveat=SaveAt(ts=ts),
    )  # fmt: skip
    np.testing.assert_allclose(unlocated.ts[:4], ts[:4])
    np.testing.assert_allclose(unlocated.ys[:4], np.exp(-np.asarray(ts[:4])), rtol=1e-4)
    assert np.isinf(unlocated.ts[4]) and np.isinf(unlocated.ys[4])


@pytest.mark.parametrize("solver_cls", [Heun, Midpoint, Ralston])
def test_second_order_methods_have_hermite_dense_output(solver_cls):
    # Cubic Hermite (as in diffrax), not linear: the slope is continuous across step ends
    # and equals the vector field there, and values between steps keep second-order accuracy.
    sol = diffeqsolve(
        ODETerm(oscillator), solver_cls(), 0.0, 2.0, 0.05, jnp.array([1.0, 0.0]),
        saveat=SaveAt(dense=True), max_steps=64,
    )  # fmt: skip
    assert solver_cls.interpolation_cls is ThirdOrderHermitePolynomialInterpolation
    end = 1.0  # a step end (20 steps of 0.05)
    y_end = sol.evaluate(end)
    np.testing.assert_allclose(sol.derivative(end - 1e-9), oscillator(end, y_end, None), atol=1e-6)
    np.testing.assert_allclose(sol.derivative(end + 1e-9), oscillator(end, y_end, None), atol=1e-6)
    ts = jnp.linspace(0.0125, 1.9875, 40)
    errors = np.abs(np.asarray(jax.vmap(sol.evaluate)(ts))[:, 0] - np.cos(np.asarray(ts)))
    assert errors.max() < 2e-3
