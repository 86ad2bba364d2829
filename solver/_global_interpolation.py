"""Paths through data: piecewise linear and piecewise cubic interpolation over knots ``ts``.

Given observations ``y_0, ..., y_{T-1}`` at increasing times ``t_0 < ... < t_{T-1}``, a
*global* interpolation is one function on ``[t_0, t_{T-1}]`` made of one polynomial per
interval ``[t_j, t_{j+1}]`` (unlike a solver's dense output, which is built from steps):

- `LinearInterpolation`: ``y(t) = y_j + (y_{j+1} - y_j) (t - t_j) / (t_{j+1} - t_j)``.
  Continuous; its derivative jumps at the knots.
- `CubicInterpolation`: ``y(t) = a_j + b_j s + c_j s^2 + d_j s^3`` with ``s = t - t_j``, for
  coefficients ``(d, c, b, a)`` computed elsewhere (e.g. `backward_hermite_coefficients`,
  which makes the path continuously differentiable).

At a knot the two neighbouring pieces meet; ``left=True`` evaluates the piece that ends there
(the left limit), ``left=False`` the piece that starts there. This matters for derivatives of
the linear path and is how diffrax defines it. Times outside ``[t_0, t_{T-1}]`` extrapolate the
first or last piece.

Both are PyTrees of arrays (``eqx.Module``), so they can be vmapped, differentiated, and used
inside a vector field (e.g. a control or a forcing term read at ``t``).
"""

from __future__ import annotations

import abc

import equinox as eqx
import jax
import jax.numpy as jnp

from ._custom_types import Array, PyTree, RealScalarLike


def _check_ts(ts: Array, who: str) -> None:
    if ts.ndim != 1 or ts.shape[0] < 2:
        raise ValueError(f"`{who}`: `ts` must be one-dimensional with at least two times; got "
                         f"shape {ts.shape}.")


class AbstractGlobalInterpolation(eqx.Module):
    """A piecewise interpolation over knots ``ts`` (see the module docstring).

    ``t0`` and ``t1`` are the first and last knots. Subclasses say how a piece is evaluated
    given its index ``j`` and the offset ``s = t - ts[j]`` into it.
    """

    ts: eqx.AbstractVar[Array]

    @property
    def t0(self) -> Array:
        """The first knot: where the interpolation starts."""
        return self.ts[0]

    @property
    def t1(self) -> Array:
        """The last knot: where the interpolation ends."""
        return self.ts[-1]

    def _piece(self, t: RealScalarLike, left: bool) -> tuple[Array, Array]:
        """Index ``j`` of the piece holding ``t`` and the offset ``t - ts[j]``.

        ``searchsorted`` finds the first knot ``>= t`` (``left``) or ``> t`` (right); the piece
        is the one before it, clipped so that times beyond the ends use the end pieces."""
        t = jnp.asarray(t, self.ts.dtype)
        side = "left" if left else "right"
        index = jnp.searchsorted(self.ts, t, side=side) - 1
        index = jnp.clip(index, 0, self.ts.shape[0] - 2)
        return index, t - self.ts[index]

    def evaluate(
        self, t0: RealScalarLike, t1: RealScalarLike | None = None, left: bool = True
    ) -> PyTree:
        """The path at ``t0``, or its increment ``y(t1) - y(t0)`` when ``t1`` is given."""
        if t1 is not None:
            return jax.tree_util.tree_map(
                jnp.subtract, self.evaluate(t1, left=left), self.evaluate(t0, left=left)
            )
        index, offset = self._piece(t0, left)
        return self._evaluate_piece(index, offset)

    def derivative(self, t: RealScalarLike, left: bool = True) -> PyTree:
        """``dy/dt`` at ``t``; at a knot, of the piece ending there (``left``) or starting there."""
        index, offset = self._piece(t, left)
        return self._derivative_piece(index, offset)

    @abc.abstractmethod
    def _evaluate_piece(self, index: Array, offset: Array) -> PyTree:
        """The value of piece ``index`` at ``offset = t - ts[index]``."""

    @abc.abstractmethod
    def _derivative_piece(self, index: Array, offset: Array) -> PyTree:
        """The derivative of piece ``index`` at ``offset = t - ts[index]``."""


class LinearInterpolation(AbstractGlobalInterpolation):
    """The piecewise linear path through ``(ts[j], ys[j])``.

    ``ys`` is a PyTree whose leaves have a leading axis of ``len(ts)``. On ``[t_j, t_{j+1}]``
    the path is ``y_j + (y_{j+1} - y_j) (t - t_j) / (t_{j+1} - t_j)`` and its derivative the
    slope ``(y_{j+1} - y_j) / (t_{j+1} - t_j)``. Missing data (NaN) should be filled first, e.g.
    with `linear_interpolation` or `rectilinear_interpolation`.
    """

    ts: Array = eqx.field(converter=jnp.asarray)
    ys: PyTree

    def __check_init__(self) -> None:
        _check_ts(self.ts, "LinearInterpolation")
        for leaf in jax.tree_util.tree_leaves(self.ys):
            if jnp.shape(leaf)[:1] != self.ts.shape:
                raise ValueError(
                    "`LinearInterpolation`: every leaf of `ys` needs a leading axis of "
                    f"len(ts) = {self.ts.shape[0]}; got shape {jnp.shape(leaf)}."
                )

    def _slope_parts(self, index: Array) -> tuple[PyTree, PyTree, Array]:
        width = self.ts[index + 1] - self.ts[index]
        start = jax.tree_util.tree_map(lambda y: y[index], self.ys)
        rise = jax.tree_util.tree_map(lambda y: y[index + 1] - y[index], self.ys)
        return start, rise, width

    def _evaluate_piece(self, index: Array, offset: Array) -> PyTree:
        start, rise, width = self._slope_parts(index)
        fraction = offset / width
        return jax.tree_util.tree_map(
            lambda y0, dy: y0 + fraction.astype(dy.dtype) * dy, start, rise
        )

    def _derivative_piece(self, index: Array, offset: Array) -> PyTree:
        del offset
        _, rise, width = self._slope_parts(index)
        return jax.tree_util.tree_map(lambda dy: dy / width.astype(dy.dtype), rise)


class CubicInterpolation(AbstractGlobalInterpolation):
    """A piecewise cubic path: on ``[t_j, t_{j+1}]``, with ``s = t - t_j``,
    ``y(t) = a_j + b_j s + c_j s^2 + d_j s^3`` and ``y'(t) = b_j + 2 c_j s + 3 d_j s^2``.

    ``coeffs = (d, c, b, a)`` (highest power first, as diffrax orders them), each a PyTree
    shaped like the data with a leading axis of ``len(ts) - 1`` (one entry per piece). Any
    spline fits this form; `backward_hermite_coefficients` computes a C1 one from data.
    """

    ts: Array = eqx.field(converter=jnp.asarray)
    coeffs: tuple[PyTree, PyTree, PyTree, PyTree]

    def __check_init__(self) -> None:
        _check_ts(self.ts, "CubicInterpolation")
        if not isinstance(self.coeffs, tuple) or len(self.coeffs) != 4:
            raise ValueError("`CubicInterpolation`: `coeffs` must be a tuple (d, c, b, a).")
        pieces = self.ts.shape[0] - 1
        for leaf in jax.tree_util.tree_leaves(self.coeffs):
            if jnp.shape(leaf)[:1] != (pieces,):
                raise ValueError(
                    "`CubicInterpolation`: every coefficient needs a leading axis of "
                    f"len(ts) - 1 = {pieces} (one per piece); got shape {jnp.shape(leaf)}."
                )

    def _evaluate_piece(self, index: Array, offset: Array) -> PyTree:
        def leaf(d: Array, c: Array, b: Array, a: Array) -> Array:
            s = offset.astype(a.dtype)
            # Horner's rule: a + s (b + s (c + s d)).
            return a[index] + s * (b[index] + s * (c[index] + s * d[index]))

        return jax.tree_util.tree_map(leaf, *self.coeffs)

    def _derivative_piece(self, index: Array, offset: Array) -> PyTree:
        def leaf(d: Array, c: Array, b: Array, a: Array) -> Array:
            del a
            s = offset.astype(b.dtype)
            return b[index] + s * (2 * c[index] + 3 * s * d[index])

        return jax.tree_util.tree_map(leaf, *self.coeffs)


__all__ = ["AbstractGlobalInterpolation", "LinearInterpolation", "CubicInterpolation"]
