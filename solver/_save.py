"""Save buffers: allocated once with fixed-size ops, filled in place inside the loop.

Each `SubSaveAt` owns one buffer per output leaf with a fixed slot layout::

    [t0 slot if t0] [one slot per ts entry, or max_steps slots if steps] [t1 slot if t1]

No op here depends on the number of save points: buffers are made with ``jnp.where`` over
the whole array (``t0`` outputs, and ``ts`` entries equal to ``t0``, are filled at
allocation; everything else starts at ``inf``) and written one slot at a time with
``.at[i].set`` inside loop primitives (pitfall P1). This is also why ``t0 == t1`` needs no
special case: every ``ts`` entry then equals ``t0`` and is filled at allocation.
"""

from __future__ import annotations

from collections.abc import Callable

import equinox as eqx
import equinox.internal as eqxi
import jax
import jax.numpy as jnp

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
    """Buffers for ``sub``; ``ts`` and ``t0`` are internal times."""
    first = sub.fn(to_user_time(t0), y0, args)
    middle = _middle_size(sub, max_steps)
    pieces = []
    if sub.t0:
        pieces.append(jnp.ones((1,), bool))
    if ts is not None:
        pieces.append(ts == t0)
    elif middle:
        pieces.append(jnp.zeros((middle,), bool))
    if sub.t1:
        pieces.append(jnp.zeros((1,), bool))
    filled = jnp.concatenate(pieces)  # at most three pieces, whatever the sizes

    def buffer(x: Array) -> Array:
        x = jnp.asarray(x)
        mask = filled.reshape(filled.shape + (1,) * x.ndim)
        return jnp.where(mask, x[None], _unfilled(x.dtype))

    ts_index = jnp.sum(ts == t0).astype(jnp.int32) if ts is not None else jnp.asarray(0, jnp.int32)
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
    """Save what falls in an accepted step ending at internal time ``t_end``."""
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
    varies)."""
    num = ts.shape[0]
    offset = int(sub.t0)

    def cond(s: SaveState) -> Array:
        index = jnp.minimum(s.ts_index, num - 1)
        return keep & (s.ts_index < num) & (ts[index] <= t_end)

    def body(s: SaveState) -> SaveState:
        t = ts[s.ts_index]
        out = sub.fn(to_user_time(t), interpolation.evaluate(t), args)
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
) -> tuple[Array, PyTree]:
    """The saved ``(ts, ys)`` in user time: fill the t1 slot with ``(t_final, y_final)`` and
    mark slots past ``t_final`` (after an event or a failure) as ``inf``."""
    pieces_t, pieces_valid = [], []
    if sub.t0:
        pieces_t.append(t0[None])
        pieces_valid.append(jnp.ones((1,), bool))
    if ts is not None:
        saved = jnp.arange(ts.shape[0]) < state.ts_index
        pieces_t.append(ts.astype(t0.dtype))
        pieces_valid.append(saved & (ts <= t_final))
    elif sub.steps:
        pieces_t.append(state.step_ts)
        pieces_valid.append(jnp.arange(state.step_ts.shape[0]) < state.step_index)
    if sub.t1:
        pieces_t.append(t_final[None])
        pieces_valid.append(jnp.ones((1,), bool))
    times = jnp.concatenate(pieces_t)
    valid = jnp.concatenate(pieces_valid)
    ys = state.ys
    if sub.t1:
        out = sub.fn(to_user_time(t_final), y_final, args)
        ys = jax.tree_util.tree_map(lambda buf, x: buf.at[-1].set(x), ys, out)

    def mask(buf: Array) -> Array:
        mask_shape = valid.shape + (1,) * (buf.ndim - 1)
        return jnp.where(valid.reshape(mask_shape), buf, _unfilled(buf.dtype))

    user_ts = jnp.where(valid, to_user_time(times), jnp.inf)
    return user_ts, jax.tree_util.tree_map(mask, ys)


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
