"""Global interpolation (LinearInterpolation, CubicInterpolation) and the functions that
prepare data with gaps for them: hand-computed values, C1 continuity, agreement with diffrax."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jaxlint.solver import (
    CubicInterpolation,
    LinearInterpolation,
    backward_hermite_coefficients,
    linear_interpolation,
    rectilinear_interpolation,
)

NAN = np.nan
TS = jnp.array([0.0, 1.0, 2.0, 4.0, 5.0, 7.0])
YS_GAPPY = jnp.array([NAN, 1.0, NAN, 5.0, NAN, NAN])


def test_linear_interpolation_fills_gaps_on_the_line_between_known_values():
    filled = linear_interpolation(TS, YS_GAPPY)
    # index 2 (t=2) lies between (1, 1) and (4, 5): 1 + 4 * (1 / 3); the ends stay NaN.
    np.testing.assert_allclose(filled, [NAN, 1.0, 1 + 4 / 3, 5.0, NAN, NAN])
    forward = linear_interpolation(TS, YS_GAPPY, fill_forward_nans_at_end=True)
    np.testing.assert_allclose(forward, [NAN, 1.0, 1 + 4 / 3, 5.0, 5.0, 5.0])
    started = linear_interpolation(TS, (YS_GAPPY,), replace_nans_at_start=(-1.0,))
    np.testing.assert_allclose(started[0], [-1.0, 1.0, 1 + 4 / 3, 5.0, NAN, NAN])


def test_linear_interpolation_treats_channels_separately():
    ys = jnp.stack([YS_GAPPY, jnp.array([0.0, NAN, NAN, 3.0, 4.0, NAN])], axis=1)
    filled = linear_interpolation(TS, ys)
    np.testing.assert_allclose(filled[:, 1], [0.0, 0.75, 1.5, 3.0, 4.0, NAN])
    np.testing.assert_allclose(filled[:, 0], linear_interpolation(TS, YS_GAPPY))


def test_rectilinear_interpolation_holds_the_last_known_value():
    new_ts, new_ys = rectilinear_interpolation(TS[:4], YS_GAPPY[:4], replace_nans_at_start=0.5)
    np.testing.assert_array_equal(new_ts, [0, 1, 1, 2, 2, 4, 4])
    np.testing.assert_allclose(new_ys, [0.5, 0.5, 1.0, 1.0, 1.0, 1.0, 5.0])


def test_linear_interpolation_class_values_slopes_and_left_right_at_knots():
    ys = {"a": jnp.array([0.0, 2.0, 2.0, 8.0]), "b": jnp.array([[1.0], [0.0], [1.0], [0.0]])}
    path = LinearInterpolation(ts=TS[:4], ys=ys)
    assert path.t0 == 0.0 and path.t1 == 4.0
    np.testing.assert_allclose(path.evaluate(3.0)["a"], 5.0)
    np.testing.assert_allclose(path.evaluate(0.5, 3.0)["a"], 5.0 - 1.0)  # increment
    # At the knot t=1 the slope is 2 from the left and 0 from the right.
    assert path.derivative(1.0)["a"] == 2.0
    assert path.derivative(1.0, left=False)["a"] == 0.0
    np.testing.assert_allclose(path.derivative(3.0)["b"], [-0.5])
    values = jax.vmap(path.evaluate)(TS[:4])
    np.testing.assert_allclose(values["a"], ys["a"])


def test_cubic_hermite_spline_is_c1_and_hits_the_data():
    ts = jnp.array([0.0, 0.5, 1.5, 2.0, 3.5])
    ys = jnp.sin(ts)
    path = CubicInterpolation(ts, backward_hermite_coefficients(ts, ys))
    np.testing.assert_allclose(jax.vmap(path.evaluate)(ts), ys, rtol=1e-12)
    for knot in ts[1:-1]:
        left, right = path.derivative(knot), path.derivative(knot, left=True)
        right = path.derivative(knot, left=False)
        np.testing.assert_allclose(left, right, rtol=1e-12)
    # The slope at an interior knot is the backward difference into it.
    np.testing.assert_allclose(path.derivative(ts[2], left=False), (ys[2] - ys[1]) / 1.0)
    # The derivative is the derivative of `evaluate`.
    t = jnp.asarray(1.1)
    np.testing.assert_allclose(jax.grad(path.evaluate)(t), path.derivative(t), rtol=1e-12)


def test_cubic_hermite_with_deriv0_first_piece_by_hand():
    # Piece [0, 1] from y=1 with slope 2 to y=2 (secant 1): excess e = -1, c = -2, d = 1.
    ts, ys = jnp.array([0.0, 1.0, 3.0]), jnp.array([1.0, 2.0, 0.0])
    d, c, b, a = backward_hermite_coefficients(ts, ys, deriv0=2.0)
    np.testing.assert_allclose([d[0], c[0], b[0], a[0]], [1.0, -2.0, 2.0, 1.0])
    # Piece [1, 3]: slope 1 (backward), secant -1, e = -2, c = 2e/2 = -2, d = 2/4.
    np.testing.assert_allclose([d[1], c[1], b[1], a[1]], [0.5, -2.0, 1.0, 2.0])


def test_cubic_hermite_bridges_gaps_and_is_exact_on_linear_data():
    ts = jnp.linspace(0.0, 9.0, 10)
    ys = (2 * ts - 1).at[jnp.array([0, 3, 4, 8, 9])].set(NAN)
    path = CubicInterpolation(ts, backward_hermite_coefficients(ts, ys))
    inside = jnp.linspace(1.0, 6.75, 24)
    # From the right at t=1: the piece left of the first known value is NaN (as is the piece
    # right of the last known value, t=7, with nothing known after it).
    right = jax.vmap(lambda t: path.evaluate(t, left=False))(inside)
    np.testing.assert_allclose(right, 2 * inside - 1, rtol=1e-12)
    slopes = jax.vmap(lambda t: path.derivative(t, left=False))(inside)
    np.testing.assert_allclose(slopes, 2.0, rtol=1e-12)
    assert jnp.isnan(path.evaluate(1.0))
    assert jnp.isnan(path.evaluate(0.5)) and jnp.isnan(path.evaluate(8.5))
    ended = CubicInterpolation(
        ts, backward_hermite_coefficients(ts, ys, fill_forward_nans_at_end=True)
    )
    np.testing.assert_allclose(ended.evaluate(9.0), 13.0)  # last known value, y(7) = 13


def test_agrees_with_diffrax_on_gappy_multichannel_data():
    diffrax = pytest.importorskip("diffrax")
    ts = jnp.array([0.0, 0.3, 1.0, 1.2, 2.0, 2.5, 4.0, 4.1])
    base = jnp.cos(3 * ts)[:, None] * jnp.array([1.0, -2.0])
    ys = base.at[1, 0].set(NAN).at[4:6, 1].set(NAN).at[7, 0].set(NAN).at[0, 1].set(NAN)
    for kwargs in ({}, {"fill_forward_nans_at_end": True}, {"deriv0": jnp.array([0.1, 0.2])}):
        ours = backward_hermite_coefficients(ts, ys, **kwargs)
        theirs = diffrax.backward_hermite_coefficients(ts, ys, **kwargs)
        for x, y in zip(ours, theirs):
            np.testing.assert_allclose(x, y, rtol=1e-12, atol=1e-12)
    for kwargs in ({}, {"fill_forward_nans_at_end": True}, {"replace_nans_at_start": 3.0}):
        np.testing.assert_allclose(
            linear_interpolation(ts, ys, **kwargs),
            diffrax.linear_interpolation(ts, ys, **kwargs),
            rtol=1e-12,
        )
    for ours, theirs in zip(
        rectilinear_interpolation(ts, ys), diffrax.rectilinear_interpolation(ts, ys)
    ):
        np.testing.assert_allclose(ours, theirs)


def test_gradients_through_gaps_are_finite_and_match_finite_differences():
    ts = jnp.linspace(0.0, 3.0, 7)

    def loss(scale):
        ys = (scale * jnp.sin(ts)).at[2].set(NAN)
        path = CubicInterpolation(ts, backward_hermite_coefficients(ts, ys))
        return jnp.sum(jax.vmap(path.evaluate)(jnp.linspace(0.2, 2.9, 11)) ** 2)

    grad = jax.grad(loss)(1.3)
    eps = 1e-6
    assert jnp.isfinite(grad)
    np.testing.assert_allclose(grad, (loss(1.3 + eps) - loss(1.3 - eps)) / (2 * eps), rtol=1e-6)


def test_bad_arguments():
    with pytest.raises(ValueError, match="LinearInterpolation.*leading axis"):
        LinearInterpolation(ts=TS, ys=jnp.zeros(3))
    with pytest.raises(ValueError, match="CubicInterpolation.*len\\(ts\\) - 1"):
        CubicInterpolation(TS, (jnp.zeros(6),) * 4)
    with pytest.raises(ValueError, match="linear_interpolation.*one-dimensional"):
        linear_interpolation(jnp.zeros((2, 2)), jnp.zeros(2))
    with pytest.raises(Exception, match="strictly increasing"):
        backward_hermite_coefficients(jnp.array([0.0, 2.0, 1.0]), jnp.zeros(3))
