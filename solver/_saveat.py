"""What `diffeqsolve` saves: `SaveAt` and its parts, `SubSaveAt`."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import equinox as eqx
import jax
import jax.numpy as jnp

from ._custom_types import Args, PyTree, RealScalarLike, Y


def save_y(t: RealScalarLike, y: Y, args: Args) -> Y:
    """The default ``fn``: save the state itself."""
    del t, args
    return y


class SubSaveAt(eqx.Module):
    """One group of outputs: any of ``t0``, ``ts`` (a 1-d array, monotone in the direction of
    integration, inside ``[t0, t1]``), ``t1`` and every accepted ``steps``, each stored as
    ``fn(t, y, args)``. Outputs are ordered t0, then ts / steps, then t1."""

    t0: bool = False
    t1: bool = False
    ts: jax.Array | None = None
    steps: bool = False
    fn: Callable[[RealScalarLike, Y, Args], PyTree] = save_y

    def __check_init__(self) -> None:
        if self.ts is not None and jnp.ndim(self.ts) != 1:
            raise ValueError(
                f"`SaveAt(ts=...)` must be a 1-d array of times, got shape {jnp.shape(self.ts)}."
            )
        if not (self.t0 or self.t1 or self.ts is not None or self.steps):
            raise ValueError(
                "`SaveAt`/`SubSaveAt` saves nothing: set at least one of t0, t1, ts, steps."
            )

    @property
    def num_fixed(self) -> int:
        """Number of outputs not counting ``steps`` (known at trace time)."""
        return int(self.t0) + int(self.t1) + (0 if self.ts is None else int(self.ts.shape[0]))


class SaveAt(eqx.Module):
    """What to save: ``SaveAt(t0=..., t1=..., ts=..., steps=..., fn=...)`` for one group of
    outputs, or ``SaveAt(subs=[SubSaveAt(...), ...])`` for several (the `Solution`'s ``ts``
    and ``ys`` are then lists in the same order). ``dense=True`` also keeps the interpolant
    of every step for ``Solution.evaluate``/``derivative`` (memory ∝ ``max_steps``).

    Passing ``ts`` as a jnp array (rather than a NumPy array or list) keeps the program the
    same for any values; its length only changes buffer shapes.
    """

    subs: tuple[SubSaveAt, ...]
    dense: bool = False

    def __init__(
        self,
        *,
        t0: bool = False,
        t1: bool = False,
        ts: Sequence[RealScalarLike] | jax.Array | None = None,
        steps: bool = False,
        fn: Callable[[RealScalarLike, Y, Args], PyTree] = save_y,
        subs: SubSaveAt | Sequence[SubSaveAt] | None = None,
        dense: bool = False,
    ):
        if ts is not None:
            ts = jnp.asarray(ts)
        own = t0 or t1 or ts is not None or steps
        if subs is not None:
            if own:
                raise ValueError(
                    "`SaveAt(subs=...)` cannot be combined with t0/t1/ts/steps: put them in a "
                    "`SubSaveAt` inside `subs`."
                )
            single = isinstance(subs, SubSaveAt)
            subs_tuple = (subs,) if single else tuple(subs)
            if not subs_tuple or not all(isinstance(s, SubSaveAt) for s in subs_tuple):
                raise ValueError("`SaveAt(subs=...)` must be a `SubSaveAt` or a list of them.")
            self.subs = subs_tuple
            self._single = single
        elif own:
            self.subs = (SubSaveAt(t0=t0, t1=t1, ts=ts, steps=steps, fn=fn),)
            self._single = True
        elif dense:
            self.subs = ()
            self._single = True
        else:
            raise ValueError(
                "`SaveAt` saves nothing: set at least one of t0, t1, ts, steps, dense or subs."
            )
        self.dense = dense

    _single: bool = eqx.field(static=True, default=True)


__all__ = ["SaveAt", "SubSaveAt", "save_y"]
