"""A captured script call at size n: the user's jitted function re-traced with the solve resized.

What a user compiles is rarely the bare solve: it is the jitted function around it, with the
loss, ``jax.grad`` and ``jax.vmap`` included. :func:`call_program` returns that function as
``(fn, abstract_args)`` at size n: the recorded outermost jitted function (:class:`.script.JitEntry`)
is traced again, and when its trace reaches the solve call being measured, the interceptor
hands the call to :class:`Resize`, which

- gives each resized ``SubSaveAt`` a ``ts`` of n times (``linspace`` between the old first
  and last time: a traced value, so nothing is folded at trace time; values never change
  the program, only the length), or sets ``max_steps`` to n (steps / dense saving);
- runs the real solve, and gives the rest of the function the solution at its *original*
  length (every array whose leading axis is n is padded and cut back to it, the same few ops
  at any n). The user's loss, written for that length, traces unchanged; the solve's
  forward, its gradient and its batching grow with n exactly as in the user's program.

When the function cannot be re-traced at another n (it raises), :func:`call_program` falls
back on the solve on its own (:func:`.script.build_call`) and says so in a note.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from typing import Any, Callable

import jax
import jax.numpy as jnp

from .cases import TargetError
from .lower import LoweringError, lower_call
from .script import CallSite, CapturedCall, build_call, current_state, explain_lowering_error, resize_arguments


@dataclass
class Resize:
    """In force while a program is re-traced: the solve call at ``site`` runs at size n."""

    site: CallSite
    n: int
    axis: str
    reached: int = 0  # how many times the trace reached the call (0: the trace never got there)

    def matches(self, site: CallSite) -> bool:
        return site == self.site

    def call(self, original: Callable[..., Any], signature: inspect.Signature, args: Any, kwargs: Any) -> Any:
        self.reached += 1
        arguments = dict(signature.bind(*args, **kwargs).arguments)
        n = self.n

        def traced_ts(old: Any) -> jax.Array:
            old = jnp.asarray(old)
            if old.shape[0] == 0:
                return jnp.linspace(0.0, 1.0, n, dtype=old.dtype)
            return jnp.linspace(old[0], old[-1], n, dtype=old.dtype)

        arguments, original_size = resize_arguments(arguments, signature, n, self.axis, traced_ts)
        solution = original(**arguments)
        return _back_to_length(solution, n, original_size)


def _back_to_length(tree: Any, n: int, length: int) -> Any:
    """Arrays whose leading axis is n, padded with zeros and cut to ``length``: the same ops at any n."""

    def restore(leaf: Any) -> Any:
        if not isinstance(leaf, jax.Array) or leaf.ndim == 0 or leaf.shape[0] != n or length == 0:
            return leaf
        padding = jnp.zeros((length, *leaf.shape[1:]), leaf.dtype)
        return jax.lax.slice_in_dim(jnp.concatenate([leaf, padding]), 0, length)

    return jax.tree_util.tree_map(restore, tree)


@dataclass
class SizedProgram:
    """What to lower for one case at one n, and what the reader should know about it."""

    fn: Callable[..., Any]
    args: tuple[Any, ...]
    kwargs: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    resize: Resize | None = None


def entry_program(call: CapturedCall, n: int, axis: str) -> SizedProgram:
    """The recorded jitted function around ``call``, whose trace resizes the call to n."""
    entry = call.entry
    assert entry is not None
    leaves, treedef = jax.tree_util.tree_flatten((entry.args, entry.kwargs))
    dynamic = [i for i, leaf in enumerate(leaves) if isinstance(leaf, jax.ShapeDtypeStruct)]
    resize = Resize(call.site, n, axis)

    def program(*inputs: Any) -> list[Any]:
        filled = list(leaves)
        for index, value in zip(dynamic, inputs):
            filled[index] = value
        args, kwargs = treedef.unflatten(filled)
        state = current_state()
        saved, state.resize = state.resize, resize
        try:
            out = entry.function(*args, **kwargs)
        finally:
            state.resize = saved
        return [leaf for leaf in jax.tree_util.tree_leaves(out) if isinstance(leaf, jax.Array)]

    program.__name__ = entry.name.replace(".", "_").replace("<", "").replace(">", "")
    return SizedProgram(program, tuple(leaves[i] for i in dynamic), {}, list(entry.problems), resize)


def bare_program(call: CapturedCall, n: int, axis: str) -> SizedProgram:
    fn, args = build_call(call, n, axis)
    return SizedProgram(fn, args)


def describe_program(call: CapturedCall) -> str:
    """What is measured for the call, for the report."""
    if call.entry is not None:
        return f"measured: `{call.entry.name}`, the jitted function around the call, re-traced at each n"
    if call.under_transform:
        return "measured: the solve on its own, per example (it runs under vmap/grad outside any jit)"
    return "measured: the solve on its own (it is not called inside a jitted function)"


def lower_script_call(call: CapturedCall, n: int, axis: str, *, platform: str | None) -> tuple[Any, list[str]]:
    """Lower the call's program at n: its jitted function, or (when that cannot be re-traced at
    n) the solve on its own. Returns ``(LoweredProgram, notes)``; raises TargetError."""
    notes: list[str] = []
    if call.entry is not None:
        if call.nested_jits:  # a jit between the entry and the solve would reuse its trace at the old n
            jax.clear_caches()
        program = entry_program(call, n, axis)
        try:
            lowered = lower_call(program.fn, program.args, platform=platform)
        except LoweringError as error:
            notes.append(
                f"fell back on the solve on its own: `{call.entry.name}` could not be re-traced at "
                f"n={n:,} ({error})"
            )
        else:
            if program.resize is not None and program.resize.reached == 0:
                notes.append(f"fell back on the solve on its own: re-tracing `{call.entry.name}` never reached the call")
            else:
                return lowered, notes + program.notes
    bare = bare_program(call, n, axis)
    try:
        return lower_call(bare.fn, bare.args, platform=platform), notes
    except LoweringError as error:
        message = explain_lowering_error(call, error) or f"{call.key} (line {call.site.line}) at n={n}: {error}"
        raise TargetError(message, details=error.details) from error
