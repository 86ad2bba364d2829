"""A generic explicit Runge–Kutta step driven by a Butcher tableau.

For a tableau ``(a, b, c)`` with ``s`` stages, one step from ``t0`` to ``t1 = t0 + h`` computes
increments ``k_i = f(t0 + c_i h, y0 + sum_j a_ij k_j) * h`` and returns
``y1 = y0 + sum_i b_i k_i``; an embedded method contributes the error estimate
``y_error = sum_i b_error_i k_i`` (``b_error = b - b_embedded``).

The stages run in one ``lax.scan`` over a fixed-size stage buffer (``k`` has a leading axis of
``s``), so the vector field is traced once whatever the number of stages (pitfall P2/P5). The
row ``a_i`` multiplies the whole buffer: entries not yet written are zeros with zero weights.

First-same-as-last (FSAL) tableaus, whose last stage is evaluated at ``(t1, y1)``, keep that
vector field as solver state and skip stage 0 on the next step. After a jump
(``made_jump`` not statically False) the cache may be stale, so stage 0 is recomputed.
"""

from __future__ import annotations

import dataclasses
from typing import ClassVar

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from ._custom_types import VF, Args, BoolScalarLike, DenseInfo, RealScalarLike, SolverState, Y
from ._interpolation import (
    AbstractStagePolynomialInterpolation,
    LocalLinearInterpolation,
    ThirdOrderHermitePolynomialInterpolation,
)
from ._multi_tableau import MultiButcherTableau, multi_tableau_step
from ._results import RESULTS
from ._solver_base import AbstractSolver
from ._term import AbstractTerm


@dataclasses.dataclass(frozen=True, eq=False)
class ButcherTableau:
    """The coefficients of an explicit Runge–Kutta method (NumPy arrays, float64).

    ``a`` is ``(s, s)`` strictly lower triangular, ``b`` and ``c`` have length ``s``;
    ``b_error`` (``b`` minus the embedded weights) is None for a method without an error
    estimate. Consistency (``c_i = sum_j a_ij``) is checked on construction.
    """

    a: np.ndarray
    b: np.ndarray
    c: np.ndarray
    b_error: np.ndarray | None = None

    def __post_init__(self) -> None:
        s = len(self.b)
        if self.a.shape != (s, s) or self.c.shape != (s,):
            raise ValueError(f"Tableau shapes disagree: a {self.a.shape}, b {s}, c {self.c.shape}.")
        if np.any(np.triu(self.a) != 0):
            raise ValueError("An explicit tableau's `a` must be strictly lower triangular.")
        if not np.allclose(self.a.sum(axis=1), self.c, atol=1e-12):
            raise ValueError("Tableau rows of `a` must sum to `c`.")
        if self.b_error is not None and self.b_error.shape != (s,):
            raise ValueError("`b_error` must have one weight per stage.")

    @property
    def num_stages(self) -> int:
        return len(self.b)

    @property
    def fsal_stage(self) -> int | None:
        """The stage evaluated at ``(t1, y1)`` (``c_i = 1``, ``a_i = b``), if any: its vector
        field is the next step's first stage. Stages after it (extra stages for dense output)
        are allowed."""
        for i in range(1, self.num_stages):
            if self.c[i] == 1 and np.allclose(self.a[i], self.b, atol=0, rtol=1e-15):
                return i
        return None

    @property
    def fsal(self) -> bool:
        """True when the tableau has a first-same-as-last stage."""
        return self.fsal_stage is not None

    @classmethod
    def from_rows(
        cls,
        c: list[float],
        a_rows: list[list[float]],
        b: list[float],
        b_embedded: list[float] | None = None,
    ) -> "ButcherTableau":
        """Build from the lower-triangular rows ``a_rows[i]`` (stage ``i + 1``, length
        ``i + 1``) as printed in papers."""
        s = len(b)
        a = np.zeros((s, s))
        for i, row in enumerate(a_rows):
            a[i + 1, : len(row)] = row
        b_arr = np.asarray(b, dtype=np.float64)
        b_error = None if b_embedded is None else b_arr - np.asarray(b_embedded, np.float64)
        return cls(a=a, b=b_arr, c=np.asarray(c, np.float64), b_error=b_error)


def _weighted_sum(weights: jax.Array, stages: Y) -> Y:
    """Leaf-wise ``sum_i weights[i] * stages[i]`` over the leading stage axis.

    A broadcast multiply and a sum, not a dot: XLA:CPU runs small dots as library calls with a
    fixed cost of about a microsecond, while this fuses into the surrounding loop body."""

    def leaf(k: jax.Array) -> jax.Array:
        w = weights.astype(k.dtype).reshape((-1,) + (1,) * (k.ndim - 1))
        return jnp.sum(w * k, axis=0)

    return jax.tree_util.tree_map(leaf, stages)


def _tree_add(a: Y, b: Y) -> Y:
    return jax.tree_util.tree_map(jnp.add, a, b)


class AbstractRungeKutta(AbstractSolver):
    """An explicit Runge–Kutta method: subclasses only name a `ButcherTableau` and orders.

    The interpolation is picked from the class's ``interpolation_cls``: linear, cubic Hermite
    (FSAL tableaus only: it needs the slope at ``t1``) or a native stage polynomial.
    """

    tableau: ClassVar[ButcherTableau | MultiButcherTableau]
    _order: ClassVar[int]
    _error_order: ClassVar[float | None] = None

    def order(self, terms: AbstractTerm) -> int:
        return self._order

    def error_order(self, terms: AbstractTerm) -> float | None:
        if self._error_order is None and self.tableau.b_error is not None:
            # A custom subclass that only defines `order`: as diffrax, the estimate's order.
            order = self.order(terms)
            return None if order is None else float(order)
        return self._error_order

    def carries_vf(
        self, terms: AbstractTerm, t0: RealScalarLike, t1: RealScalarLike, y0: Y, args: Args
    ) -> bool:
        """Whether the last stage's vector field is carried to the next step (FSAL): a
        first-same-as-last tableau, unless the term says its vector field is too expensive
        to carry (``is_vf_expensive``)."""
        return bool(self.tableau.fsal) and not terms.is_vf_expensive(t0, t1, y0, args)

    def init(
        self, terms: AbstractTerm, t0: RealScalarLike, t1: RealScalarLike, y0: Y, args: Args
    ) -> SolverState:
        if self.carries_vf(terms, t0, t1, y0, args):
            return terms.vf(t0, y0, args)
        return None

    def _dense_info(self, y0: Y, y1: Y, k: Y) -> DenseInfo:
        cls = self.interpolation_cls
        if not isinstance(cls, type) or issubclass(cls, AbstractStagePolynomialInterpolation):
            # A custom solver's interpolation (any callable) gets diffrax's dense_info: the
            # step's end values and its stage buffer ``k``.
            return dict(y0=y0, y1=y1, k=k)
        if issubclass(cls, ThirdOrderHermitePolynomialInterpolation):
            fsal_stage = self.tableau.fsal_stage
            assert fsal_stage is not None, "Hermite dense output needs an FSAL tableau"
            first = jax.tree_util.tree_map(lambda x: x[0], k)
            last = jax.tree_util.tree_map(lambda x: x[fsal_stage], k)
            return dict(y0=y0, y1=y1, k0=first, k1=last)
        if issubclass(cls, LocalLinearInterpolation):
            return dict(y0=y0, y1=y1)
        raise TypeError(f"Unsupported interpolation {cls} for a Runge–Kutta solver.")

    def step(
        self,
        terms: AbstractTerm,
        t0: RealScalarLike,
        t1: RealScalarLike,
        y0: Y,
        args: Args,
        solver_state: SolverState,
        made_jump: BoolScalarLike,
    ) -> tuple[Y, Y | None, DenseInfo, SolverState, jax.Array]:
        if isinstance(self.tableau, MultiButcherTableau):  # one tableau per term
            return multi_tableau_step(self, terms, t0, t1, y0, args, solver_state, made_jump)
        tableau = self.tableau
        num_stages = tableau.num_stages
        time_dtype = jnp.result_type(t0, t1)
        h = t1 - t0
        control = terms.contr(t0, t1)
        # Use the FSAL cache unless a jump may have invalidated it (known at trace time).
        fsal = self.carries_vf(terms, t0, t1, y0, args)
        use_cache = fsal and made_jump is False
        first_stage = 1 if use_cache else 0

        stages = jax.tree_util.tree_map(
            lambda y: jnp.zeros((num_stages, *jnp.shape(y)), jnp.result_type(y)), y0
        )
        if use_cache:
            first_increment = terms.prod(solver_state, control)
            stages = jax.tree_util.tree_map(
                lambda buf, k: buf.at[0].set(k), stages, first_increment
            )
            last_vf = solver_state
        else:
            last_vf = jax.tree_util.tree_map(
                jnp.zeros_like, jax.eval_shape(lambda: terms.vf(t0, y0, args))
            )

        fsal_stage = tableau.fsal_stage

        def one_stage(carry: tuple[Y, VF], xs: tuple[jax.Array, jax.Array, jax.Array]):
            stages, fsal_vf = carry
            a_row, c_i, i = xs
            y_i = _tree_add(y0, _weighted_sum(a_row, stages))
            vf = terms.vf(t0 + c_i * h, y_i, args)
            k_i = terms.prod(vf, control)
            stages = jax.tree_util.tree_map(
                lambda buf, k: lax.dynamic_update_index_in_dim(buf, k, i, 0), stages, k_i
            )
            if fsal_stage is not None and fsal_stage != num_stages - 1:
                # Extra stages follow the FSAL one: keep the vector field at (t1, y1).
                vf = jax.tree_util.tree_map(
                    lambda new, old: jnp.where(i == fsal_stage, new, old), vf, fsal_vf
                )
            return (stages, vf), None

        xs = (
            jnp.asarray(tableau.a[first_stage:], time_dtype),
            jnp.asarray(tableau.c[first_stage:], time_dtype),
            np.arange(first_stage, num_stages),  # a constant: an iota would be its own kernel
        )
        (stages, last_vf), _ = lax.scan(one_stage, (stages, last_vf), xs)

        y1 = _tree_add(y0, _weighted_sum(jnp.asarray(tableau.b, time_dtype), stages))
        if tableau.b_error is None:
            y_error = None
        else:
            y_error = self._error_estimate(stages, time_dtype)
        new_state = last_vf if fsal else None
        dense_info = self._dense_info(y0, y1, stages)
        return y1, y_error, dense_info, new_state, jnp.asarray(RESULTS.successful, jnp.int32)

    def _error_estimate(self, stages: Y, time_dtype: jnp.dtype) -> Y:
        """The embedded error estimate; a tableau family may override the combination."""
        assert self.tableau.b_error is not None
        return _weighted_sum(jnp.asarray(self.tableau.b_error, time_dtype), stages)


__all__ = ["ButcherTableau", "AbstractRungeKutta"]
