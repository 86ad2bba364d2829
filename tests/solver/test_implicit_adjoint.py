"""ImplicitAdjoint: gradients of a steady state by the implicit function theorem, against the
closed form, finite differences, forward mode, and a Lineax linear solver."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jaxlint.solver import (
    Event,
    ImplicitAdjoint,
    ODETerm,
    PIDController,
    SaveAt,
    Tsit5,
    diffeqsolve,
    steady_state_event,
)


def _steady(vector_field, y0, args, adjoint=ImplicitAdjoint(), saveat=SaveAt(t1=True)):
    return diffeqsolve(
        ODETerm(vector_field), Tsit5(), 0.0, jnp.inf, None, y0, args,
        saveat=saveat, stepsize_controller=PIDController(rtol=1e-10, atol=1e-10),
        event=Event(steady_state_event(rtol=1e-10, atol=1e-10)), adjoint=adjoint,
        max_steps=None,
    )  # fmt: skip


def _decay(t, y, args):
    source, rate = args
    return source - rate * y


def test_linear_decay_gradients_match_the_closed_form():
    # y* = source / rate: d/dsource = 1/rate, d/drate = -source/rate**2, d/dy0 = 0.
    def final(y0, args):
        return _steady(_decay, y0, args).ys[0]

    args = (jnp.array(1.5), jnp.array(0.6))
    assert jnp.isclose(final(3.0, args), 1.5 / 0.6, rtol=1e-8)
    g_y0, (g_source, g_rate) = jax.grad(final, argnums=(0, 1))(3.0, args)
    assert g_y0 == 0.0
    np.testing.assert_allclose(g_source, 1 / 0.6, rtol=1e-8)
    np.testing.assert_allclose(g_rate, -1.5 / 0.6**2, rtol=1e-8)
    # Forward mode gives the same derivative.
    _, tangent = jax.jvp(lambda s: final(3.0, (s, args[1])), (args[0],), (jnp.array(1.0),))
    np.testing.assert_allclose(tangent, 1 / 0.6, rtol=1e-8)


def _coupled(t, y, args):
    matrix, shift = args["matrix"], args["shift"]
    return {"u": -y["u"] + jnp.tanh(matrix @ y["u"] + shift) + 0.1 * y["v"], "v": shift - y["v"]}


def test_nonlinear_pytree_state_matches_finite_differences():
    args = {"matrix": jnp.array([[0.5, -0.3], [0.2, 0.4]]), "shift": jnp.array([0.3, -0.2])}
    y0 = {"u": jnp.zeros(2), "v": jnp.ones(2)}

    def loss(args):
        ys = _steady(_coupled, y0, args).ys
        return jnp.sum(ys["u"] ** 2) + jnp.sum(jnp.sin(ys["v"]))

    grads = jax.grad(loss)(args)
    eps = 1e-6
    for name in ("matrix", "shift"):
        flat = args[name].ravel()
        for i in range(flat.size):
            bump = jnp.zeros_like(flat).at[i].set(eps).reshape(args[name].shape)
            up = loss({**args, name: args[name] + bump})
            down = loss({**args, name: args[name] - bump})
            np.testing.assert_allclose(grads[name].ravel()[i], (up - down) / (2 * eps), rtol=1e-5)


def test_lineax_linear_solver_gives_the_same_gradient():
    lx = pytest.importorskip("lineax")
    args = (jnp.array(1.5), jnp.array(0.6))

    def final(args, adjoint):
        return _steady(_decay, 3.0, args, adjoint=adjoint).ys[0]

    dense = jax.grad(final)(args, ImplicitAdjoint())
    lu = jax.grad(final)(args, ImplicitAdjoint(linear_solver=lx.LU()))
    np.testing.assert_allclose(dense, lu, rtol=1e-12)


def test_only_the_final_state_can_be_differentiated():
    with pytest.raises(ValueError, match="ImplicitAdjoint.*SaveAt\\(t1=True\\)"):
        _steady(_decay, 3.0, (1.0, 0.5), saveat=SaveAt(t0=True, t1=True))
