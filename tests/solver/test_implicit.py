"""Implicit methods: ImplicitEuler, Kvaerno3/4/5 and the chord Newton root finder.

- The Kvaerno tableaus satisfy the rooted-tree order conditions (and fail the next order),
  are L-stable, and have stage order 2.
- Empirical convergence orders with constant steps are within 0.2 of theory.
- Newton: converges, reports non-convergence, takes tolerances from the controller.
- Gradients through an implicit solve match finite differences.
- The vector field is traced as often for seven stages as for one (stages in a loop, P2).
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jaxlint.analyzer import measure_call
from jaxlint.solver import (
    RESULTS,
    BacksolveAdjoint,
    ConstantStepSize,
    ForwardMode,
    ImplicitEuler,
    Kvaerno3,
    Kvaerno4,
    Kvaerno5,
    MultiTerm,
    Newton,
    ODETerm,
    PIDController,
    RecursiveCheckpointAdjoint,
    SaveAt,
    diffeqsolve,
)
from jaxlint.solver._kvaerno import (
    KVAERNO3_TABLEAU,
    KVAERNO4_TABLEAU,
    KVAERNO5_TABLEAU,
    ESDIRKTableau,
)
from jaxlint.solver._order_conditions import order_residual, rooted_trees, tree_density
from scipy.integrate import solve_ivp


@pytest.fixture(autouse=True, scope="module")
def _double_precision():
    with jax.enable_x64(True):
        yield


# ---------------------------------------------------------------------------------------------
# Tableaus: order conditions from rooted trees
# ---------------------------------------------------------------------------------------------


def stability_function(a: np.ndarray, b: np.ndarray, z: complex) -> complex:
    """``R(z) = 1 + z b^T (I - z A)^{-1} 1``: the step's amplification of ``y' = lambda y``."""
    n = a.shape[0]
    return 1 + z * b @ np.linalg.solve(np.eye(n) - z * a, np.ones(n))


def test_tree_enumeration_counts():
    # The number of rooted trees per order (OEIS A000081) is the number of order conditions.
    assert [len(rooted_trees(n)) for n in range(1, 7)] == [1, 1, 2, 4, 9, 20]


TABLEAUS = {
    "Kvaerno3": KVAERNO3_TABLEAU,
    "Kvaerno4": KVAERNO4_TABLEAU,
    "Kvaerno5": KVAERNO5_TABLEAU,
}


@pytest.mark.parametrize("name", sorted(TABLEAUS))
def test_tableau_order_conditions(name):
    tableau = TABLEAUS[name]
    a, p = tableau.a, tableau.order
    embedded = tableau.b - tableau.b_error
    for order in range(1, p + 1):
        assert order_residual(tableau.b, a, order) < 1e-15, (name, order)
    # ... and not one order more: the claimed order is the true one.
    assert order_residual(tableau.b, a, p + 1) > 1e-4
    for order in range(1, p):
        assert order_residual(embedded, a, order) < 1e-15, (name, order)
    assert order_residual(embedded, a, p) > 1e-4


@pytest.mark.parametrize("name", sorted(TABLEAUS))
def test_tableau_structure_and_stability(name):
    tableau = TABLEAUS[name]
    a, c = tableau.a, tableau.c
    # Stiffly accurate: solution and embedded solution are the last two stages, both at c = 1.
    np.testing.assert_array_equal(tableau.b, a[-1])
    assert c[-1] == pytest.approx(1, abs=1e-15) and c[-2] == pytest.approx(1, abs=1e-15)
    # Stage order 2 at every stage: sum_j a_ij c_j = c_i^2 / 2.
    np.testing.assert_allclose(a @ c, c**2 / 2, atol=1e-15)
    # L-stable: |R| <= 1 on the imaginary axis (A-stable, as R is analytic in the left
    # half-plane for gamma > 0) and R -> 0 at infinity.
    ys = np.logspace(-3, 6, 300)
    assert max(abs(stability_function(a, tableau.b, 1j * y)) for y in ys) <= 1 + 1e-12
    # (R(z) ~ C / z far out; cancellation in 1 + z(...) limits how far we can look.)
    assert abs(stability_function(a, tableau.b, -1e6)) < 1e-5
    assert abs(stability_function(a, tableau.b, -1e7)) < 1e-6
    # The Newton predictor reproduces constants: its weights sum to one.
    np.testing.assert_allclose(tableau.predictor[1:].sum(axis=1), 1, atol=1e-14)


def test_gamma_values_are_the_l_stability_roots():
    g3, g4 = KVAERNO3_TABLEAU.gamma, KVAERNO4_TABLEAU.gamma
    assert abs(6 * g3**3 - 18 * g3**2 + 9 * g3 - 1) < 1e-15
    assert abs(g4**4 - 4 * g4**3 + 3 * g4**2 - 2 * g4 / 3 + 1 / 24) < 1e-15
    assert KVAERNO5_TABLEAU.gamma == 0.26


def test_tableau_rejects_bad_input():
    with pytest.raises(ValueError, match="lower triangular"):
        ESDIRKTableau(a=np.ones((3, 3)), order=1)
    with pytest.raises(ValueError, match="one diagonal value"):
        ESDIRKTableau(a=np.diag([0.0, 0.3, 0.4]), order=1)


# ---------------------------------------------------------------------------------------------
# Convergence order with constant steps (one compile per solver: dt0 is a traced array)
# ---------------------------------------------------------------------------------------------


def forced_logistic(t, y, rate):
    """Smooth, non-autonomous, nonlinear, with a PyTree (dict) state."""
    return {"a": -y["a"] + jnp.sin(t), "b": rate * y["b"] * (1 - y["b"])}


def forced_logistic_exact(t: float, rate: float = 2.0) -> np.ndarray:
    a = (np.sin(t) - np.cos(t)) / 2 + 1.5 * np.exp(-t)
    b = 1 / (1 + 9 * np.exp(-rate * t))
    return np.array([a, b])


def initial_state(b0=0.1):
    return {"a": jnp.asarray(1.0), "b": jnp.asarray(b0)}


def constant_step_solve(solver, num_steps, b0=0.1, rate=2.0, adjoint=RecursiveCheckpointAdjoint()):
    """``y(1)`` of the forced logistic problem with ``num_steps`` equal steps."""
    return diffeqsolve(
        ODETerm(forced_logistic),
        solver,
        0.0,
        1.0,
        jnp.asarray(1.0 / num_steps),
        initial_state(b0),
        rate,
        stepsize_controller=ConstantStepSize(),
        adjoint=adjoint,
        max_steps=256,
    )


TIGHT = Newton(rtol=1e-13, atol=1e-13)


@pytest.mark.parametrize(
    "solver_cls, expected_order, step_counts",
    [
        (ImplicitEuler, 1, (64, 128, 256)),
        (Kvaerno3, 3, (8, 16, 32)),
        (Kvaerno4, 4, (8, 16, 32)),
        (Kvaerno5, 5, (8, 16, 32)),
    ],
)
def test_convergence_order(solver_cls, expected_order, step_counts):
    solver = solver_cls(root_finder=TIGHT)
    errors = []
    for n in step_counts:
        solution = constant_step_solve(solver, n)
        assert int(solution.stats["num_steps"]) == n
        y1 = np.array([solution.ys["a"][-1], solution.ys["b"][-1]])
        errors.append(np.max(np.abs(y1 - forced_logistic_exact(1.0))))
    slope = -np.polyfit(np.log(step_counts), np.log(errors), 1)[0]
    assert abs(slope - expected_order) <= 0.2, (solver_cls.__name__, errors, slope)
    assert solver.order(None) == expected_order


# ---------------------------------------------------------------------------------------------
# Stiff problems with adaptive steps, against SciPy (LSODA at rtol = atol = 1e-12)
# ---------------------------------------------------------------------------------------------


def robertson_rhs(y, xp):
    """Robertson's chemical kinetics (rate constants 0.04, 1e4, 3e7); ``xp`` is jnp or np."""
    fast = 3e7 * y[1] ** 2
    slow = 0.04 * y[0] - 1e4 * y[1] * y[2]
    return xp.stack([-slow, slow - fast, fast])


def van_der_pol_rhs(y, mu, xp):
    return xp.stack([y[1], mu * (1 - y[0] ** 2) * y[1] - y[0]])


def robertson(t, y, args):
    return robertson_rhs(y, jnp)


def van_der_pol(t, y, mu):
    return van_der_pol_rhs(y, mu, jnp)


STIFF_PROBLEMS = {
    # name: (vector field, the same in NumPy for SciPy, y0, t1, args)
    "robertson": (robertson, lambda t, y: robertson_rhs(y, np), [1.0, 0.0, 0.0], 1e4, None),
    "van_der_pol_mu1000": (
        van_der_pol, lambda t, y: van_der_pol_rhs(y, 1000.0, np), [2.0, 0.0], 3000.0, 1000.0
    ),
}
RTOL, ATOL = 1e-6, 1e-9


@functools.cache
def stiff_reference(name):
    """The state at t1 from SciPy's LSODA at rtol = atol = 1e-12 (it agrees with Radau at
    the same tolerances to 2e-9 relative on both problems, and is 20-100x faster)."""
    _, rhs, y0, t_end, _ = STIFF_PROBLEMS[name]
    out = solve_ivp(rhs, (0.0, t_end), y0, method="LSODA", rtol=1e-12, atol=1e-12)
    assert out.status == 0, out.message
    return out.y[:, -1]


def adaptive_solve(solver, name):
    field, _, y0, t_end, args = STIFF_PROBLEMS[name]
    return diffeqsolve(
        ODETerm(field),
        solver,
        0.0,
        t_end,
        None,
        jnp.asarray(y0),
        args,
        stepsize_controller=PIDController(rtol=RTOL, atol=ATOL),
        max_steps=16384,
    )


@pytest.mark.parametrize("name", sorted(STIFF_PROBLEMS))
@pytest.mark.parametrize("solver_cls", [Kvaerno3, Kvaerno4, Kvaerno5])
def test_stiff_problem_matches_scipy(solver_cls, name):
    solution = adaptive_solve(solver_cls(), name)
    assert int(solution.result) == RESULTS.successful
    reference = stiff_reference(name)
    error = np.abs(np.asarray(solution.ys[-1]) - reference)
    scaled_error = error / (RTOL * np.abs(reference) + ATOL)
    # The global error of error-per-step control is a small multiple of the tolerance (the
    # measured worst case is about 7, for Van der Pol's fast transitions).
    assert np.all(scaled_error <= 20), (solver_cls.__name__, name, scaled_error)


def test_implicit_euler_on_robertson():
    # A first-order method under per-step error control has a global error of order
    # sqrt(tol) (error_order 2): check that scale rather than tol itself.
    solution = adaptive_solve(ImplicitEuler(), "robertson")
    assert int(solution.result) == RESULTS.successful
    reference = stiff_reference("robertson")
    relative_error = np.abs(np.asarray(solution.ys[-1]) - reference) / np.abs(reference)
    assert np.all(relative_error <= 3 * np.sqrt(RTOL)), relative_error


def test_kvaerno5_saved_values_between_steps_meet_the_tolerance():
    # Regression (issue 12): with cubic Hermite dense output and step-end error control only,
    # ROBER's values saved inside Kvaerno5's long steps were 14-340x the tolerance at 1e-10.
    # The quartic dense output and its error in the step's estimate bring them inside.
    ts = np.array([0.0, 3e-5, 1e-4, 3e-4, 1e-3, 1e-2, 0.3, 1.0, 3.0, 30.0, 100.0])
    tol = 1e-9
    sol = diffeqsolve(
        ODETerm(robertson), Kvaerno5(), 0.0, 100.0, 2e-4, jnp.array([1.0, 0.0, 0.0]),
        saveat=SaveAt(ts=jnp.asarray(ts)), stepsize_controller=PIDController(rtol=tol, atol=tol),
    )  # fmt: skip
    reference = solve_ivp(
        lambda t, y: robertson_rhs(y, np), (0.0, 100.0), [1.0, 0.0, 0.0], method="Radau",
        t_eval=ts, rtol=1e-13, atol=1e-16,
    ).y.T  # fmt: skip
    scaled = np.abs(np.asarray(sol.ys) - reference) / (tol + tol * np.abs(reference))
    assert scaled.max() < 1, scaled.max(axis=1)
    # The error also drives the step count: still far fewer steps than steps of 1e-4.
    assert int(sol.stats["num_steps"]) < 400


def test_kvaerno5_dense_output_conditions():
    from jaxlint.solver._kvaerno import Kvaerno5Interpolation
    from jaxlint.solver._order_conditions import elementary_weights

    weights = Kvaerno5Interpolation.weights
    a, b = KVAERNO5_TABLEAU.a, KVAERNO5_TABLEAU.b
    powers = np.arange(1, weights.shape[1] + 1)
    np.testing.assert_allclose(weights.sum(axis=1), b, atol=1e-13)
    np.testing.assert_allclose(weights @ powers, np.eye(7)[6], atol=1e-12)  # slope at t1
    for s in (0.3, 0.5, 0.9):
        for order in range(1, 5):
            for tree in rooted_trees(order):
                value = (weights @ s**powers) @ elementary_weights(tree, a)
                assert abs(value - s**order / tree_density(tree)) < 1e-12


def test_newton_failure_is_retried_smaller_or_reported():
    # Implicit Euler for y' = y^2 from y(0) = 1 has no real solution for a step >= 1/4.
    term = ODETerm(lambda t, y, args: y**2)
    solver = ImplicitEuler()
    adaptive = diffeqsolve(
        term, solver, 0.0, 0.5, 0.45, jnp.asarray(1.0),
        stepsize_controller=PIDController(rtol=1e-4, atol=1e-6), max_steps=4096,
    )  # fmt: skip
    assert int(adaptive.result) == RESULTS.successful
    assert int(adaptive.stats["num_rejected_steps"]) >= 1
    np.testing.assert_allclose(adaptive.ys[-1], 2.0, rtol=1e-2)  # exact: 1 / (1 - t)
    constant = diffeqsolve(
        term, ImplicitEuler(root_finder=Newton(rtol=1e-6, atol=1e-6)), 0.0, 0.5, 0.45,
        jnp.asarray(1.0), throw=False,
    )  # fmt: skip
    assert int(constant.result) == RESULTS.implicit_nonconvergence
    with pytest.raises(ValueError, match="Newton tolerances are unset"):
        diffeqsolve(term, Kvaerno3(), 0.0, 0.5, 0.1, jnp.asarray(1.0))


def test_dense_output_and_reverse_time():
    solver = Kvaerno5()
    a1, b1 = forced_logistic_exact(1.0)
    solution = diffeqsolve(
        ODETerm(forced_logistic), solver, 1.0, 0.0, None,
        {"a": jnp.asarray(a1), "b": jnp.asarray(b1)}, 2.0, saveat=SaveAt(t1=True, dense=True),
        stepsize_controller=PIDController(rtol=1e-8, atol=1e-10),
    )  # fmt: skip
    np.testing.assert_allclose(
        [solution.ys["a"][-1], solution.ys["b"][-1]], forced_logistic_exact(0.0), rtol=1e-6
    )
    # Cubic Hermite dense output between the steps.
    for t in (0.13, 0.5, 0.77):
        value = solution.evaluate(t)
        np.testing.assert_allclose([value["a"], value["b"]], forced_logistic_exact(t), rtol=1e-5)


# ---------------------------------------------------------------------------------------------
# Newton
# ---------------------------------------------------------------------------------------------


def test_newton_takes_controller_tolerances_only_where_unset():
    bound = Kvaerno5().bind_tolerances(1e-6, 1e-9)
    assert (bound.root_finder.rtol, bound.root_finder.atol) == (1e-6, 1e-9)
    partly = Kvaerno5(root_finder=Newton(rtol=1e-3, kappa=0.1)).bind_tolerances(1e-6, 1e-9)
    assert (partly.root_finder.rtol, partly.root_finder.atol) == (1e-3, 1e-9)
    assert partly.root_finder.kappa == 0.1
    unbound = ImplicitEuler().bind_tolerances(None, None)
    with pytest.raises(ValueError, match="Newton tolerances are unset"):
        unbound.step(ODETerm(forced_logistic), 0.0, 0.1, initial_state(), 2.0, None, False)


def test_newton_rejects_bad_max_steps():
    with pytest.raises(ValueError, match="max_steps"):
        Newton(max_steps=0)


def test_newton_solves_and_counts_iterations():
    # w = cos(w): chord iterations with the derivative 1 + sin(0.7) of the residual at 0.7.
    newton = Newton(rtol=1e-12, atol=1e-12)
    slope = 1 + np.sin(0.7)
    w, result, steps = newton.solve(
        lambda w: w - jnp.cos(w), jnp.full(1, 0.7), lambda r: r / slope, jnp.ones(1)
    )
    assert int(result) == RESULTS.successful
    np.testing.assert_allclose(w, [0.7390851332151607], rtol=1e-11)
    assert 2 <= int(steps) <= 10  # the default budget
    # An equation without a real root (implicit Euler for y' = y^2 past the blow-up).
    w, result, _ = newton.solve(
        lambda w: w - 0.9 * (1 + w) ** 2, jnp.zeros(1), lambda r: r / (1 - 1.8), jnp.ones(1)
    )
    assert int(result) == RESULTS.implicit_nonconvergence
    # A poor iteration matrix (contraction rate sin(0.74) = 0.67) cannot reach 1e-12 within
    # 10 iterations; the rate forecast gives up early rather than at max_steps.
    _, result, steps = newton.solve(
        lambda w: w - jnp.cos(w), jnp.zeros(1), lambda r: r, jnp.ones(1)
    )
    assert int(result) == RESULTS.implicit_nonconvergence and int(steps) < 10
    # A step count too small to converge.
    _, result, steps = Newton(rtol=1e-12, atol=1e-12, max_steps=2).solve(
        lambda w: w - jnp.cos(w), jnp.full(1, 0.7), lambda r: r / slope, jnp.ones(1)
    )
    assert int(result) == RESULTS.implicit_nonconvergence and int(steps) <= 2


def test_step_reports_nonconvergence_and_stays_finite():
    term = ODETerm(lambda t, y, args: y**2)  # blows up at t = 1 from y0 = 1
    newton = Newton(rtol=1e-8, atol=1e-8)

    @functools.partial(jax.jit, static_argnums=0)
    def step(solver, dt):
        return solver.step(term, 0.0, dt, jnp.ones(2), None, None, False)

    for solver in (ImplicitEuler(root_finder=newton), Kvaerno3(root_finder=newton)):
        y1, error, _, _, result = step(solver, 0.9)
        assert int(result) == RESULTS.implicit_nonconvergence
        assert np.all(np.isfinite(y1)) and np.all(np.isfinite(error))
        # A short step is fine.
        assert int(step(solver, 0.01)[-1]) == RESULTS.successful


# ---------------------------------------------------------------------------------------------
# Structure: PyTrees, MultiTerm, dense output, vmap, tracing cost
# ---------------------------------------------------------------------------------------------


def test_multiterm_equals_single_term_and_dense_info_matches_ends():
    def decay(t, y, args):
        return -2.0 * y

    def forcing(t, y, args):
        return jnp.sin(t) * jnp.ones_like(y)

    def both(t, y, args):
        return decay(t, y, args) + forcing(t, y, args)

    solver = Kvaerno4(root_finder=TIGHT)
    y0 = jnp.array([1.0, -0.5])
    single = solver.step(ODETerm(both), 0.0, 0.2, y0, None, None, False)
    multi_term = MultiTerm(ODETerm(decay), ODETerm(forcing))
    multi = solver.step(multi_term, 0.0, 0.2, y0, None, None, False)
    np.testing.assert_allclose(single[0], multi[0], rtol=1e-13)
    interpolation = solver.interpolation_cls(t0=jnp.asarray(0.0), t1=jnp.asarray(0.2), **single[2])
    np.testing.assert_allclose(interpolation.evaluate(0.0), y0, rtol=1e-14)
    np.testing.assert_allclose(interpolation.evaluate(0.2), single[0], rtol=1e-14)
    # The end slopes are the vector field there (to Newton tolerance at t1).
    np.testing.assert_allclose(interpolation.derivative(0.0), both(0.0, y0, None), rtol=1e-12)
    np.testing.assert_allclose(
        interpolation.derivative(0.2), both(0.2, single[0], None), rtol=1e-9
    )


def test_vmap_over_initial_state_matches_loop():
    solver = Kvaerno5(root_finder=TIGHT)
    term = ODETerm(lambda t, y, args: -args * y**3 + jnp.cos(t))
    y0s = jnp.array([[0.5, 1.0], [2.0, -1.0], [0.0, 3.0]])
    step = jax.jit(lambda y: solver.step(term, 0.0, 0.3, y, 1.5, None, False)[0])
    batched = jax.vmap(step)(y0s)
    for y0, y1 in zip(y0s, batched):
        np.testing.assert_allclose(y1, step(y0), rtol=1e-12)


def test_stages_are_traced_once_per_step():
    # Stages run in a loop primitive: 6 implicit stages (Kvaerno5) trace the vector field as
    # often as 1 (ImplicitEuler) -- a Python loop over stages would trace it 6 times as often.
    def traces(solver):
        calls = []

        def field(t, y, args):
            calls.append(None)
            return -y

        jax.make_jaxpr(lambda y: solver.step(ODETerm(field), 0.0, 0.1, y, None, None, False))(
            jnp.ones(3)
        )
        return len(calls)

    counts = {
        cls.__name__: traces(cls(root_finder=TIGHT)) for cls in (ImplicitEuler, Kvaerno3, Kvaerno5)
    }
    assert counts["Kvaerno5"] == counts["Kvaerno3"] == counts["ImplicitEuler"], counts


def stiff_oscillator_outputs(solver, num_save_points):
    """``(fn, args)`` for the analyzer: a Van der Pol (mu = 10) solve saved at n points."""
    def solve(y0, ts):
        return diffeqsolve(
            ODETerm(van_der_pol), solver, 0.0, 10.0, None, y0, 10.0, saveat=SaveAt(ts=ts),
            stepsize_controller=PIDController(rtol=1e-6, atol=1e-9),
        ).ys  # fmt: skip

    return solve, (jnp.array([2.0, 0.0]), jnp.linspace(0.0, 10.0, num_save_points))


def test_program_size_does_not_grow_with_save_points_or_stages():
    ops = {}
    for solver in (Kvaerno3(), Kvaerno4(), Kvaerno5()):
        for n in ((16, 64, 256) if isinstance(solver, Kvaerno5) else (16,)):
            fn, args = stiff_oscillator_outputs(solver, n)
            ops[type(solver).__name__, n] = measure_call(fn, *args).figures["ops_inlined"]
    assert ops["Kvaerno5", 16] == ops["Kvaerno5", 64] == ops["Kvaerno5", 256], ops
    # Five stages lower to exactly the program of four: the stages are one loop body.
    # (Kvaerno5 adds its quartic dense output and dense error control, a fixed few ops.)
    assert ops["Kvaerno4", 16] == ops["Kvaerno3", 16], ops
    assert ops["Kvaerno5", 16] - ops["Kvaerno3", 16] < 40, ops


def test_gradient_program_size_does_not_grow_with_save_points():
    def gradient_case(n):
        solve, args = stiff_oscillator_outputs(Kvaerno5(), n)
        return jax.grad(lambda y0, ts: jnp.sum(solve(y0, ts))), args

    sizes = [
        measure_call(fn, *args).figures["ops_inlined"]
        for fn, args in map(gradient_case, (16, 64))
    ]
    assert sizes[0] == sizes[1], sizes


# ---------------------------------------------------------------------------------------------
# Gradients through the implicit solve
# ---------------------------------------------------------------------------------------------


def final_b(solver, b0, rate, adjoint=RecursiveCheckpointAdjoint()):
    """``y(1)['b']`` of the forced logistic problem with 10 constant steps."""
    return constant_step_solve(solver, 10, b0, rate, adjoint).ys["b"][-1]


def test_gradient_matches_finite_differences():
    solver = Kvaerno5(root_finder=TIGHT)
    b0, rate = jnp.asarray(0.1), jnp.asarray(2.0)
    grad = jax.grad(final_b, argnums=(1, 2))(solver, b0, rate)
    eps = 1e-6
    fd_b0 = (final_b(solver, b0 + eps, rate) - final_b(solver, b0 - eps, rate)) / (2 * eps)
    fd_rate = (final_b(solver, b0, rate + eps) - final_b(solver, b0, rate - eps)) / (2 * eps)
    np.testing.assert_allclose(grad, (fd_b0, fd_rate), rtol=1e-7)
    # Forward mode agrees with reverse mode.
    _, tangent = jax.jvp(
        lambda r: final_b(solver, b0, r, ForwardMode()), (rate,), (jnp.asarray(1.0),)
    )
    np.testing.assert_allclose(tangent, grad[1], rtol=1e-12)
    # And the solution itself is close to the exact one, so the gradient is of a real solve:
    # d b(1) / d b0 of the logistic equation is e^{r} / (1 + b0 (e^r - 1))^2.
    exact = np.exp(2.0) / (1 + 0.1 * (np.exp(2.0) - 1)) ** 2
    np.testing.assert_allclose(grad[0], exact, rtol=1e-5)


def test_backsolve_adjoint_gradient_matches_finite_differences():
    # The continuous adjoint solves the adjoint ODE backwards with Kvaerno5 as well (the
    # Jacobian of an augmented vector field that contains a vjp); it agrees with finite
    # differences of the adaptive forward solve to the solve's tolerance.
    def field(t, y, k):
        return -k * y**3 + jnp.sin(t)

    def loss(k, adjoint):
        solution = diffeqsolve(
            ODETerm(field), Kvaerno5(), 0.0, 2.0, None, jnp.array([1.0, 2.0]), k,
            stepsize_controller=PIDController(rtol=1e-9, atol=1e-9), adjoint=adjoint,
        )  # fmt: skip
        return jnp.sum(solution.ys)

    k, eps = jnp.asarray(1.5), 1e-6
    backsolve = jax.grad(loss)(k, BacksolveAdjoint())
    forward = RecursiveCheckpointAdjoint()
    finite_difference = (loss(k + eps, forward) - loss(k - eps, forward)) / (2 * eps)
    np.testing.assert_allclose(backsolve, finite_difference, rtol=1e-6)
