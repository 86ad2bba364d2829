"""adjoint_rms_seminorm: the backward solve's error norm without the parameter adjoints."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jaxlint.solver import (
    BacksolveAdjoint,
    ODETerm,
    PIDController,
    RecursiveCheckpointAdjoint,
    SaveAt,
    Tsit5,
    adjoint_rms_seminorm,
    diffeqsolve,
    rms_norm,
)


def test_ignores_everything_after_y_and_its_adjoint():
    y, a_y = jnp.array([3.0, 4.0]), jnp.array([0.0, 0.0])
    big = {"w": jnp.full((5,), 1e6)}
    assert adjoint_rms_seminorm((y, a_y, big)) == rms_norm((y, a_y)) == 2.5
    assert adjoint_rms_seminorm((y, a_y, big, big)) == 2.5  # diffrax's 4-tuple layout
    with pytest.raises(ValueError, match="adjoint_rms_seminorm.*tuple"):
        adjoint_rms_seminorm(y)


def test_a_pure_quadrature_component_no_longer_limits_the_step():
    # (y, a, q): q' = sin(40 t) y never feeds back, like a parameter adjoint. Under the full
    # RMS norm its error sets the step; under the seminorm only y and a do.
    term = ODETerm(lambda t, s, args: (-s[0], s[1], jnp.sin(40 * t) * s[0]))
    state = (jnp.array(1.0), jnp.array(1.0), jnp.array(0.0))

    def steps(norm):
        controller = PIDController(rtol=1e-6, atol=1e-8, norm=norm)
        sol = diffeqsolve(term, Tsit5(), 0.0, 2.0, None, state, stepsize_controller=controller)
        return int(sol.stats["num_accepted_steps"])

    assert steps(adjoint_rms_seminorm) * 3 < steps(rms_norm)


def test_backsolve_gradient_with_the_seminorm_matches_the_exact_one():
    theta = {"rate": jnp.array(0.7), "weights": jnp.linspace(0.5, 1.5, 8)}
    ts = jnp.linspace(0.0, 1.0, 6)

    def loss(theta, adjoint):
        f = lambda t, y, p: -p["rate"] * y + 0.1 * jnp.sin(p["weights"] * t)
        sol = diffeqsolve(
            ODETerm(f), Tsit5(), 0.0, 1.0, None, jnp.ones(8), theta, saveat=SaveAt(ts=ts),
            stepsize_controller=PIDController(rtol=1e-8, atol=1e-8), adjoint=adjoint,
        )  # fmt: skip
        return jnp.sum(sol.ys**2)

    seminorm = BacksolveAdjoint(
        stepsize_controller=PIDController(rtol=1e-8, atol=1e-8, norm=adjoint_rms_seminorm)
    )
    exact = jax.grad(loss)(theta, RecursiveCheckpointAdjoint())
    backsolve = jax.grad(loss)(theta, seminorm)
    for name in theta:
        np.testing.assert_allclose(backsolve[name], exact[name], rtol=1e-6, atol=1e-9)
