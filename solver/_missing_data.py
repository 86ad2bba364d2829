"""From observations with gaps to the data of a global interpolation.

Observations ``ys`` at times ``ts`` (leading axis of every leaf = ``len(ts)``) may miss values,
written NaN. Each channel (each element of a leaf after the time axis) is treated on its own:
a value is *known* where it is not NaN. Three functions prepare such data:

- `linear_interpolation`: fills each gap on the straight line between the known values either
  side, ``y_i = y_p + (y_n - y_p) (t_i - t_p) / (t_n - t_p)`` (``p`` the last known index
  before ``i``, ``n`` the first after). The result feeds `LinearInterpolation`.
- `rectilinear_interpolation`: holds the last known value, and doubles the knots so that time
  and data advance in turn, ``(t_0, y_0), (t_1, y_0), (t_1, y_1), (t_2, y_1), ...``: a path that
  at time ``t`` only uses data observed by ``t`` (online prediction; Morrill et al. 2021,
  "Neural CDEs for online prediction tasks", arXiv:2106.11028).
- `backward_hermite_coefficients`: the ``(d, c, b, a)`` of a C1 cubic spline for
  `CubicInterpolation`, "Hermite cubic splines with backward differences" (same paper).

Gaps before the first known value stay NaN unless ``replace_nans_at_start`` gives a value
(used as the observation at ``ts[0]`` when that one is missing); gaps after the last known
value stay NaN unless ``fill_forward_nans_at_end`` carries the last known value on.

All three are index arithmetic (``cummax`` / ``cummin`` of known positions and gathers), not
loops, so they trace to a fixed small program whatever ``len(ts)``.
"""

from __future__ import annotations

from collections.abc import Callable

import equinox as eqx
import jax
import jax.numpy as jnp
from jax import lax

from ._custom_types import Array, PyTree


def _checked_ts(ts: Array, who: str) -> Array:
    ts = jnp.asarray(ts)
    if ts.ndim != 1 or ts.shape[0] < 2:
        raise ValueError(f"`{who}`: `ts` must be one-dimensional with at least two times; got "
                         f"shape {ts.shape}.")
    # Value check at run time (ts may be traced); also rejects NaN times.
    return eqx.error_if(ts, ~jnp.all(ts[1:] > ts[:-1]), f"`{who}`: `ts` must be strictly increasing.")


def _as_inexact(y: Array) -> Array:
    y = jnp.asarray(y)
    return y if jnp.issubdtype(y.dtype, jnp.inexact) else y.astype(float)


def _with_start(ys: Array, start: Array | None) -> Array:
    """``ys`` with a missing first observation replaced by ``start`` (if given)."""
    if start is None:
        return ys
    start = jnp.broadcast_to(jnp.asarray(start, ys.dtype), ys.shape[1:])
    return ys.at[0].set(jnp.where(jnp.isnan(ys[0]), start, ys[0]))


class _Known(eqx.Module):
    """Per element of ``ys``: the last known index at or before it (``-1`` if none) and the
    first known index strictly after it (``T`` if none)."""

    prev: Array
    next: Array

    @classmethod
    def of(cls, ys: Array) -> _Known:
        size = ys.shape[0]
        position = lax.broadcasted_iota(jnp.int32, ys.shape, 0)
        known = ~jnp.isnan(ys)
        prev = lax.cummax(jnp.where(known, position, -1), axis=0)
        at_or_after = lax.cummin(jnp.where(known, position, size), axis=0, reverse=True)
        after = jnp.concatenate([at_or_after[1:], jnp.full_like(at_or_after[:1], size)])
        return cls(prev=prev, next=after)


def _take(x: Array, index: Array) -> Array:
    """``x`` gathered along time at an index per element (clipped; callers mask invalid ones)."""
    return jnp.take_along_axis(x, jnp.clip(index, 0, x.shape[0] - 1), axis=0)


def _times_like(ts: Array, ys: Array) -> Array:
    return jnp.broadcast_to(ts.reshape((-1,) + (1,) * (ys.ndim - 1)), ys.shape)


def _nonzero(x: Array) -> Array:
    # Masked-out entries may divide by zero; keep them finite so gradients stay finite too.
    return jnp.where(x == 0, 1, x)


def _per_leaf(fn: Callable[..., PyTree], ys: PyTree, *optional: PyTree | None) -> list[PyTree]:
    """``fn(leaf, *optional_leaves)`` for every leaf of ``ys``; an optional argument is None or
    a PyTree with the structure of ``ys`` (its leaves broadcast against the channels)."""
    leaves, treedef = jax.tree_util.tree_flatten(ys)
    columns = [
        [None] * len(leaves) if arg is None else treedef.flatten_up_to(arg) for arg in optional
    ]
    return [fn(leaf, *extra) for leaf, *extra in zip(leaves, *columns)]


def linear_interpolation(
    ts: Array,
    ys: PyTree,
    *,
    fill_forward_nans_at_end: bool = False,
    replace_nans_at_start: PyTree | None = None,
) -> PyTree:
    """``ys`` with every NaN replaced by linear interpolation between the known values either
    side (see the module docstring for the ends). Same structure and shapes as ``ys``."""
    ts = _checked_ts(ts, "linear_interpolation")

    def leaf(y: Array, start: Array | None) -> Array:
        y = _with_start(_as_inexact(y), start)
        times = _times_like(ts, y)
        known = _Known.of(y)
        has_prev, has_next = known.prev >= 0, known.next < y.shape[0]
        t_p, y_p = _take(times, known.prev), _take(y, known.prev)
        t_n, y_n = _take(times, known.next), _take(y, known.next)
        fraction = ((times - t_p) / _nonzero(t_n - t_p)).astype(y.dtype)
        between = y_p + fraction * (y_n - y_p)
        after_last = y_p if fill_forward_nans_at_end else jnp.full_like(y, jnp.nan)
        filled = jnp.where(has_next, between, after_last)
        return jnp.where(~jnp.isnan(y), y, jnp.where(has_prev, filled, jnp.nan))

    treedef = jax.tree_util.tree_structure(ys)
    return jax.tree_util.tree_unflatten(treedef, _per_leaf(leaf, ys, replace_nans_at_start))


def rectilinear_interpolation(
    ts: Array, ys: PyTree, replace_nans_at_start: PyTree | None = None
) -> tuple[Array, PyTree]:
    """``(new_ts, new_ys)`` of length ``2 len(ts) - 1``: knots ``t_0, t_1, t_1, t_2, t_2, ...``
    and data ``y_0, y_0, y_1, y_1, y_2, ...`` with gaps holding the last known value.

    Interpolating ``new_ys`` linearly against any increasing ``2 len(ts) - 1`` knots (usually
    ``arange``) gives a path that first moves in time with the data frozen, then moves the data
    with time frozen, as needed for causal (online) neural CDEs."""
    ts = _checked_ts(ts, "rectilinear_interpolation")

    def leaf(y: Array, start: Array | None) -> Array:
        y = _with_start(_as_inexact(y), start)
        prev = _Known.of(y).prev
        held = jnp.where(prev >= 0, _take(y, prev), jnp.nan)
        return jnp.repeat(held, 2, axis=0)[:-1]

    new_ts = jnp.repeat(ts, 2)[1:]
    treedef = jax.tree_util.tree_structure(ys)
    return new_ts, jax.tree_util.tree_unflatten(
        treedef, _per_leaf(leaf, ys, replace_nans_at_start)
    )


def _cubic_from(
    value: Array, slope: Array, end_value: Array, width: Array
) -> tuple[Array, Array, Array, Array]:
    """``(d, c, b, a)`` of the cubic ``p(s)`` on ``[0, width]`` with ``p(0) = value``,
    ``p'(0) = slope``, ``p(width) = end_value`` and ``p'(width)`` equal to the secant slope
    ``m = (end_value - value) / width``.

    With ``e = m - slope``: ``c = 2 e / width`` and ``d = -e / width^2`` (check:
    ``p(width) = value + slope width + 2 e width - e width = value + m width`` and
    ``p'(width) = slope + 4 e - 3 e = m``)."""
    excess = (end_value - value) / width - slope
    return -excess / (width * width), 2 * excess / width, slope, value


def _backward_hermite_leaf(
    ts: Array,
    fill_forward_nans_at_end: bool,
    y: Array,
    deriv0: Array | None,
    start: Array | None,
) -> tuple[Array, Array, Array, Array]:
    y = _with_start(_as_inexact(y), start)
    size = y.shape[0]
    times = _times_like(ts, y)
    known = _Known.of(y)
    real = lambda x: x.astype(y.dtype)

    # Slope at every known knot: backward difference to the previous known value; the first
    # known value (nothing before it) takes the forward difference, or `deriv0` at ts[0].
    before = jnp.concatenate([jnp.full_like(known.prev[:1], -1), known.prev[:-1]])
    t_b, y_b = _take(times, before), _take(y, before)
    t_a, y_a = _take(times, known.next), _take(y, known.next)
    backward = (y - y_b) / real(_nonzero(times - t_b))
    forward = (y_a - y) / real(_nonzero(t_a - times))
    slope = jnp.where(before >= 0, backward, forward)
    if deriv0 is not None:
        slope = slope.at[0].set(jnp.broadcast_to(jnp.asarray(deriv0, y.dtype), y.shape[1:]))

    # Piece j runs from ts[j] towards the next known value after j, starting from the last
    # known value p <= j. If y_j is known, p = j and the piece is the Hermite cubic from
    # (t_j, y_j, slope_j) to (t_n, y_n). If not, the cubic from p is followed to t_j and a new
    # cubic restarts there with its value and slope (so the path stays C1 across the gap).
    p, n = known.prev[:-1], known.next[:-1]
    t_j = times[:-1]
    t_p, y_p, s_p = _take(times, p), _take(y, p), _take(slope, p)
    has_next = n < size
    t_n = jnp.where(has_next, _take(times, n), times[-1])
    if fill_forward_nans_at_end:
        y_n = jnp.where(has_next, _take(y, n), y_p)
    else:
        y_n = jnp.where(has_next, _take(y, n), jnp.nan)
    y_p = jnp.where(p >= 0, y_p, jnp.nan)

    d, c, b, a = _cubic_from(y_p, s_p, y_n, real(_nonzero(t_n - t_p)))
    tau = real(t_j - t_p)
    value = a + tau * (b + tau * (c + tau * d))
    value_slope = b + tau * (2 * c + 3 * tau * d)
    return _cubic_from(value, value_slope, y_n, real(_nonzero(t_n - t_j)))


def backward_hermite_coefficients(
    ts: Array,
    ys: PyTree,
    *,
    deriv0: PyTree | None = None,
    replace_nans_at_start: PyTree | None = None,
    fill_forward_nans_at_end: bool = False,
) -> tuple[PyTree, PyTree, PyTree, PyTree]:
    """Coefficients ``(d, c, b, a)`` for `CubicInterpolation`: Hermite cubic splines with
    backward differences (Morrill et al. 2021).

    On ``[t_j, t_{j+1}]`` the cubic starts at ``y_j`` with the backward-difference slope
    ``(y_j - y_{j-1}) / (t_j - t_{j-1})`` (at ``t_0``: ``deriv0``, by default the forward
    difference) and ends at ``y_{j+1}`` with slope ``(y_{j+1} - y_j) / (t_{j+1} - t_j)``,
    which is the next piece's starting slope: the spline is C1, and at ``t`` it only uses data
    up to the next knot. Across a gap, the cubic from the last known value is followed to
    each missing knot, and the next piece restarts there with its value and slope.

    Each returned PyTree has the structure of ``ys`` and leaves with ``len(ts) - 1`` entries.
    """
    ts = _checked_ts(ts, "backward_hermite_coefficients")
    fn = lambda y, d0, start: _backward_hermite_leaf(
        ts, fill_forward_nans_at_end, y, d0, start
    )
    treedef = jax.tree_util.tree_structure(ys)
    per_leaf = _per_leaf(fn, ys, deriv0, replace_nans_at_start)
    return tuple(  # type: ignore[return-value]
        jax.tree_util.tree_unflatten(treedef, [coeffs[k] for coeffs in per_leaf])
        for k in range(4)
    )


__all__ = ["linear_interpolation", "rectilinear_interpolation", "backward_hermite_coefficients"]
