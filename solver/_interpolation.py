"""Dense output: interpolation over one step (local) and over the whole solve (global).

A solver step returns ``dense_info``, a dict of arrays; ``solver.interpolation_cls(t0=t0,
t1=t1, **dense_info)`` is the interpolant of that step. Local interpolants are evaluated with
``evaluate(t)`` (or ``evaluate(ta, tb)`` for the increment between two times) and
``derivative(t)``. `DenseInterpolation` stacks one local interpolant per accepted step in
fixed-size buffers and picks the right one by binary search.

Conventions: increments ``k`` are vector field times step, ``k = f(t, y) * (t1 - t0)``; a
step of zero length (``t0 == t1``) evaluates to ``y0`` with derivative zero instead of NaN.
"""

from __future__ import annotations

import abc

from typing import ClassVar

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from ._custom_types import Array, PyTree, RealScalarLike, Y


def _unit_time(t0: Array, t1: Array, t: RealScalarLike) -> tuple[Array, Array]:
    """The fraction ``s = (t - t0) / (t1 - t0)`` and the step ``h``; ``s = 0`` when ``h == 0``."""
    h = t1 - t0
    safe_h = jnp.where(h == 0, 1, h)
    s = jnp.where(h == 0, 0, (t - t0) / safe_h)
    return s, safe_h


def _combine(weights: list[Array], trees: list[PyTree]) -> PyTree:
    """Leaf-wise ``sum_i weights[i] * trees[i]`` (weights are scalars)."""

    def leaf(*xs: Array) -> Array:
        # Leaves may be Python scalars (a user-built interpolant over ``y0=2.1``).
        xs = tuple(jnp.asarray(x) for x in xs)
        return sum((w.astype(x.dtype) * x for w, x in zip(weights, xs)), jnp.zeros_like(xs[0]))

    return jax.tree_util.tree_map(leaf, *trees)


class AbstractLocalInterpolation(eqx.Module):
    """Interpolant of the solution over one step ``[t0, t1]``."""

    t0: eqx.AbstractVar[Array]
    t1: eqx.AbstractVar[Array]

    @abc.abstractmethod
    def _evaluate(self, t: RealScalarLike) -> Y: ...

    @abc.abstractmethod
    def derivative(self, t: RealScalarLike, left: bool = True) -> Y:
        """``dy/dt`` at ``t`` (``left`` only matters for interpolants with jumps)."""

    def evaluate(
        self, t0: RealScalarLike, t1: RealScalarLike | None = None, left: bool = True
    ) -> Y:
        """``y(t0)``, or the increment ``y(t1) - y(t0)`` when ``t1`` is given."""
        del left  # local interpolants are continuous
        if t1 is None:
            return self._evaluate(t0)
        return jax.tree_util.tree_map(jnp.subtract, self._evaluate(t1), self._evaluate(t0))


class LocalLinearInterpolation(AbstractLocalInterpolation):
    """The straight line from ``(t0, y0)`` to ``(t1, y1)`` (first order)."""

    t0: Array
    t1: Array
    y0: Y
    y1: Y

    def _evaluate(self, t: RealScalarLike) -> Y:
        s, _ = _unit_time(self.t0, self.t1, t)
        return _combine([1 - s, s], [self.y0, self.y1])

    def derivative(self, t: RealScalarLike, left: bool = True) -> Y:
        _, h = _unit_time(self.t0, self.t1, t)
        inv_h = jnp.where(self.t1 == self.t0, 0, 1 / h)
        return _combine([inv_h, -inv_h], [self.y1, self.y0])


class ThirdOrderHermitePolynomialInterpolation(AbstractLocalInterpolation):
    """The cubic matching values ``y0, y1`` and slopes at both ends.

    ``k0`` and ``k1`` are *increments*: the derivative at ``t0`` (resp. ``t1``) times the step
    ``t1 - t0``. Third order accurate when the slopes are exact.
    """

    t0: Array
    t1: Array
    y0: Y
    y1: Y
    k0: Y
    k1: Y

    @classmethod
    def from_k(
        cls, *, t0: Array, t1: Array, y0: Y, y1: Y, k: Y
    ) -> "ThirdOrderHermitePolynomialInterpolation":
        """From a stage buffer ``k`` (leading stage axis) of an FSAL Runge–Kutta step, whose
        first and last stages are the increments at ``t0`` and ``t1``."""
        k0 = jax.tree_util.tree_map(lambda x: x[0], k)
        k1 = jax.tree_util.tree_map(lambda x: x[-1], k)
        return cls(t0=t0, t1=t1, y0=y0, y1=y1, k0=k0, k1=k1)

    def _evaluate(self, t: RealScalarLike) -> Y:
        s, _ = _unit_time(self.t0, self.t1, t)
        s2, s3 = s * s, s * s * s
        weights = [2 * s3 - 3 * s2 + 1, s3 - 2 * s2 + s, -2 * s3 + 3 * s2, s3 - s2]
        return _combine(weights, [self.y0, self.k0, self.y1, self.k1])

    def derivative(self, t: RealScalarLike, left: bool = True) -> Y:
        s, h = _unit_time(self.t0, self.t1, t)
        inv_h = jnp.where(self.t1 == self.t0, 0, 1 / h)
        s2 = s * s
        weights = [6 * s2 - 6 * s, 3 * s2 - 4 * s + 1, -6 * s2 + 6 * s, 3 * s2 - 2 * s]
        return _combine([w * inv_h for w in weights], [self.y0, self.k0, self.y1, self.k1])


class AbstractStagePolynomialInterpolation(AbstractLocalInterpolation):
    """``y(t0 + s h) = y0 + sum_i b_i(s) k_i`` with ``b_i(s) = sum_j weights[i, j] s^(j+1)``.

    The native dense output of a Runge–Kutta pair: ``k`` is the stage buffer of the step
    (increments, leading stage axis) and ``weights`` a class constant of shape
    ``(num_stages, degree)``.
    """

    weights: ClassVar[np.ndarray]

    t0: eqx.AbstractVar[Array]
    t1: eqx.AbstractVar[Array]
    y0: eqx.AbstractVar[Y]
    y1: eqx.AbstractVar[Y]
    k: eqx.AbstractVar[Y]

    def _stage_weights(self, s: Array, derivative: bool) -> Array:
        degree = self.weights.shape[1]
        # Powers by repeated multiplication (degree <= 7): a float `pow` is far costlier to
        # compile and run than a handful of multiplies.
        powers = [jnp.ones_like(s)]
        for _ in range(degree):
            powers.append(powers[-1] * s)
        if derivative:
            basis = jnp.stack([(j + 1) * powers[j] for j in range(degree)])
        else:
            basis = jnp.stack(powers[1:])
        # Broadcast-multiply and sum rather than a matmul: XLA:CPU runs tiny dots as library
        # calls with a large fixed cost, while this fuses with its neighbours.
        return jnp.sum(jnp.asarray(self.weights, s.dtype) * basis[None, :], axis=1)

    def _apply(self, stage_weights: Array, base: Y | None) -> Y:
        def leaf(k: Array, *y0: Array) -> Array:
            w = stage_weights.astype(k.dtype).reshape((-1,) + (1,) * (k.ndim - 1))
            increment = jnp.sum(w * k, axis=0)
            return increment if not y0 else y0[0] + increment

        if base is None:
            return jax.tree_util.tree_map(leaf, self.k)
        return jax.tree_util.tree_map(leaf, self.k, base)

    def _evaluate(self, t: RealScalarLike) -> Y:
        s, _ = _unit_time(self.t0, self.t1, t)
        return self._apply(self._stage_weights(s, derivative=False), self.y0)

    def derivative(self, t: RealScalarLike, left: bool = True) -> Y:
        s, h = _unit_time(self.t0, self.t1, t)
        inv_h = jnp.where(self.t1 == self.t0, 0, 1 / h)
        return self._apply(self._stage_weights(s, derivative=True) * inv_h, None)


class DenseInterpolation(eqx.Module):
    """The solution over the whole solve: one local interpolant per accepted step.

    ``ts`` has ``max_steps + 1`` entries (step boundaries, padded with the last time reached) and
    every leaf of ``infos`` a leading axis of ``max_steps``. Times are *internal* times
    (increasing); ``direction`` maps user times to them (``-1`` for a reverse-time solve).
    """

    interpolation_cls: type[AbstractLocalInterpolation] = eqx.field(static=True)
    ts: Array
    infos: dict[str, PyTree]
    num_steps: Array
    direction: Array

    def _local(self, t: RealScalarLike) -> tuple[AbstractLocalInterpolation, Array]:
        t = jnp.asarray(t, self.ts.dtype) * self.direction
        last = jnp.maximum(self.num_steps - 1, 0)
        # Index of the step containing t; times past the ends use the first/last step.
        index = jnp.searchsorted(self.ts[1:], t, side="left")
        index = jnp.clip(index, 0, last)
        info = jax.tree_util.tree_map(lambda x: x[index], self.infos)
        local = self.interpolation_cls(t0=self.ts[index], t1=self.ts[index + 1], **info)
        return local, t

    def evaluate(
        self, t0: RealScalarLike, t1: RealScalarLike | None = None, left: bool = True
    ) -> Y:
        """``y(t0)``, or ``y(t1) - y(t0)`` when ``t1`` is given."""
        if t1 is not None:
            return jax.tree_util.tree_map(
                jnp.subtract, self.evaluate(t1, left=left), self.evaluate(t0, left=left)
            )
        local, t = self._local(t0)
        return local.evaluate(t)

    def derivative(self, t: RealScalarLike, left: bool = True) -> Y:
        """``dy/dt`` at user time ``t``."""
        local, t_internal = self._local(t)
        return jax.tree_util.tree_map(
            lambda d: d * self.direction.astype(d.dtype), local.derivative(t_internal)
        )


__all__ = [
    "AbstractLocalInterpolation",
    "LocalLinearInterpolation",
    "ThirdOrderHermitePolynomialInterpolation",
    "AbstractStagePolynomialInterpolation",
    "DenseInterpolation",
]
