"""HalfSolver: step-doubling error estimates for any solver."""

import jax.numpy as jnp
import numpy as np
import pytest
from jaxlint.solver import (
    AbstractWrappedSolver,
    ConstantStepSize,
    Euler,
    HalfSolver,
    Heun,
    ImplicitEuler,
    ODETerm,
    PIDController,
    SaveAt,
    Tsit5,
    diffeqsolve,
)

DECAY = ODETerm(lambda t, y, args: -y)


def test_one_euler_step_by_hand():
    # Full step: 1 - h; two half steps: (1 - h/2)^2; difference h^2 / 4 exactly.
    h = 0.1
    solver = HalfSolver(Euler())
    y1, y_error, _, _, result = solver.step(DECAY, 0.0, h, jnp.asarray(1.0), None, None, False)
    np.testing.assert_allclose(y1, (1 - h / 2) ** 2, rtol=1e-15)
    np.testing.assert_allclose(y_error, h * h / 4, rtol=1e-12)
    assert result == 0
    assert solver.order(DECAY) == 1 and solver.error_order(DECAY) == 2


def test_counts_as_the_wrapped_solver():
    wrapped = HalfSolver(Euler())
    assert isinstance(wrapped, Euler) and isinstance(wrapped, AbstractWrappedSolver)
    assert not isinstance(wrapped, Heun) and not isinstance(Euler(), HalfSolver)
    assert not issubclass(HalfSolver, Euler)
    assert isinstance(HalfSolver(HalfSolver(Euler())), Euler)
    assert wrapped.interpolation_cls is Euler.interpolation_cls


def _final_error(solver, **kwargs):
    sol = diffeqsolve(DECAY, solver, 0.0, 1.0, y0=1.0, **kwargs)
    return abs(float(sol.ys[0]) - np.exp(-1.0)), int(sol.stats["num_accepted_steps"])


def test_constant_steps_keep_the_wrapped_order():
    for inner, order in ((Euler(), 1), (Heun(), 2)):
        coarse, _ = _final_error(HalfSolver(inner), dt0=0.05)
        fine, _ = _final_error(HalfSolver(inner), dt0=0.025)
        assert abs(np.log2(coarse / fine) - order) < 0.1


def test_adaptive_euler_meets_tighter_tolerances_with_more_steps():
    loose, loose_steps = _final_error(
        HalfSolver(Euler()), dt0=None, stepsize_controller=PIDController(rtol=1e-3, atol=1e-6)
    )
    tight, tight_steps = _final_error(
        HalfSolver(Euler()), dt0=None, stepsize_controller=PIDController(rtol=1e-5, atol=1e-8)
    )
    # Local error ~ h^2 per step held at tol, so h ~ tol^(1/2): 100x tighter tolerance means
    # 10x more steps and (first order globally) a 10x smaller error.
    assert 7 < loose / tight < 14 and 7 < tight_steps / loose_steps < 14
    assert loose < 1e-2


def test_wraps_implicit_and_fsal_solvers():
    stiff = ODETerm(lambda t, y, args: -50.0 * (y - jnp.cos(t)))
    controller = PIDController(rtol=1e-4, atol=1e-6)
    for inner in (ImplicitEuler(), Tsit5()):
        sol = diffeqsolve(
            stiff, HalfSolver(inner), 0.0, 1.0, None, 0.0, stepsize_controller=controller,
            saveat=SaveAt(ts=jnp.array([0.5, 1.0])),
        )  # fmt: skip
        t = sol.ts
        exact = (2500 * jnp.cos(t) + 50 * jnp.sin(t) - 2500 * jnp.exp(-50 * t)) / 2501
        np.testing.assert_allclose(sol.ys, exact, atol=1e-3)


def test_agrees_with_diffrax_on_one_step():
    diffrax = pytest.importorskip("diffrax")
    y0 = jnp.asarray(2.0)
    solver = HalfSolver(Heun())
    ours = solver.step(DECAY, 0.0, 0.3, y0, None, solver.init(DECAY, 0.0, 0.3, y0, None), False)
    term = diffrax.ODETerm(lambda t, y, args: -y)
    theirs_solver = diffrax.HalfSolver(diffrax.Heun())
    state = theirs_solver.init(term, 0.0, 0.3, y0, None)
    theirs = theirs_solver.step(term, 0.0, 0.3, y0, None, state, False)
    np.testing.assert_allclose(ours[0], theirs[0], rtol=1e-15)
    np.testing.assert_allclose(ours[1], theirs[1], rtol=1e-13)


def test_needs_no_error_estimate_only_with_constant_steps():
    sol = diffeqsolve(DECAY, HalfSolver(Euler()), 0.0, 1.0, 0.1, 1.0,
                      stepsize_controller=ConstantStepSize())
    np.testing.assert_allclose(sol.ys[0], (1 - 0.05) ** 20, rtol=1e-12)
