"""What `diffeqsolve` saves: `SaveAt` and its parts, `SubSaveAt`."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from ._custom_types import Args, PyTree, RealScalarLike, Y


def save_y(t: RealScalarLike, y: Y, args: Args) -> Y:
    """The default ``fn``: save the state itself."""
    del t, args
    return y


class SubSaveAt(eqx.Module):
    """One group of outputs, each stored as ``fn(t, y, args)``:

    - ``t0``: the initial state; ``t1``: the final one (at ``t1``, or where an event stopped
      the solve);
    - ``ts``: a 1-d array of times, monotone in the direction of integration, inside
      ``[t0, t1]``;
    - ``steps=n``: the state at the end of every ``n``-th accepted step (``True`` means 1,
      ``False`` or 0 nothing). With ``t1`` as well, the final state is stored once: not
      again if the last step was a saved one.

    Outputs are stored in time order (t0, then ``ts`` entries and step ends as the solve
    reaches them, then t1), packed at the front of a buffer of fixed length
    ``t0 + len(ts) + max_steps // n (+ 1 for t1 unless n divides max_steps)``; the unused
    tail holds ``inf``.
    """

    t0: bool
    t1: bool
    ts: jax.Array | None
    steps: int = eqx.field(static=True)
    fn: Callable[[RealScalarLike, Y, Args], PyTree]

    def __init__(
        self,
        *,
        t0: bool = False,
        t1: bool = False,
        ts: Sequence[RealScalarLike] | jax.Array | None = None,
        steps: bool | int = 0,
        fn: Callable[[RealScalarLike, Y, Args], PyTree] = save_y,
    ):
        if ts is not None:
            ts = jnp.asarray(ts)
            if ts.ndim != 1:
                raise ValueError(
                    f"`SaveAt(ts=...)` must be a 1-d array of times, got shape {ts.shape}."
                )
            if ts.shape[0] == 0:
                ts = None  # nothing to save there (as diffrax)
        if isinstance(steps, (bool, np.bool_)):
            steps = int(steps)
        if not isinstance(steps, (int, np.integer)) or steps < 0:
            raise ValueError(f"`SaveAt(steps=...)` must be a bool or an int >= 0, got {steps!r}.")
        self.t0 = t0
        self.t1 = t1
        self.ts = ts
        self.steps = int(steps)
        self.fn = fn

    def __check_init__(self) -> None:
        if not (self.t0 or self.t1 or self.ts is not None or self.steps):
            raise ValueError(
                "`SaveAt`/`SubSaveAt` saves nothing: set at least one of t0, t1, ts, steps."
            )


def _is_sub(x: Any) -> bool:
    return isinstance(x, SubSaveAt)


class SaveAt(eqx.Module):
    """What to save.

    - ``SaveAt(t0=..., t1=..., ts=..., steps=..., fn=...)``: one group of outputs (a
      `SubSaveAt`); ``Solution.ts`` / ``ys`` are then arrays (PyTrees for a PyTree ``fn``).
    - ``SaveAt(subs=...)``: any PyTree of `SubSaveAt` (a list, a dict, ...);
      ``Solution.ts`` / ``ys`` then have the same structure.
    - ``dense=True``: keep the interpolant of every step for ``Solution.evaluate`` /
      ``derivative`` (memory ∝ ``max_steps``).
    - ``solver_state``, ``controller_state``, ``made_jump``: also return these at the end of
      the solve (``Solution.solver_state`` etc., else None).

    Passing ``ts`` as a jnp array (rather than a NumPy array or list) keeps the program the
    same for any values; its length only changes buffer shapes.
    """

    subs: PyTree[SubSaveAt] = None
    dense: bool = False
    solver_state: bool = False
    controller_state: bool = False
    made_jump: bool = False

    def __init__(
        self,
        *,
        t0: bool = False,
        t1: bool = False,
        ts: Sequence[RealScalarLike] | jax.Array | None = None,
        steps: bool | int = False,
        fn: Callable[[RealScalarLike, Y, Args], PyTree] = save_y,
        subs: PyTree[SubSaveAt] = None,
        dense: bool = False,
        solver_state: bool = False,
        controller_state: bool = False,
        made_jump: bool = False,
    ):
        own = t0 or t1 or ts is not None or steps
        if subs is not None:
            if own:
                raise ValueError(
                    "`SaveAt(subs=...)` cannot be combined with t0/t1/ts/steps: put them in a "
                    "`SubSaveAt` inside `subs`."
                )
            leaves = jax.tree_util.tree_leaves(subs, is_leaf=_is_sub)
            if not all(_is_sub(s) for s in leaves):
                raise ValueError("`SaveAt(subs=...)` must be a PyTree of `SubSaveAt`s.")
        elif own:
            subs = SubSaveAt(t0=t0, t1=t1, ts=ts, steps=steps, fn=fn)
        self.subs = subs
        self.dense = dense
        self.solver_state = solver_state
        self.controller_state = controller_state
        self.made_jump = made_jump

    @property
    def sub_list(self) -> tuple[SubSaveAt, ...]:
        """The `SubSaveAt` leaves of ``subs``, in PyTree order."""
        return tuple(jax.tree_util.tree_leaves(self.subs, is_leaf=_is_sub))

    def unflatten(self, values: Sequence[Any]) -> PyTree:
        """One value per `SubSaveAt` (in `sub_list` order), arranged like ``subs``."""
        structure = jax.tree_util.tree_structure(self.subs, is_leaf=_is_sub)
        return jax.tree_util.tree_unflatten(structure, list(values))


__all__ = ["SaveAt", "SubSaveAt", "save_y"]
