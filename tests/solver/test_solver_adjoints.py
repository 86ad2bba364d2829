"""Gradients: every adjoint against finite differences and against `DirectAdjoint`."""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxlint.solver as jaxlint_solver
from jaxlint.solver import (
    BacksolveAdjoint,
    DirectAdjoint,
    Euler,
    Event,
    ForwardMode,
    NewtonBisection,
    ODETerm,
    PIDController,
    RecursiveCheckpointAdjoint,
    SaveAt,
    Tsit5,
    diffeqsolve,
)

# NumPy (float64) at import: jnp arrays made here would be float32, outside the x64 fixture.
TS = np.linspace(0.0, 2.0, 6)


def field(t, y, args):
    a, b = args
    return jnp.stack([-a * y[0] + jnp.sin(y[1]), b * jnp.cos(t) * y[0] - 0.3 * y[1]])


def loss(params, adjoint):
    args, y0 = params
    sol = diffeqsolve(
        ODETerm(field), Tsit5(), 0.0, 2.0, None, y0, args=args,
        saveat=SaveAt(t0=True, ts=TS, t1=True), adjoint=adjoint,
        stepsize_controller=PIDController(rtol=1e-10, atol=1e-12), max_steps=512,
    )  # fmt: skip
    return jnp.sum(sol.ys**2 * jnp.arange(1.0, 3.0))


PARAMS = ((np.float64(0.7), np.float64(1.3)), np.array([1.0, -0.5]))


def _flat(tree):
    return np.concatenate([np.ravel(x) for x in jax.tree_util.tree_leaves(tree)])


def _finite_differences(fn, params, eps=1e-6):
    leaves, treedef = jax.tree_util.tree_flatten(params)
    flat = np.concatenate([np.ravel(x) for x in leaves])
    sizes = [np.size(x) for x in leaves]
    shapes = [np.shape(x) for x in leaves]

    def unflatten(vector):
        parts, start = [], 0
        for size, shape in zip(sizes, shapes):
            parts.append(jnp.asarray(vector[start : start + size].reshape(shape)))
            start += size
        return jax.tree_util.tree_unflatten(treedef, parts)

    grads = []
    for i in range(flat.size):
        step = np.zeros_like(flat)
        step[i] = eps
        grads.append((float(fn(unflatten(flat + step))) - float(fn(unflatten(flat - step)))) / (2 * eps))
    return np.array(grads)


@pytest.fixture(scope="module")
def reference():
    direct = _flat(jax.jit(jax.grad(lambda p: loss(p, DirectAdjoint())))(PARAMS))
    forward_loss = jax.jit(lambda p: loss(p, ForwardMode()))
    return direct, _finite_differences(forward_loss, PARAMS)


def test_direct_adjoint_matches_finite_differences(reference):
    direct, finite = reference
    np.testing.assert_allclose(direct, finite, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize(
    "adjoint, rtol",
    [
        (RecursiveCheckpointAdjoint(checkpoints=3), 1e-10),  # few checkpoints: recomputation
        (BacksolveAdjoint(), 1e-6),  # a different discretisation: agrees to the tolerance
    ],
    ids=["recursive-3-checkpoints", "backsolve"],
)
def test_reverse_adjoints_match_direct_and_finite_differences(reference, adjoint, rtol):
    direct, finite = reference
    grads = _flat(jax.jit(jax.grad(lambda p: loss(p, adjoint)))(PARAMS))
    np.testing.assert_allclose(grads, direct, rtol=rtol, atol=1e-10)
    np.testing.assert_allclose(grads, finite, rtol=1e-6, atol=1e-8)


def test_forward_mode_jvp_matches_direct(reference):
    direct, _ = reference
    tangent = ((np.float64(1.0), np.float64(0.5)), np.array([-1.0, 2.0]))
    jvp = jax.jit(lambda p, v: jax.jvp(lambda q: loss(q, ForwardMode()), (p,), (v,))[1])
    np.testing.assert_allclose(float(jvp(PARAMS, tangent)), direct @ _flat(tangent), rtol=1e-9)


def test_backsolve_differentiates_closed_over_model_like_default_adjoint():
    y0 = jnp.array([0.5, -0.2])
    controller = PIDController(rtol=1e-9, atol=1e-9)

    def model_loss(model, adjoint):
        # The model is closed over (not passed in args): Backsolve must find its parameters.
        term = ODETerm(lambda t, y, args: model(y))
        sol = diffeqsolve(term, Tsit5(), 0.0, 1.0, None, y0, stepsize_controller=controller,
                          adjoint=adjoint)  # fmt: skip
        return jnp.sum(sol.ys**2)

    mlp = eqx.nn.MLP(2, 2, width_size=8, depth=1, activation=jnp.tanh, key=jax.random.PRNGKey(0))
    grad = eqx.filter_jit(eqx.filter_grad(model_loss))
    backsolve = jax.tree_util.tree_leaves(grad(mlp, BacksolveAdjoint()))
    recursive = jax.tree_util.tree_leaves(grad(mlp, RecursiveCheckpointAdjoint()))
    assert len(backsolve) == len(recursive) == 4
    for b, r in zip(backsolve, recursive):
        np.testing.assert_allclose(b, r, rtol=1e-5, atol=1e-9)
        assert np.any(b != 0)


def test_gradient_under_vmap_and_through_event_time():
    def final(a):
        return diffeqsolve(ODETerm(lambda t, y, args: -args * y), Tsit5(), 0.0, 1.0, 0.05, 1.0, args=a).ys[0]

    rates = jnp.array([0.5, 1.0, 2.0])
    grads = jax.jit(jax.vmap(jax.grad(final)))(rates)
    np.testing.assert_allclose(grads, -np.exp(-np.asarray(rates)), rtol=1e-6)

    def event_time(a):
        # y = exp(-a t) reaches 1/2 at t* = log(2) / a, so dt*/da = -log(2) / a^2.
        crossing = Event(lambda t, y, args, **kw: y - 0.5, root_finder=NewtonBisection(rtol=1e-12, atol=1e-12))
        sol = diffeqsolve(ODETerm(lambda t, y, args: -args * y), Tsit5(), 0.0, 5.0, None, 1.0, args=a,
                          stepsize_controller=PIDController(rtol=1e-10, atol=1e-12), event=crossing)
        return sol.event_time

    np.testing.assert_allclose(jax.jit(jax.grad(event_time))(2.0), -np.log(2.0) / 4.0, rtol=1e-7)


class _Field(eqx.Module):
    x: jax.Array
    y: jax.Array


def _residual_table_loss(solver_module, solver, adjoint):
    """examples/adjoint_memory.py's problem: 500 constant steps on [0, 5], ``max_steps=500``.
    Its backward solve runs from 5 down to 0 and must also fit in 500 steps."""

    def field_2d(t, state, args):
        return _Field(jnp.cos(state.y) * t**2, jnp.sin(state.x) * t**2)

    def loss(y0):
        sol = solver_module.diffeqsolve(
            solver_module.ODETerm(field_2d), solver, 0.0, 5.0, 0.01, y0,
            adjoint=adjoint, max_steps=500,
        )  # fmt: skip
        return sol.ys.x[0] + sol.ys.y[0]

    return loss


Y0_2D = _Field(np.float64(1.0), np.float64(0.5))


def test_backsolve_constant_steps_fit_in_max_steps_and_match_recursive_checkpoint():
    # Tsit5: both adjoints are accurate discretisations of the same gradient.
    backsolve = _residual_table_loss(jaxlint_solver, Tsit5(), BacksolveAdjoint())
    exact = _residual_table_loss(jaxlint_solver, Tsit5(), RecursiveCheckpointAdjoint())
    backsolve, exact = jax.jit(jax.grad(backsolve)), jax.jit(jax.grad(exact))
    np.testing.assert_allclose(_flat(backsolve(Y0_2D)), _flat(exact(Y0_2D)), rtol=1e-6)


def test_backsolve_euler_500_steps_matches_diffrax_backsolve():
    # With Euler at dt = 0.01 (the field scales with t^2, up to 25) the discrete gradient and the
    # backsolved continuous adjoint are both far from the true gradient (-13.44, 15.11) and from
    # each other, so the reference is the same backward discretisation in diffrax 0.7.2.
    diffrax = pytest.importorskip("diffrax")
    ours = jax.jit(jax.grad(_residual_table_loss(jaxlint_solver, Euler(), BacksolveAdjoint())))
    theirs = jax.jit(
        jax.grad(_residual_table_loss(diffrax, diffrax.Euler(), diffrax.BacksolveAdjoint()))
    )
    np.testing.assert_allclose(_flat(ours(Y0_2D)), _flat(theirs(Y0_2D)), rtol=1e-10)
