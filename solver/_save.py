"""Save buffers: allocated once with fixed-size ops, filled in place inside the loop.

Each `SubSaveAt` owns one buffer per output leaf, and its outputs are *packed* in time
order at the front of it (as diffrax lays them out)::

    [t0 if t0] [ts entries and step ends, in the order the solve reaches them] [t1 if t1] [inf ...]

The next free slot is one scalar, ``SaveState.index``. Its length is
``t0 + len(ts) + max_steps // steps + (1 for t1 unless steps divides max_steps)``: a
solve that takes every step fills it exactly.

No op here depends on the number of save points: buffers are made with one masked fill over
the whole array (``t0`` outputs, and ``ts`` entries equal to ``t0``, are filled at
allocation; everything else starts at ``inf``) and written one slot at a time inside loop
primitives (pitfall P1). This is also why ``t0 == t1`` needs no special case: every ``ts``
entry then equals ``t0`` and is filled at allocation.

The valid slots are always a prefix, so the final mask is described by one scalar (the
prefix length) and rebuilt from it inside `_keep_leading_rows`. Reverse mode then stores
that scalar, not a boolean mask and a zero tangent per save point and state element, as a
plain ``jnp.where`` over the buffer would. Times of ``ts``-only groups are not stored at
all: they are the ``ts`` argument itself, laid out at the end.
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
    """Progress of one `SubSaveAt`: the next ``ts`` entry to save, the next free slot, the
    output buffers, and (only when ``steps`` is set) the time of every slot (internal)."""

    ts_index: Array
    index: Array
    ys: PyTree
    times: Array | None


def _unfilled(dtype: jnp.dtype) -> Array:
    if jnp.issubdtype(dtype, jnp.inexact):
        return jnp.asarray(jnp.inf, dtype)
    return jnp.asarray(0, dtype)


@jax.checkpoint
def _keep_leading_rows(values: Array, kept: Array) -> Array:
    """``values`` with every row from ``kept`` on set to the unfilled value.

    Rematerialised (`jax.checkpoint`): the backward pass rebuilds the row mask from the
    scalar ``kept``. A plain ``jnp.where`` here would make reverse mode store the broadcast
    mask and an instantiated zero tangent for the unfilled branch, 9 bytes per save point and
    float64 state element, all of which the backward pass can recompute from one integer."""
    rows = lax.broadcasted_iota(jnp.int32, values.shape, 0)
    return jnp.where(rows < kept, values, _unfilled(values.dtype))


def _leading_count(ts: Array, pred: Callable[[Array], Array]) -> Array:
    """How many leading entries of ``ts`` satisfy ``pred``, for a ``pred`` that holds on a
    prefix of ``ts`` only. A bisection: a loop of ``log2(len(ts))`` steps that XLA compiles
    as one small kernel, where an elementwise test and a sum over ``ts`` were three."""
    num = ts.shape[0]
    if num == 0:
        return jnp.asarray(0, jnp.int32)

    def halve(_: Array, bounds: tuple[Array, Array]) -> tuple[Array, Array]:
        lo, hi = bounds  # pred holds before lo and fails from hi on
        mid = (lo + hi) // 2
        holds = (mid < hi) & pred(ts[jnp.minimum(mid, num - 1)])
        return jnp.where(holds, mid + 1, lo), jnp.where(holds, hi, mid)

    start = (jnp.asarray(0, jnp.int32), jnp.asarray(num, jnp.int32))
    return lax.fori_loop(0, num.bit_length(), halve, start)[0]


def buffer_size(sub: SubSaveAt, max_steps: int | None) -> int:
    """The number of slots of ``sub``'s buffers (see the module docstring)."""
    size = int(sub.t0) + (0 if sub.ts is None else int(sub.ts.shape[0]))
    if sub.steps:
        assert max_steps is not None
        size += max_steps // sub.steps
    if sub.t1 and (not sub.steps or max_steps % sub.steps != 0):
        size += 1
    return size


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
    user_t0 = to_user_time(t0)  # exact: the map multiplies by +-1
    first = sub.fn(user_t0, y0, args)
    size = buffer_size(sub, max_steps)
    # Filled now: the t0 slot, and the ts entries equal to t0 (a prefix: ts is monotone).
    ts_index = jnp.asarray(0, jnp.int32)
    if ts is not None:
        # ts is non-decreasing in internal time and starts at or after t0 (checked).
        ts_index = _leading_count(ts, lambda t: to_user_time(t) <= t0)
    filled = int(sub.t0) + ts_index

    def buffer(x: Array) -> Array:
        x = jnp.asarray(x)
        return _keep_leading_rows(jnp.broadcast_to(x, (size, *x.shape)), filled)

    times = None
    if sub.steps:
        times = _keep_leading_rows(jnp.broadcast_to(t0, (size,)), filled)
    return SaveState(
        ts_index=ts_index,
        index=jnp.asarray(filled, jnp.int32),
        ys=jax.tree_util.tree_map(buffer, first),
        times=times,
    )


def save_in_step(
    sub: SubSaveAt,
    ts: Array | None,
    state: SaveState,
    interpolation: AbstractLocalInterpolation,
    t_end: Array,
    y_end: Y,
    keep: Array,
    num_accepted: Array,
    to_user_time: Callable[[Array], Array],
    args: Args,
    inner_loop: LoopFn,
) -> SaveState:
    """Save what falls in a step ending at internal time ``t_end`` if it is accepted
    (``keep``; ``num_accepted`` counts it): the ``ts`` entries inside it (user time), then
    its end if it is an ``n``-th step."""
    if ts is not None:
        state = _save_ts(sub, ts, state, interpolation, t_end, keep, to_user_time, args, inner_loop)
    if sub.steps:
        pred = keep & (num_accepted % sub.steps == 0)
        out = sub.fn(to_user_time(t_end), y_end, args)
        ys = jax.tree_util.tree_map(
            lambda x, buf: eqxi.buffer_at_set(buf, state.index, x, pred=pred), out, state.ys
        )
        times = eqxi.buffer_at_set(state.times, state.index, t_end, pred=pred)
        state = SaveState(state.ts_index, state.index + pred.astype(jnp.int32), ys, times)
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

    def cond(s: SaveState) -> Array:
        index = jnp.minimum(s.ts_index, num - 1)
        return keep & (s.ts_index < num) & (to_user_time(ts[index]) <= t_end)

    def body(s: SaveState) -> SaveState:
        t = ts[s.ts_index]
        out = sub.fn(t, interpolation.evaluate(to_user_time(t)), args)
        ys = jax.tree_util.tree_map(lambda x, buf: buf.at[s.index].set(x), out, s.ys)
        times = s.times
        if sub.steps:
            times = times.at[s.index].set(to_user_time(t))
        return SaveState(s.ts_index + 1, s.index + 1, ys, times)

    def buffers(s: SaveState) -> PyTree:
        # Decided from `sub` (static), not by testing `s.times is None`: the loop may call
        # this on a copy of `s` whose leaves, None included, it has wrapped.
        return (s.ys, s.times) if sub.steps else s.ys

    return inner_loop(cond, body, state, max_steps=num, buffers=buffers)


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
    num_accepted: Array,
    last_step_end: Array,
    event_located: Array | None,
) -> tuple[Array, PyTree]:
    """The saved ``(ts, ys)`` in user time; internal ``t0``, ``t_final``, ``last_step_end``.

    ``event_located`` (None when the solve has no root finder): whether ``t_final`` is an
    event time located inside the last accepted step. Outputs after it (``ts`` entries and
    the step end that step saved) are dropped, and a dropped step end is replaced by the
    state at the event, so that ``steps`` outputs end where the solve ended.

    Then ``(t_final, y_final)`` goes into the next slot if ``t1`` asks for it and it is not
    there already (as the last step's end)."""
    index = state.index
    last_saved = jnp.asarray(False)
    if sub.steps:
        last_saved = (num_accepted > 0) & (num_accepted % sub.steps == 0)
    replace = jnp.asarray(False)
    if event_located is not None:
        if state.times is not None:
            rows = jnp.arange(state.times.shape[0], dtype=jnp.int32)
            after = (rows < index) & (state.times > t_final)
            index = index - jnp.sum(after, dtype=jnp.int32)
        elif ts is not None:
            before = jnp.sum(to_user_time(ts) <= t_final, dtype=jnp.int32)
            index = int(sub.t0) + jnp.minimum(state.ts_index, before)
        replace = event_located & last_saved & (last_step_end > t_final)
    write = (replace | ~last_saved) if sub.t1 else replace
    valid = index + write.astype(jnp.int32)
    if not sub.t1 and event_located is None:
        # Nothing to write and no slot to drop: the rows from `index` on were never written.
        ys = state.ys
    else:
        out = sub.fn(to_user_time(t_final), y_final, args)
        # Out of range only when the buffer is full, and then `write` is False: the dropped
        # update leaves nothing behind (rows from `valid` on are masked below).
        ys = jax.tree_util.tree_map(lambda buf, x: buf.at[index].set(x), state.ys, out)
        ys = jax.tree_util.tree_map(lambda buf: _keep_leading_rows(buf, valid), ys)
    if state.times is not None:
        times = to_user_time(state.times.at[index].set(t_final))
    else:  # ts-only: the times are the arguments, laid out as the slots
        pieces = [to_user_time(t0)[None]] if sub.t0 else []
        if ts is not None:
            pieces.append(ts)
        size = buffer_size(sub, None)
        fixed = sum(p.shape[0] for p in pieces)
        pieces.append(jnp.broadcast_to(to_user_time(t_final), (size - fixed,)))
        times = jnp.concatenate(pieces)
        times = jnp.where(jnp.arange(size, dtype=jnp.int32) == index, to_user_time(t_final), times)
    user_ts = _keep_leading_rows(times, valid)
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
    "buffer_size",
    "allocate",
    "save_in_step",
    "finalize",
    "allocate_dense",
    "save_dense",
]
