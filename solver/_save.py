"""Save buffers: allocated once with fixed-size ops, filled in place inside the loop.

Each `SubSaveAt` owns one buffer per output leaf with a fixed slot layout::

    [t0 slot if t0] [one slot per ts entry, or max_steps slots if steps] [t1 slot if t1]

No op here depends on the number of save points: buffers are made with one masked fill over
the whole array (``t0`` outputs, and ``ts`` entries equal to ``t0``, are filled at
allocation; everything else starts at ``inf``) and written one slot at a time with
``.at[i].set`` inside loop primitives (pitfall P1). This is also why ``t0 == t1`` needs no
special case: every ``ts`` entry then equals ``t0`` and is filled at allocation.

Every mask over the slots is a prefix (save times are monotone), plus the ``t1`` slot: it is
described by one scalar, the number of leading slots kept, and rebuilt from it inside
`_keep_leading_rows`. Reverse mode then stores that scalar, not a boolean mask and a zero
tangent per save point and state element, as a plain ``jnp.where`` over the buffer would.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import equinox as eqx
import equinox.internal as eqxi
import jax
import jax.numpy as jnp
from jax import lax

from ._custom_types import Args, Array, PyTree, Y
from ._interpolation import AbstractLocalInterpolation
from ._saveat import SubSaveAt

LoopFn = Callable[..., PyTree]
"""``loop(cond, body, init, *, max_steps, buffers)``: the loop primitive an adjoint chose."""


class SaveState(eqx.Module):
    """Progress of one `SubSaveAt`: next ``ts`` entry to save, steps saved, the buffers."""

    ts_index: Array
    step_index: Array
    ys: PyTree
    step_ts: Array | None


def _unfilled(dtype: jnp.dtype) -> Array:
    if jnp.issubdtype(dtype, jnp.inexact):
        return jnp.asarray(jnp.inf, dtype)
    return jnp.asarray(0, dtype)


@functools.partial(jax.checkpoint, static_argnums=(2,))
def _keep_leading_rows(values: Array, kept: Array, keep_last: bool) -> Array:
    """``values`` with every row from ``kept`` on set to the unfilled value, except the last
    row when ``keep_last``.

    Rematerialised (`jax.checkpoint`): the backward pass rebuilds the row mask from the
    scalar ``kept``. A plain ``jnp.where`` here would make reverse mode store the broadcast
    mask and an instantiated zero tangent for the unfilled branch, 9 bytes per save point and
    float64 state element, all of which the backward pass can recompute from one integer."""
    rows = lax.broadcasted_iota(jnp.int32, values.shape, 0)
    keep = rows < kept
    if keep_last:
        keep = keep | (rows == values.shape[0] - 1)
    return jnp.where(keep, values, _unfilled(values.dtype))


def _middle_size(sub: SubSaveAt, max_steps: int | None) -> int:
    if sub.ts is not None:
        return int(sub.ts.shape[0])
    if sub.steps:
        assert max_steps is not None
        return max_steps
    return 0


def allocate(
    sub: SubSaveAt,
    ts: Array | None,
    t0: Array,
    to_user_time: Callable[[Array], Array],
    y0: Y,
    args: Args,
    max_steps: int | None,
) -> SaveState:
    """Buffers for ``sub``; ``ts`` in user time, ``t0`` internal."""
    first = sub.fn(to_user_time(t0), y0, args)
    middle = _middle_size(sub, max_steps)
    size = int(sub.t0) + middle + int(sub.t1)
    # Filled now: the t0 slot, and the ts entries equal to t0 (a prefix: ts is monotone).
    user_t0 = to_user_time(t0)  # exact: the map multiplies by +-1
    ts_index = jnp.asarray(0, jnp.int32)
    if ts is not None:
        ts_index = jnp.sum(ts == user_t0, dtype=jnp.int32)
    filled = int(sub.t0) + ts_index

    def buffer(x: Array) -> Array:
        x = jnp.asarray(x)
        return _keep_leading_rows(jnp.broadcast_to(x, (size, *x.shape)), filled, False)

    step_ts = None
    if sub.steps:
        step_ts = jnp.full((middle,), jnp.inf, jnp.result_type(t0))
    return SaveState(
        ts_index=ts_index,
        step_index=jnp.asarray(0, jnp.int32),
        ys=jax.tree_util.tree_map(buffer, first),
        step_ts=step_ts,
    )


def save_in_step(
    sub: SubSaveAt,
    ts: Array | None,
    state: SaveState,
    interpolation: AbstractLocalInterpolation,
    t_end: Array,
    y_end: Y,
    keep: Array,
    to_user_time: Callable[[Array], Array],
    args: Args,
    inner_loop: LoopFn,
) -> SaveState:
    """Save what falls in an accepted step ending at internal time ``t_end`` (``ts`` in user
    time)."""
    offset = int(sub.t0)
    if ts is not None:
        state = _save_ts(sub, ts, state, interpolation, t_end, keep, to_user_time, args, inner_loop)
    if sub.steps:
        out = sub.fn(to_user_time(t_end), y_end, args)
        index = offset + state.step_index
        ys = jax.tree_util.tree_map(
            lambda x, buf: eqxi.buffer_at_set(buf, index, x, pred=keep), out, state.ys
        )
        step_ts = eqxi.buffer_at_set(state.step_ts, state.step_index, t_end, pred=keep)
        state = SaveState(
            ts_index=state.ts_index,
            step_index=state.step_index + keep.astype(jnp.int32),
            ys=ys,
            step_ts=step_ts,
        )
    return state


def _save_ts(
    sub: SubSaveAt,
    ts: Array,
    state: SaveState,
    interpolation: AbstractLocalInterpolation,
    t_end: Array,
    keep: Array,
    to_user_time: Callable[[Array], Array],
    args: Args,
    inner_loop: LoopFn,
) -> SaveState:
    """Interpolate every ``ts`` entry up to ``t_end`` (an inner loop: the number per step
    varies). ``ts`` is in user time and converted entry by entry (``to_user_time`` is its own
    inverse), so the backward pass reads the argument, not a saved converted copy."""
    num = ts.shape[0]
    offset = int(sub.t0)

    def cond(s: SaveState) -> Array:
        index = jnp.minimum(s.ts_index, num - 1)
        return keep & (s.ts_index < num) & (to_user_time(ts[index]) <= t_end)

    def body(s: SaveState) -> SaveState:
        t = ts[s.ts_index]
        out = sub.fn(t, interpolation.evaluate(to_user_time(t)), args)
        ys = jax.tree_util.tree_map(lambda x, buf: buf.at[offset + s.ts_index].set(x), out, s.ys)
        return SaveState(s.ts_index + 1, s.step_index, ys, s.step_ts)

    return inner_loop(cond, body, state, max_steps=num, buffers=lambda s: s.ys)


def finalize(
    sub: SubSaveAt,
    ts: Array | None,
    state: SaveState,
    t0: Array,
    t_final: Array,
    y_final: Y,
    to_user_time: Callable[[Array], Array],
    args: Args,
    *,
    event_located: bool,
) -> tuple[Array, PyTree]:
    """The saved ``(ts, ys)`` in user time: fill the t1 slot with ``(t_final, y_final)`` and
    mark unsaved slots (after an event or a failure) as ``inf``.

    ``event_located`` (static): ``t_final`` may lie inside the last step (an event's root),
    before ``ts`` entries that step saved; those are dropped too. Otherwise ``t_final`` is the
    end of the last accepted step and every saved entry precedes it (no count is needed)."""
    # The valid slots are a prefix (t0 slot, then the saved ts entries up to t_final, or the
    # steps taken) and the t1 slot: `_keep_leading_rows` needs only the prefix length.
    pieces_t = []  # user times
    valid = int(sub.t0)
    if sub.t0:
        pieces_t.append(to_user_time(t0)[None])
    if ts is not None:
        pieces_t.append(ts)
        saved = state.ts_index
        if event_located:
            saved = jnp.minimum(saved, jnp.sum(to_user_time(ts) <= t_final, dtype=jnp.int32))
        valid = valid + saved
    elif sub.steps:
        pieces_t.append(to_user_time(state.step_ts))
        valid = valid + state.step_index
    if sub.t1:
        pieces_t.append(to_user_time(t_final)[None])
    times = jnp.concatenate(pieces_t)
    ys = state.ys
    if sub.t1:
        out = sub.fn(to_user_time(t_final), y_final, args)
        ys = jax.tree_util.tree_map(lambda buf, x: buf.at[-1].set(x), ys, out)
    valid = jnp.asarray(valid, jnp.int32)
    user_ts = _keep_leading_rows(times, valid, sub.t1)
    ys = jax.tree_util.tree_map(lambda buf: _keep_leading_rows(buf, valid, sub.t1), ys)
    return user_ts, ys


class DenseState(eqx.Module):
    """Step boundaries and per-step interpolation data for ``SaveAt(dense=True)``."""

    ts: Array  # (max_steps + 1,)
    infos: PyTree  # leaves (max_steps, ...)
    index: Array  # accepted steps stored


def allocate_dense(
    t0: Array, t1: Array, dense_info_shape: PyTree, y0: Y, max_steps: int
) -> DenseState:
    """Buffers for dense output. Unused steps interpolate the constant ``y0`` (so a solve with
    ``t0 == t1`` evaluates to ``y0``); unused boundaries are ``t1`` so that binary search
    never selects them."""

    def initial(key: str, shape: jax.ShapeDtypeStruct) -> PyTree:
        if key in ("y0", "y1"):
            return y0
        return jax.tree_util.tree_map(lambda s: jnp.zeros(s.shape, s.dtype), shape)

    infos = {key: initial(key, shape) for key, shape in dense_info_shape.items()}
    infos = jax.tree_util.tree_map(lambda x: jnp.broadcast_to(x, (max_steps, *jnp.shape(x))), infos)
    ts = jnp.full((max_steps + 1,), t1, jnp.result_type(t0, t1)).at[0].set(t0)
    return DenseState(ts=ts, infos=infos, index=jnp.asarray(0, jnp.int32))


def save_dense(state: DenseState, t_end: Array, info: PyTree, keep: Array) -> DenseState:
    ts = eqxi.buffer_at_set(state.ts, state.index + 1, t_end, pred=keep)
    infos = jax.tree_util.tree_map(
        lambda x, buf: eqxi.buffer_at_set(buf, state.index, x, pred=keep), info, state.infos
    )
    return DenseState(ts=ts, infos=infos, index=state.index + keep.astype(jnp.int32))


__all__ = [
    "SaveState",
    "DenseState",
    "allocate",
    "save_in_step",
    "finalize",
    "allocate_dense",
    "save_dense",
]
