"""`SaveAt` / `Solution` / `RESULTS` with diffrax 0.7's structure and semantics."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxlint.solver import (
    RESULTS,
    BacksolveAdjoint,
    Euler,
    ODETerm,
    PIDController,
    SaveAt,
    StepTo,
    SubSaveAt,
    Tsit5,
    diffeqsolve,
)

GRID = jnp.array([0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0])


def _on_grid(saveat, grid=GRID, max_steps=10):
    return diffeqsolve(
        ODETerm(lambda t, y, args: -0.5 * y), Euler(), grid[0], grid[-1], None, jnp.array([1.0]),
        saveat=saveat, stepsize_controller=StepTo(grid), max_steps=max_steps,
    )  # fmt: skip


@pytest.mark.parametrize(
    "saveat, grid, expected",
    [
        (SaveAt(steps=2), GRID, [2.0, 4.0, 6.0]),
        (SaveAt(steps=2, t1=True), GRID, [2.0, 4.0, 6.0, 7.0]),
        (SaveAt(steps=2, t1=True), GRID[:-1], [2.0, 4.0, 6.0]),  # t1 is the 6th step: once
        (SaveAt(steps=3, t0=True, t1=True), GRID, [0.0, 3.0, 6.0, 7.0]),
        (SaveAt(steps=True, t1=True), GRID[:4], [1.0, 2.0, 3.0]),
    ],
)
def test_every_nth_step_is_saved_and_t1_only_once(saveat, grid, expected):
    # `steps=2` used to mean every step (`steps=n` was taken as a bool).
    ts = np.asarray(_on_grid(saveat, grid).ts)
    np.testing.assert_allclose(ts[np.isfinite(ts)], expected)


def test_buffer_lengths_follow_diffrax():
    # t0 + len(ts) + max_steps // n, + 1 for t1 unless n divides max_steps.
    assert _on_grid(SaveAt(steps=2)).ts.shape == (5,)
    assert _on_grid(SaveAt(steps=3, t1=True)).ts.shape == (4,)
    assert _on_grid(SaveAt(steps=2, t1=True)).ts.shape == (5,)
    assert _on_grid(SaveAt(t0=True, ts=jnp.array([0.5, 1.5]), t1=True)).ts.shape == (4,)


def test_ts_and_steps_in_one_group_are_saved_in_time_order():
    sol = _on_grid(SaveAt(ts=jnp.array([0.5, 2.0, 2.5]), steps=True), GRID[:4], max_steps=4)
    np.testing.assert_allclose(sol.ts, [0.5, 1.0, 2.0, 2.0, 2.5, 3.0, np.inf])
    # Euler on the grid: y(k) = 0.5**k, linear in between.
    np.testing.assert_allclose(sol.ys[:6, 0], [0.75, 0.5, 0.25, 0.25, 0.1875, 0.125])


def test_subs_is_any_pytree_and_the_solution_has_its_structure():
    subs = {"end": SubSaveAt(t1=True), "mid": [SubSaveAt(ts=jnp.array([0.5]), fn=lambda t, y, a: 2 * y)]}
    sol = diffeqsolve(
        ODETerm(lambda t, y, args: -y), Tsit5(), 0.0, 1.0, 0.01, 1.0, saveat=SaveAt(subs=subs)
    )
    assert jax.tree_util.tree_structure(sol.ts) == jax.tree_util.tree_structure({"end": 0, "mid": [0]})
    np.testing.assert_allclose(sol.ys["end"], [np.exp(-1.0)], rtol=1e-8)
    np.testing.assert_allclose(sol.ys["mid"][0], [2 * np.exp(-0.5)], rtol=1e-8)
    single = diffeqsolve(ODETerm(lambda t, y, args: -y), Tsit5(), 0.0, 1.0, 0.01, 1.0)
    assert single.ts.shape == (1,)
    dense = diffeqsolve(
        ODETerm(lambda t, y, args: -y), Tsit5(), 0.0, 1.0, 0.01, 1.0, saveat=SaveAt(dense=True)
    )
    assert dense.ts is None and dense.ys is None


def test_final_states_on_request_and_continuing_from_them():
    term, solver = ODETerm(lambda t, y, args: -y), Tsit5()
    controller = PIDController(rtol=1e-8, atol=1e-8)
    plain = diffeqsolve(term, solver, 0.0, 1.0, None, 1.0, stepsize_controller=controller)
    assert plain.solver_state is None and plain.controller_state is None and plain.made_jump is None
    first = diffeqsolve(
        term, solver, 0.0, 0.5, None, 1.0, stepsize_controller=controller,
        saveat=SaveAt(t1=True, solver_state=True, controller_state=True, made_jump=True),
    )  # fmt: skip
    assert first.solver_state is not None and first.controller_state is not None
    assert not bool(first.made_jump)
    second = diffeqsolve(
        term, solver, 0.5, 1.0, None, first.ys[0], stepsize_controller=controller,
        solver_state=first.solver_state, controller_state=first.controller_state,
        made_jump=first.made_jump,
    )  # fmt: skip
    np.testing.assert_allclose(second.ys[0], np.exp(-1.0), rtol=1e-7)


def test_results_is_an_enumeration():
    assert len(RESULTS) > 5
    assert isinstance(RESULTS[RESULTS.max_steps_reached], str)
    assert RESULTS[RESULTS.max_steps_reached].startswith("The maximum number of solver steps")
    assert RESULTS.successful._value == 0
    assert RESULTS.nonlinear_divergence == RESULTS.implicit_nonconvergence
    assert RESULTS[RESULTS.nonlinear_divergence].startswith("Nonlinear solve diverged")
    assert len({int(code) for code in RESULTS}) == len(RESULTS)
    sol = diffeqsolve(
        ODETerm(lambda t, y, args: -y), Euler(), 0.0, 1.0, 0.01, 1.0, max_steps=5, throw=False
    )
    assert RESULTS[sol.result] == RESULTS[RESULTS.max_steps_reached]


@pytest.mark.parametrize(
    "saveat",
    [SaveAt(steps=True), SaveAt(dense=True), SaveAt(ts=[0.5], fn=lambda t, y, a: y),
     SaveAt(subs=[SubSaveAt(t1=True), SubSaveAt(t0=True)])],
)  # fmt: skip
def test_backsolve_rejects_what_it_cannot_do_with_not_implemented_error(saveat):
    with pytest.raises(NotImplementedError, match="`BacksolveAdjoint`"):
        diffeqsolve(
            ODETerm(lambda t, y, args: -y), Tsit5(), 0.0, 1.0, 0.1, 1.0, saveat=saveat,
            adjoint=BacksolveAdjoint(),
        )  # fmt: skip
