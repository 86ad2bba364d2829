"""Kværnø's ESDIRK methods (Kvaerno3, Kvaerno4, Kvaerno5) on one generic engine.

An ESDIRK (explicit first stage, singly diagonally implicit Runge–Kutta) method with ``s``
stages, step ``h`` and increments ``k_i = f(t0 + c_i h, Y_i) h`` solves, stage after stage::

    k_1 = f(t0, y0) h                                        (explicit)
    Y_i = y0 + sum_{j<i} a_ij k_j + gamma k_i,  k_i = f(t0 + c_i h, Y_i) h   (i = 2..s)

Every implicit stage has the same diagonal ``gamma``, so one LU factorisation of
``I - gamma h J`` serves all stages (chord iterations, see `VeryChord`). Kværnø's methods are
*stiffly accurate*: the solution is the last stage (``b = a_s``) and the embedded solution of
one order less is the stage before (``b_hat = a_{s-1}``), both at ``c = 1``, so the error
estimate ``y1 - y1_hat`` costs nothing extra. The main methods are L-stable.

Reference: A. Kværnø, *Singly diagonally implicit Runge–Kutta methods with an explicit first
stage*, BIT Numerical Mathematics 44 (2004) 489–502.

The tableaus of Kvaerno3 and Kvaerno4 are computed below from their defining conditions
(the closed forms were derived by solving the order conditions symbolically); Kvaerno5's
are the published coefficients. `tests/solver/test_implicit.py` checks every one against the
rooted-tree order conditions and the stability function at infinity.

Stages run in a `jax.lax.fori_loop` over a fixed ``(s, n)`` stage buffer, so the vector field
is traced once per step whatever the number of stages (pitfall P2).
"""

from __future__ import annotations

import dataclasses

from typing import Any, ClassVar

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from ._custom_types import Args, Array, BoolScalarLike, DenseInfo, RealScalarLike, Y
from ._implicit import chord_factor, linearise_step, solve_stage
from ._interpolation import (
    AbstractStagePolynomialInterpolation,
    ThirdOrderHermitePolynomialInterpolation,
)
from ._order_conditions import continuous_weights
from ._newton import VeryChord, is_very_chord
from ._results import RESULTS
from ._solver_base import AbstractImplicitSolver
from ._term import AbstractTerm


def _stage_predictor(c: np.ndarray) -> np.ndarray:
    """Weights ``P[i, j]`` of the Newton starting guess ``k_i ~ sum_j P[i, j] k_j`` (j < i).

    A stage at the same ``c`` as an earlier one starts from that stage's increment (the two
    stage values differ by a high power of ``h``). Otherwise the increment is interpolated (or
    extrapolated) linearly in ``c`` through the two earlier stages with distinct ``c`` closest
    to ``c_i``; stage 2 only has stage 1 and copies it.
    """
    s = len(c)
    predictor = np.zeros((s, s))
    for i in range(1, s):
        same = [j for j in range(i) if c[j] == c[i]]
        if same:
            predictor[i, same[-1]] = 1.0
            continue
        # Latest stage for each distinct c, nearest first (later stages win ties).
        latest: dict[float, int] = {}
        for j in range(i):
            latest[float(c[j])] = j
        nearest = sorted(latest.items(), key=lambda item: (abs(item[0] - c[i]), -item[1]))
        if len(nearest) == 1:
            predictor[i, nearest[0][1]] = 1.0
            continue
        (c_p, p), (c_q, q) = nearest[:2]
        theta = (c[i] - c_p) / (c_q - c_p)
        predictor[i, p] = 1.0 - theta
        predictor[i, q] = theta
    return predictor


@dataclasses.dataclass(frozen=True)
class ESDIRKTableau:
    """A stiffly accurate ESDIRK pair.

    - ``a``: the ``(s, s)`` lower-triangular coefficient matrix, ``a[0] = 0`` (explicit first
      stage) and ``a[i, i] = gamma`` for ``i >= 1``.
    - ``order``: the order of the solution ``a[s-1]``; the embedded one ``a[s-2]`` has
      ``order - 1``.

    Derived: ``c`` (row sums), the solution weights ``b``, the error weights
    ``b - b_hat`` and the Newton predictor.
    """

    a: np.ndarray
    order: int

    def __post_init__(self) -> None:
        a = np.asarray(self.a, dtype=np.float64)
        s = a.shape[0]
        if a.shape != (s, s) or np.any(np.triu(a, 1)) or np.any(a[0]):
            raise ValueError("`a` must be square, lower triangular, with an explicit first row.")
        if not np.allclose(np.diag(a)[1:], a[1, 1]):
            raise ValueError("An ESDIRK tableau needs one diagonal value `gamma` for stages 2..s.")
        object.__setattr__(self, "a", a)

    @property
    def num_stages(self) -> int:
        return self.a.shape[0]

    @property
    def gamma(self) -> float:
        return float(self.a[1, 1])

    @property
    def c(self) -> np.ndarray:
        return self.a.sum(axis=1)

    @property
    def a_explicit(self) -> np.ndarray:
        """``a`` without its diagonal: the weights of the already-known stages."""
        return np.tril(self.a, -1)

    @property
    def b(self) -> np.ndarray:
        return self.a[-1].copy()

    @property
    def b_error(self) -> np.ndarray:
        embedded = np.zeros(self.num_stages)
        embedded[:-1] = self.a[-2, :-1]
        return self.b - embedded

    @property
    def predictor(self) -> np.ndarray:
        return _stage_predictor(self.c)


def _kvaerno3_tableau() -> ESDIRKTableau:
    # gamma: the root in (0, 1/2) of 6 g^3 - 18 g^2 + 9 g - 1, which makes the third-order
    # method L-stable (its stability function vanishes at infinity).
    g = 0.435866521508459
    # Stage 3 (c = 1) is the order-2 embedded solution and stage 4 the order-3 solution;
    # a[2] and a[3] are the unique solutions of their quadrature conditions with c2 = 2 g.
    a32 = (1 - 2 * g) / (4 * g)
    a42 = 1 / (12 * g * (1 - 2 * g))
    a43 = 0.5 - g - 2 * g * a42
    a = np.array(
        [
            [0.0, 0.0, 0.0, 0.0],
            [g, g, 0.0, 0.0],
            [1 - g - a32, a32, g, 0.0],
            [1 - g - a42 - a43, a42, a43, g],
        ]
    )
    return ESDIRKTableau(a=a, order=3)


def _kvaerno4_tableau() -> ESDIRKTableau:
    # gamma: the root near 0.5728 of g^4 - 4 g^3 + 3 g^2 - 2 g / 3 + 1 / 24, which makes the
    # fourth-order method L-stable (the "4/3" variant of Kværnø's paper, advancing with the
    # fourth-order last stage).
    g = 0.5728160624821349
    # c = (0, 2g, c3, 1, 1); stage 2 has stage order 2 (a21 = g). Given c3, stage 3 has stage
    # order 2, stage 4 (order 3) and stage 5 (order 4) satisfy their quadrature conditions
    # sum_j a_ij c_j^q = 1 / (q + 1); the remaining fourth-order condition
    # b . (A c^2) = 1/12 fixes c3 (the other three order-4 trees follow from stage order 2).
    c3 = 2 * g * (12 * g**2 - 9 * g + 2) / (12 * g**2 - 6 * g + 1)
    a32 = (c3**2 / 2 - g * c3) / (2 * g)
    nodes = np.array([0.0, 2 * g, c3, 1.0])

    def quadrature_row(num_nodes: int) -> np.ndarray:
        # sum_{j < num_nodes} a_j c_j^q + g * 1 = 1/(q+1) for q = 0..num_nodes-1
        powers = np.arange(num_nodes)
        vandermonde = nodes[None, :num_nodes] ** powers[:, None]
        return np.linalg.solve(vandermonde, 1.0 / (powers + 1) - g)

    a = np.zeros((5, 5))
    a[1, :2] = [g, g]
    a[2, :3] = [c3 - g - a32, a32, g]
    a[3, :3] = quadrature_row(3)
    a[3, 3] = g
    a[4, :4] = quadrature_row(4)
    a[4, 4] = g
    return ESDIRKTableau(a=a, order=4)


def _kvaerno5_tableau() -> ESDIRKTableau:
    # Kværnø's 5/4 pair, gamma = 0.26 (published coefficients; stage 7 is the order-5
    # solution, stage 6 the order-4 embedded one; both at c = 1, stage order 2 throughout).
    g = 0.26
    lower = [
        [],
        [0.26],
        [0.13, 0.84033320996790809],
        [0.22371961478320505, 0.47675532319799699, -0.06470895363112615],
        [0.16648564323248321, 0.10450018841591720, 0.03631482272098715, -0.13090704451073998],
        [0.13855640231268224, 0.0, -0.04245337201752043, 0.02446657898003141,
         0.61943039072480676],
        [0.13659751177640291, 0.0, -0.05496908796538376, -0.04118626728321046,
         0.62993304899016403, 0.06962479448202728],
    ]  # fmt: skip
    a = np.zeros((7, 7))
    for i, row in enumerate(lower):
        a[i, : len(row)] = row
        if i > 0:
            a[i, i] = g
    return ESDIRKTableau(a=a, order=5)


KVAERNO3_TABLEAU = _kvaerno3_tableau()
KVAERNO4_TABLEAU = _kvaerno4_tableau()
KVAERNO5_TABLEAU = _kvaerno5_tableau()


class AbstractESDIRK(AbstractImplicitSolver):
    """The generic stiffly accurate ESDIRK step; subclasses only name a `ESDIRKTableau`."""

    tableau: eqx.AbstractClassVar[ESDIRKTableau]
    interpolation_cls: ClassVar[type[ThirdOrderHermitePolynomialInterpolation]] = (
        ThirdOrderHermitePolynomialInterpolation
    )
    root_finder: eqx.AbstractVar[Any]
    root_find_max_steps: eqx.AbstractVar[int]
    # Stage weights of an estimate of the dense output's error, combined with the embedded
    # error estimate (root of the sum of squares, per component); None: step error only.
    dense_error_weights: ClassVar[np.ndarray | None] = None

    def order(self, terms: AbstractTerm) -> int:
        del terms
        return self.tableau.order

    def error_order(self, terms: AbstractTerm) -> float:
        # The embedded method has order p - 1: its local error, the estimate, is O(h^p).
        del terms
        return float(self.tableau.order)

    # init (no state) and bind_tolerances come from AbstractImplicitSolver. There is no
    # first-same-as-last cache: the first stage's increment comes for free with the Jacobian
    # evaluation at (t0, y0) that every step needs anyway.

    def step(
        self,
        terms: AbstractTerm,
        t0: RealScalarLike,
        t1: RealScalarLike,
        y0: Y,
        args: Args,
        solver_state: None,
        made_jump: BoolScalarLike,
    ) -> tuple[Y, Y, DenseInfo, None, Array]:
        del solver_state, made_jump
        tableau = self.tableau
        chord = is_very_chord(self.root_finder)
        problem = linearise_step(terms, t0, t1, y0, args, with_jacobian=chord)
        dtype = problem.y0.dtype
        gamma = tableau.gamma
        chord_solve = chord_factor(problem.jacobian, gamma) if chord else None

        a_explicit = jnp.asarray(tableau.a_explicit, dtype)
        predictor = jnp.asarray(tableau.predictor, dtype)
        time_dtype = jnp.result_type(t0, t1, float)  # integer times still get real stages
        t0_array = jnp.asarray(t0, time_dtype)
        h = jnp.asarray(t1, time_dtype) - t0_array
        c = jnp.asarray(tableau.c, time_dtype)

        stages = jnp.zeros((tableau.num_stages, problem.y0.shape[0]), dtype)
        stages = stages.at[0].set(problem.k0)

        def implicit_stage(i: Array, carry: tuple[Array, Array]) -> tuple[Array, Array]:
            stages, result = carry
            t_i = t0_array + c[i] * h
            known = problem.y0 + a_explicit[i] @ stages

            # Unknown: w = gamma k_i, the stage value minus what is already known.
            def residual(w: Array) -> Array:
                return w - gamma * problem.increment(t_i, known + w)

            guess = gamma * (predictor[i] @ stages)
            w, stage_result = solve_stage(
                self, residual, guess, chord_solve, problem.y0, skip=result != RESULTS.successful
            )
            stages = stages.at[i].set(w / gamma)
            result = RESULTS.promote(result, stage_result, stage_result != RESULTS.successful)
            return stages, result

        initial = (stages, jnp.asarray(RESULTS.successful, jnp.int32))
        stages, result = lax.fori_loop(1, tableau.num_stages, implicit_stage, initial)
        # A rejected step must not carry NaN/inf into the (discarded) proposal.
        stages = jnp.where(result == RESULTS.successful, stages, jnp.zeros_like(stages))
        y1_flat = problem.y0 + jnp.asarray(tableau.b, dtype) @ stages
        error_flat = jnp.asarray(tableau.b_error, dtype) @ stages
        if self.dense_error_weights is not None:
            # The dense output's error joins the step's (see Kvaerno5).
            dense_error = jnp.asarray(self.dense_error_weights, dtype) @ stages
            error_flat = jnp.hypot(error_flat, dense_error)
        y1 = problem.unravel(y1_flat)
        if issubclass(self.interpolation_cls, AbstractStagePolynomialInterpolation):
            dense_info = dict(y0=y0, y1=y1, k=jax.vmap(problem.unravel)(stages))
        else:
            dense_info = dict(
                y0=y0, y1=y1, k0=problem.unravel(stages[0]), k1=problem.unravel(stages[-1])
            )
        return y1, problem.unravel(error_flat), dense_info, None, result


class Kvaerno3(AbstractESDIRK):
    """Kværnø's 3/2 ESDIRK method: L-stable, stiffly accurate, third order.

    Four stages (one explicit), with an embedded second-order solution for adaptive steps and
    cubic Hermite dense output. For stiff problems at moderate tolerances.

    **Arguments:**

    - `root_finder`: `VeryChord` (default) or an optimistix root finder; tolerances from the
      step-size controller when left unset.
    - `root_find_max_steps`: the most root-finder iterations per stage.
    """

    tableau: ClassVar[ESDIRKTableau] = KVAERNO3_TABLEAU
    root_finder: Any = eqx.field(default_factory=VeryChord)
    root_find_max_steps: int = eqx.field(static=True, default=10)


class Kvaerno4(AbstractESDIRK):
    """Kværnø's 4/3 ESDIRK method: L-stable, stiffly accurate, fourth order.

    Five stages (one explicit), embedded third-order solution, cubic Hermite dense output.

    **Arguments:**

    - `root_finder`: `VeryChord` (default) or an optimistix root finder; tolerances from the
      step-size controller when left unset.
    - `root_find_max_steps`: the most root-finder iterations per stage.
    """

    tableau: ClassVar[ESDIRKTableau] = KVAERNO4_TABLEAU
    root_finder: Any = eqx.field(default_factory=VeryChord)
    root_find_max_steps: int = eqx.field(static=True, default=10)


class Kvaerno5Interpolation(AbstractStagePolynomialInterpolation):
    """Kvaerno5's dense output: quartic continuous weights on the seven stages, of continuous
    order 4 (the most these stages allow), matching ``y1`` and the slopes at both ends (the
    last stage is the vector field at ``(t1, y1)``: the method is stiffly accurate). Derived
    from the order conditions by `continuous_weights`. One order more than the cubic Hermite
    interpolant, which matters where saved times fall inside the long steps that Kvaerno5
    takes through stiff transients."""

    weights: ClassVar[np.ndarray] = continuous_weights(
        KVAERNO5_TABLEAU.a, KVAERNO5_TABLEAU.b, order=4, degree=4, fsal_stage=6
    )

    t0: Array
    t1: Array
    y0: Y
    y1: Y
    k: Y


def _mid_step_gap(weights: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Stage weights of ``quartic(1/2) - hermite(1/2)``: how far the cubic Hermite
    interpolant of the step is from the quartic dense output at mid-step. Both are linear in
    the stages (``y1 = y0 + b . k``; the end slopes are the first and last stages), so the
    difference is one weight vector. It is O(h^4): it bounds the Hermite error, and so
    (conservatively) the quartic's."""
    s = weights.shape[0]
    quartic = weights @ 0.5 ** np.arange(1, weights.shape[1] + 1)
    hermite = b / 2 + (np.eye(s)[0] - np.eye(s)[s - 1]) / 8
    return quartic - hermite


class Kvaerno5(AbstractESDIRK):
    """Kværnø's 5/4 ESDIRK method: L-stable, stiffly accurate, fifth order.

    Seven stages (one explicit), embedded fourth-order solution, quartic dense output of
    continuous order 4 (`Kvaerno5Interpolation`). Some stages lie past the step
    (``c_3 = 1.23``), so the vector field is evaluated slightly beyond ``t1``. The method of
    choice for stiff problems at tight tolerances.

    *Differs from diffrax on purpose:* the error estimate that the step-size controller sees
    also holds the dense output's error at mid-step (`_mid_step_gap`, combined as a root sum
    of squares), so values saved between step ends (``SaveAt(ts=...)``, ``dense=True``) meet
    the tolerance too, not only the step ends. On ROBER at ``rtol = atol = 1e-10``
    (benchmarks/solver_vs_diffrax.py) this takes 268 steps instead of 71 and brings the
    saved values from 14x the tolerance to below 0.1x; diffrax (cubic Hermite, no such
    control) takes 1155 steps.

    **Arguments:**

    - `root_finder`: `VeryChord` (default) or an optimistix root finder; tolerances from the
      step-size controller when left unset.
    - `root_find_max_steps`: the most root-finder iterations per stage.
    """

    tableau: ClassVar[ESDIRKTableau] = KVAERNO5_TABLEAU
    interpolation_cls: ClassVar[type[Kvaerno5Interpolation]] = Kvaerno5Interpolation
    dense_error_weights: ClassVar[np.ndarray | None] = _mid_step_gap(
        Kvaerno5Interpolation.weights, KVAERNO5_TABLEAU.b
    )
    root_finder: Any = eqx.field(default_factory=VeryChord)
    root_find_max_steps: int = eqx.field(static=True, default=10)


__all__ = [
    "ESDIRKTableau",
    "AbstractESDIRK",
    "Kvaerno3",
    "Kvaerno4",
    "Kvaerno5",
    "KVAERNO3_TABLEAU",
    "KVAERNO4_TABLEAU",
    "KVAERNO5_TABLEAU",
]
