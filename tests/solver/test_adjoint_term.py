"""AdjointTerm: the continuous adjoint system of a term, by hand and end to end."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxlint.solver import (
    AbstractTerm,
    AdjointTerm,
    ODETerm,
    RecursiveCheckpointAdjoint,
    Tsit5,
    diffeqsolve,
)


class _Decay(eqx.Module):
    weights: jax.Array

    def __call__(self, t, y, args):
        return -args * self.weights * y + jnp.sin(t)


def test_increments_by_hand_and_the_term_contract():
    # f = -k w y + sin t: dy = f dt, da_y = a_y k w dt, da_args(k) = sum(a_y w y) dt,
    # da_term(w) = a_y k y dt.
    term = AdjointTerm(ODETerm(_Decay(jnp.array([1.0, 2.0]))))
    y, a_y, k, t, dt = jnp.array([0.5, -1.0]), jnp.array([2.0, 3.0]), jnp.array(0.7), 0.3, 0.1
    state = (y, a_y, jnp.zeros(()), ODETerm(_Decay(jnp.zeros(2))))
    dy, da_y, da_k, da_term = term.vf_prod(t, state, k, dt)
    w = jnp.array([1.0, 2.0])
    np.testing.assert_allclose(dy, (-k * w * y + np.sin(t)) * dt, rtol=1e-14)
    np.testing.assert_allclose(da_y, a_y * k * w * dt, rtol=1e-14)
    np.testing.assert_allclose(da_k, jnp.sum(a_y * w * y) * dt, rtol=1e-14)
    np.testing.assert_allclose(da_term.vector_field.weights, a_y * k * y * dt, rtol=1e-14)
    via_vf = term.prod(term.vf(t, state, k), dt)
    for x, z in zip(jax.tree_util.tree_leaves(via_vf), jax.tree_util.tree_leaves((dy, da_y, da_k, da_term))):
        np.testing.assert_allclose(x, z, rtol=1e-14)


class _DictTerm(AbstractTerm):
    """A term with a dict control, as custom terms may have."""

    coeff: jax.Array

    def vf(self, t, y, args):
        return {"f": -self.coeff * y["y"] ** 2}

    def contr(self, t0, t1):
        return {"t": t1 - t0, "unused": jnp.zeros(3)}

    def prod(self, vf, control):
        return {"y": vf["f"] * control["t"]}


def test_pytree_controls_keep_prod_of_vf_equal_to_vf_prod():
    term = AdjointTerm(_DictTerm(jnp.array(0.4)))
    state = ({"y": jnp.array([1.0, 2.0])}, {"y": jnp.array([0.5, -0.5])}, None, None)
    control = {"t": jnp.array(0.2), "unused": jnp.array([1.0, 2.0, 3.0])}
    direct = term.vf_prod(0.0, state, None, control)
    via_vf = term.prod(term.vf(0.0, state, None), control)
    assert jax.tree_util.tree_structure(direct) == jax.tree_util.tree_structure(via_vf)
    for x, z in zip(jax.tree_util.tree_leaves(direct), jax.tree_util.tree_leaves(via_vf)):
        np.testing.assert_allclose(x, z, rtol=1e-14)


def test_solving_the_adjoint_system_backwards_gives_the_gradient():
    vector_field = _Decay(jnp.array([1.0, 2.0]))
    y0, k = jnp.array([1.0, -0.5]), jnp.array(0.7)

    def loss(vector_field, y0, k):
        sol = diffeqsolve(ODETerm(vector_field), Tsit5(), 0.0, 1.0, 0.01, y0, k,
                          adjoint=RecursiveCheckpointAdjoint())
        return jnp.sum(sol.ys[-1] ** 2), sol.ys[-1]

    (_, y1), grads = jax.value_and_grad(loss, argnums=(0, 1, 2), has_aux=True)(vector_field, y0, k)
    start = (y1, 2 * y1, jnp.zeros(()), ODETerm(_Decay(jnp.zeros(2))))
    back = diffeqsolve(AdjointTerm(ODETerm(vector_field)), Tsit5(), 1.0, 0.0, -0.01, start, k)
    _, a_y0, a_k, a_term = jax.tree_util.tree_map(lambda x: x[-1], back.ys)
    np.testing.assert_allclose(a_y0, grads[1], rtol=1e-9)
    np.testing.assert_allclose(a_k, grads[2], rtol=1e-9)
    np.testing.assert_allclose(a_term.vector_field.weights, grads[0].weights, rtol=1e-9)
