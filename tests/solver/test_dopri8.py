"""`Dopri8` is Prince & Dormand's 8(7) pair (diffrax's Dopri8); `DOP853` is Hairer's method.

- The tableau satisfies every order condition of order <= 8 (200 rooted trees), its embedded
  solution those of order <= 7 and not 8: the claimed orders are the true ones.
- The derived dense output satisfies the continuous conditions of order 5 and its end
  conditions (value y1, slopes at both ends).
- Measured: global order 8 with constant steps on a nonlinear problem; the dense output's
  local error shrinks like h^6.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxlint.solver as js
from jaxlint.solver._dopri8 import DOPRI8_TABLEAU, Dopri8Interpolation
from jaxlint.solver._order_conditions import (
    elementary_weights,
    order_residual,
    rooted_trees,
    tree_density,
)

A, B = DOPRI8_TABLEAU.a, DOPRI8_TABLEAU.b
B_HAT = B - DOPRI8_TABLEAU.b_error


def test_tree_counts():
    assert [len(rooted_trees(n)) for n in range(1, 9)] == [1, 1, 2, 4, 9, 20, 48, 115]


def test_eighth_order_solution_and_seventh_order_embedding():
    for order in range(1, 9):
        assert order_residual(B, A, order) < 1e-14, order
        if order < 8:
            assert order_residual(B_HAT, A, order) < 1e-14, order
    assert order_residual(B_HAT, A, 8) > 1e-5  # exactly seventh order
    assert order_residual(B, A, 9) > 1e-6  # exactly eighth order
    np.testing.assert_allclose(A.sum(axis=1), DOPRI8_TABLEAU.c, atol=1e-15)


def test_first_same_as_last_stage():
    assert DOPRI8_TABLEAU.fsal_stage == 13 and DOPRI8_TABLEAU.num_stages == 14
    assert B[13] == 0 and B_HAT[13] == 0


def test_dense_output_conditions():
    weights = Dopri8Interpolation.weights  # (stages, degree): b_i(s) = sum_j W_ij s^(j+1)
    degree = weights.shape[1]
    powers = np.arange(1, degree + 1)
    np.testing.assert_allclose(weights.sum(axis=1), B, atol=1e-12)  # y(t1) = y1
    np.testing.assert_allclose(weights @ powers, np.eye(14)[13], atol=1e-11)  # slope at t1
    np.testing.assert_allclose(weights[:, 0], np.eye(14)[0], atol=1e-12)  # slope at t0
    for s in (0.25, 0.5, 0.8):
        b_s = weights @ s**powers
        for order in range(1, 6):
            for tree in rooted_trees(order):
                value = b_s @ elementary_weights(tree, A)
                assert abs(value - s**order / tree_density(tree)) < 1e-12, (s, tree)
    assert np.abs(weights).max() < 200  # no cancellation-prone coefficients


def _lorenz(t, y, args):
    x, v, z = y[0], y[1], y[2]
    return jnp.stack([10 * (v - x), x * (28 - z) - v, x * v - 8 / 3 * z])


Y0 = np.array([1.0, 1.0, 1.0])  # float64 (jnp arrays made at import would be float32)


def _reference(t1):
    return js.diffeqsolve(
        js.ODETerm(_lorenz), js.DOP853(), 0.0, t1, None, Y0, max_steps=100_000,
        stepsize_controller=js.PIDController(rtol=1e-13, atol=1e-13),
    ).ys[-1]  # fmt: skip


def test_global_convergence_order_is_eight():
    t1 = 0.5
    exact = np.asarray(_reference(t1))
    steps = np.array([20, 40, 80])
    errors = []
    for n in steps:
        sol = js.diffeqsolve(js.ODETerm(_lorenz), js.Dopri8(), 0.0, t1, t1 / n, Y0)
        errors.append(np.abs(np.asarray(sol.ys[-1]) - exact).max())
    fitted = -np.polyfit(np.log(steps), np.log(errors), 1)[0]
    assert abs(fitted - 8) < 0.4, (fitted, errors)


def test_dense_output_local_order_is_six():
    # One step from (0, Y0) of length h; the interpolant's error at s = 0.4 against a tight
    # reference shrinks like h^6 (continuous order 5).
    errors = []
    hs = np.array([0.02, 0.01, 0.005])
    for h in hs:
        sol = js.diffeqsolve(
            js.ODETerm(_lorenz), js.Dopri8(), 0.0, h, h, Y0,
            saveat=js.SaveAt(ts=jnp.array([0.4 * h])),
        )
        errors.append(np.abs(np.asarray(sol.ys[0]) - np.asarray(_reference(0.4 * h))).max())
    fitted = np.polyfit(np.log(hs), np.log(errors), 1)[0]
    assert abs(fitted - 6) < 0.5, (fitted, errors)


def test_dopri8_and_dop853_are_different_methods_of_order_eight():
    sol8 = js.diffeqsolve(js.ODETerm(_lorenz), js.Dopri8(), 0.0, 0.5, 0.05, Y0)
    sol853 = js.diffeqsolve(js.ODETerm(_lorenz), js.DOP853(), 0.0, 0.5, 0.05, Y0)
    exact = np.asarray(_reference(0.5))
    assert sol8.ys[-1].tolist() != sol853.ys[-1].tolist()
    for sol in (sol8, sol853):
        np.testing.assert_allclose(sol.ys[-1], exact, rtol=1e-4)
    assert js.Dopri8().order(None) == js.DOP853().order(None) == 8


@pytest.mark.parametrize("solver", [js.Dopri8(), js.DOP853()], ids=lambda s: type(s).__name__)
def test_adaptive_solve_meets_tolerance_at_step_ends(solver):
    sol = js.diffeqsolve(
        js.ODETerm(_lorenz), solver, 0.0, 0.5, None, Y0,
        stepsize_controller=js.PIDController(rtol=1e-10, atol=1e-10),
    )  # fmt: skip
    np.testing.assert_allclose(sol.ys[-1], _reference(0.5), rtol=1e-7)
