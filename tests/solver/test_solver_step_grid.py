"""Constant steps land on the end of the interval: no sliver step, whatever the direction.

A running sum ``t + dt`` drifts by up to half an ulp per step (335 ulp after 4096 steps of
0.001), and an end snap measured in ulps of ``t1`` is empty when ``t1 = 0``: either made
a solve of exactly ``max_steps`` steps take one tiny step more and fail with "maximum number
of solver steps".
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxlint.solver import Euler, ODETerm, RESULTS, SaveAt, diffeqsolve


def decay(t, y, args):
    return -y


@pytest.mark.parametrize(
    "t0, t1, dt0, steps",
    [
        (0.0, 4.096, 0.001, 4096),  # a running sum ends 335 ulp short of t1
        (-5.0, 0.0, 0.01, 500),  # ends at 0: an ulp of t1 is subnormal
        (5.0, 0.0, -0.01, 500),  # reverse time, the shape of every backward adjoint solve
        (0.0, 1000.0, 0.1, 10_000),
    ],
)
def test_constant_steps_end_on_t1_in_exactly_the_expected_number_of_steps(t0, t1, dt0, steps):
    sol = diffeqsolve(
        ODETerm(decay), Euler(), t0, t1, dt0, jnp.array(1.0),
        saveat=SaveAt(steps=True), max_steps=steps,
    )  # fmt: skip
    assert int(sol.result) == RESULTS.successful
    assert int(sol.stats["num_steps"]) == steps
    # The step ends are the grid t0 + k dt0 to an ulp (one rounding, or one fused
    # multiply-add), not a drifting running sum; the last one is exactly t1.
    grid = np.float64(t0) + np.arange(1, steps + 1) * np.float64(dt0)
    ulp = np.spacing(max(abs(t0), abs(t1)))
    np.testing.assert_allclose(np.asarray(sol.ts)[:-1], grid[:-1], rtol=0, atol=ulp)
    assert float(sol.ts[-1]) == t1


def test_a_first_step_a_few_ulp_short_of_t1_is_snapped_onto_it():
    # 0.7 + 0.1 rounds to 0.7999999999999999: one step, not one step and a sliver.
    sol = diffeqsolve(ODETerm(decay), Euler(), 0.7, 0.8, 0.1, jnp.array(1.0), max_steps=1)
    assert int(sol.stats["num_steps"]) == 1
    np.testing.assert_allclose(float(sol.ys[0]), 0.9, rtol=1e-15)


def test_gradient_with_respect_to_the_end_time():
    # y(t1) = exp(-t1): dy/dt1 = -exp(-t1), up to Euler's O(dt) error. The end snap's
    # tolerance (a rounding scale, made with nextafter) must not be differentiated.
    def final(t1):
        return diffeqsolve(ODETerm(decay), Euler(), 0.0, t1, 0.001, jnp.array(1.0)).ys[0]

    slope = jax.jit(jax.grad(final))(jnp.array(2.0))
    np.testing.assert_allclose(float(slope), -np.exp(-2.0), rtol=1e-3)
