"""Step-size controllers: how long the next step is, and whether the last one is kept.

Protocol (all times are *internal*, i.e. increasing; see `wrap`)::

    controller = controller.bind(t0, dt0)  # once per solve
    tnext, state = controller.init(terms, t0, t1, y0, dt0, args, func, error_order)
    keep, t0_next, t1_next, made_jump, state, result = controller.adapt_step_size(
        t0, t1, y0, y1_candidate, args, y_error, error_order, state)

The integration loop clips ``t1_next`` to the end of the interval.
"""

from __future__ import annotations

import abc
from collections.abc import Callable
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from ._custom_types import Args, ControllerState, InvalidArgumentError, PyTree, RealScalarLike, Y
from ._results import RESULTS
from ._term import AbstractTerm


def rms_norm(x: PyTree) -> jax.Array:
    """Root mean square over every element of every leaf.

    A tree with no elements at all (``None``, ``jnp.zeros((2, 0))``) has norm 0, not the
    0/0 = NaN of a literal mean: there is nothing to be wrong, so every step is accepted."""
    leaves = [jnp.ravel(leaf) for leaf in jax.tree_util.tree_leaves(x)]
    size = sum(leaf.size for leaf in leaves)
    if size == 0:
        dtypes = [jnp.finfo(jnp.result_type(leaf)).dtype for leaf in leaves]
        return jnp.zeros((), dtypes[0] if dtypes else float)
    squares = sum(jnp.sum(jnp.square(jnp.abs(leaf))) for leaf in leaves if leaf.size)
    return jnp.sqrt(squares / size)


@jax.custom_jvp
def nextafter_up(x: jax.Array) -> jax.Array:
    """The next float above ``x``, with derivative 1.

    ``jnp.nextafter`` has no differentiation rule, so a jump time computed with it would make
    `jax.grad` with respect to ``t0``/``t1`` fail. The shift is one ulp: as a function of
    ``x`` it is the identity to first order."""
    return jnp.nextafter(x, jnp.asarray(jnp.inf, jnp.result_type(x)))


@jax.custom_jvp
def nextafter_down(x: jax.Array) -> jax.Array:
    """The next float below ``x``, with derivative 1 (see `nextafter_up`)."""
    return jnp.nextafter(x, jnp.asarray(-jnp.inf, jnp.result_type(x)))


nextafter_up.defjvp(lambda primals, tangents: (nextafter_up(*primals), tangents[0]))
nextafter_down.defjvp(lambda primals, tangents: (nextafter_down(*primals), tangents[0]))


class AbstractStepSizeController(eqx.Module):
    """Abstract base of step-size controllers (see the module docstring)."""

    @property
    def adaptive(self) -> bool:
        """Whether steps can be rejected (needs a solver with an error estimate)."""
        return False

    @property
    def can_jump(self) -> bool:
        """Whether ``adapt_step_size`` may return ``made_jump=True`` (static)."""
        return False

    def wrap(self, direction: jax.Array) -> "AbstractStepSizeController":
        """The controller in internal time ``direction * t`` (for reverse-time solves)."""
        return self

    def bind(self, t0: jax.Array, dt0: jax.Array | None) -> "AbstractStepSizeController":
        """The controller for one solve from internal time ``t0`` with first step ``dt0``
        (None: chosen automatically). What stays fixed through the solve belongs here, among
        the loop's constants, rather than in the carried state that checkpointing stores at
        every checkpoint."""
        del t0, dt0
        return self

    def check(self, t0: RealScalarLike, t1: RealScalarLike) -> bool:
        """Check arguments known before tracing (raise ``ValueError``); return whether that
        covered everything (else `input_result` is used on the traced values)."""
        del t0, t1
        return True

    def input_result(self, t0: jax.Array, t1: jax.Array) -> jax.Array:
        """The result code for traced arguments (internal times), `RESULTS.successful` if
        valid."""
        del t0, t1
        return jnp.asarray(RESULTS.successful, jnp.int32)

    def tolerances(self) -> tuple[RealScalarLike | None, RealScalarLike | None]:
        """``(rtol, atol)`` handed to `AbstractSolver.bind_tolerances`."""
        return None, None

    @abc.abstractmethod
    def init(
        self,
        terms: AbstractTerm,
        t0: RealScalarLike,
        t1: RealScalarLike,
        y0: Y,
        dt0: RealScalarLike | None,
        args: Args,
        func: Callable[[AbstractTerm, RealScalarLike, Y, Args], PyTree],
        error_order: float | None,
    ) -> tuple[jax.Array, ControllerState]: ...

    @abc.abstractmethod
    def adapt_step_size(
        self,
        t0: jax.Array,
        t1: jax.Array,
        y0: Y,
        y1_candidate: Y,
        args: Args,
        y_error: Y | None,
        error_order: float | None,
        controller_state: ControllerState,
    ) -> tuple[jax.Array, jax.Array, jax.Array, jax.Array | bool, ControllerState, jax.Array]: ...


class ConstantStepSize(AbstractStepSizeController):
    """Steps of the fixed length ``dt0`` (the last one shortened to end at ``t1``).

    Step ends are the grid ``t0 + k * dt0``, each rounded once, not a running sum ``t + dt0``:
    a running sum drifts by up to half an ulp per step (335 ulp after 4096 steps of 0.001), so
    a grid that should land on ``t1`` would stop just short and take one sliver step more than
    ``(t1 - t0) / dt0``. On the grid, a solve (or a backward solve over the same interval)
    ends within an ulp or two of ``t1``, where the loop snaps it onto ``t1``."""

    def bind(self, t0, dt0):
        if dt0 is None:
            raise ValueError(
                "`dt0=None` needs an adaptive step-size controller; with "
                "`ConstantStepSize` pass a step size `dt0`."
            )
        t0 = jnp.asarray(t0)
        return _ConstantGrid(t0, jnp.asarray(dt0, t0.dtype))

    def init(self, terms, t0, t1, y0, dt0, args, func, error_order):
        return self.bind(t0, dt0).init(terms, t0, t1, y0, dt0, args, func, error_order)

    def adapt_step_size(self, t0, t1, y0, y1_candidate, args, y_error, error_order, state):
        raise TypeError(
            "`ConstantStepSize` steps on a grid fixed per solve: call `bind(t0, dt0)` first "
            "(as `diffeqsolve` does) and step with the controller it returns."
        )


class _ConstantGrid(AbstractStepSizeController):
    """`ConstantStepSize` bound to one solve: the grid ``origin + k * dt``. The carried state
    is only the index ``k`` of the step end about to be reached (origin and dt are loop
    constants, which a checkpointed loop does not store once per checkpoint)."""

    origin: jax.Array
    dt: jax.Array

    def init(self, terms, t0, t1, y0, dt0, args, func, error_order):
        del terms, t0, t1, y0, dt0, args, func, error_order
        return self.origin + self.dt, jnp.asarray(1, jnp.int32)

    def adapt_step_size(self, t0, t1, y0, y1_candidate, args, y_error, error_order, state):
        del t0, y0, y1_candidate, args, y_error, error_order
        index = state + 1
        dtype = jnp.result_type(t1)
        tnext = self.origin.astype(dtype) + index.astype(dtype) * self.dt.astype(dtype)
        return (
            jnp.asarray(True),
            t1,
            tnext,
            False,
            index,
            jnp.asarray(RESULTS.successful, jnp.int32),
        )


class StepTo(AbstractStepSizeController):
    """Steps exactly between consecutive times of ``ts`` (which must start at ``t0`` and end
    at ``t1``); use with ``dt0=None``."""

    ts: jax.Array

    def __init__(self, ts: jax.Array):
        ts = jnp.asarray(ts)
        if ts.ndim != 1 or ts.shape[0] < 2:
            raise ValueError("`StepTo(ts)` needs a 1-d array of at least two times.")
        self.ts = ts

    def wrap(self, direction: jax.Array) -> "StepTo":
        return StepTo(self.ts * direction)

    def input_result(self, t0: jax.Array, t1: jax.Array) -> jax.Array:
        ts = self.ts
        bad = (ts[0] != t0) | (ts[-1] != t1) | jnp.any(ts[1:] <= ts[:-1])
        return jnp.where(bad, RESULTS.invalid_step_to, RESULTS.successful).astype(jnp.int32)

    def check(self, t0: RealScalarLike, t1: RealScalarLike) -> bool:
        values = [_concrete(x) for x in (self.ts, t0, t1)]
        if any(v is None for v in values):
            return False
        ts, start, end = values
        # Both a ValueError and the RuntimeError diffrax raises (at run time) for these.
        if ts[0] != start or ts[-1] != end:
            raise InvalidArgumentError("`StepTo(ts)` must have `ts[0] == t0` and `ts[-1] == t1`.")
        direction = 1 if end >= start else -1
        if np.any(np.diff(ts) * direction <= 0):
            raise InvalidArgumentError(
                "`StepTo(ts)` must be strictly monotone in the direction of integration."
            )
        return True

    def init(self, terms, t0, t1, y0, dt0, args, func, error_order):
        del terms, y0, args, func, error_order
        if dt0 is not None:
            raise ValueError("`dt0` must be None with `StepTo`: the steps are given by `ts`.")
        ts = self.ts
        return ts[1].astype(jnp.result_type(t0, ts)), jnp.asarray(1, jnp.int32)

    def adapt_step_size(self, t0, t1, y0, y1_candidate, args, y_error, error_order, state):
        del t0, y0, y1_candidate, args, y_error, error_order
        index = jnp.minimum(state + 1, self.ts.shape[0] - 1)
        return (
            jnp.asarray(True),
            t1,
            self.ts[index].astype(jnp.result_type(t1)),
            False,
            index,
            jnp.asarray(RESULTS.successful, jnp.int32),
        )


class _PIDState(eqx.Module):
    prev_inv_error: jax.Array  # 1 / scaled error of the last accepted step
    prev_prev_inv_error: jax.Array  # ... and of the one before
    at_dtmin: jax.Array  # the proposed step was clamped to dtmin: accept it unconditionally


class _PIDMeta(type(eqx.Module)):
    """``PIDController(..., step_ts=..., jump_ts=...)`` (the diffrax < 0.7 form) builds
    ``ClipStepSizeController(PIDController(...), step_ts, jump_ts)``, as diffrax 0.7 does: one
    implementation of the clipping, and ``isinstance`` answers as in diffrax."""

    def __call__(cls, *args, **kwargs):
        step_ts = kwargs.pop("step_ts", None)
        jump_ts = kwargs.pop("jump_ts", None)
        controller = super().__call__(*args, **kwargs)
        if step_ts is None and jump_ts is None:
            return controller
        return ClipStepSizeController(controller, step_ts=step_ts, jump_ts=jump_ts)


class PIDController(AbstractStepSizeController, metaclass=_PIDMeta):
    """Adaptive steps from an embedded error estimate (PID control of the step size).

    The error of a step is ``norm(y_error / (atol + rtol * max(|y0|, |y1|)))`` (RMS by
    default); the step is kept when it is below 1. The next step is the last one times
    ``safety * e_n^(-b1) * e_{n-1}^(-b2) * e_{n-2}^(-b3)`` (``e`` the scaled errors,
    ``b1 = (pcoeff + icoeff + dcoeff) / q``, ``b2 = -(pcoeff + 2 dcoeff) / q``,
    ``b3 = dcoeff / q``, ``q`` the solver's error order), clipped to ``[1, factormax]`` after
    an accepted step and ``[factormin, safety]`` after a rejected one.
    The defaults (``icoeff=1``) are the classical integral (I) controller.

    - ``dtmin``/``dtmax``: bounds on the step. Below ``dtmin`` the solve fails
      (``RESULTS.dt_min_reached``) unless ``force_dtmin`` (the default), which takes the step
      of ``dtmin`` whatever its error.
    - ``step_ts`` / ``jump_ts`` (times to step to; discontinuities of the vector field): as
      in diffrax 0.7, passing either returns a `ClipStepSizeController` wrapping the
      `PIDController` built from the other arguments.
    - ``dt0=None`` in `diffeqsolve` picks the first step automatically (Hairer, Nørsett &
      Wanner, Solving ODEs I, section II.4).

    Pass tolerances as arrays (``jnp.asarray(1e-6)``) when sweeping them, so that a new value
    does not recompile (pitfall P8).
    """

    rtol: RealScalarLike
    atol: RealScalarLike
    pcoeff: RealScalarLike = 0
    icoeff: RealScalarLike = 1
    dcoeff: RealScalarLike = 0
    dtmin: RealScalarLike | None = None
    dtmax: RealScalarLike | None = None
    force_dtmin: bool = True
    factormin: RealScalarLike = 0.2
    factormax: RealScalarLike = 10.0
    safety: RealScalarLike = 0.9
    error_order: float | None = None
    norm: Callable[[PyTree], jax.Array] = eqx.field(static=True, default=rms_norm)

    @property
    def adaptive(self) -> bool:
        return True

    def tolerances(self):
        return self.rtol, self.atol

    def _error_order(self, error_order: float | None) -> float:
        order = self.error_order if self.error_order is not None else error_order
        if order is None:
            raise ValueError(
                "`PIDController` needs a solver with an error estimate (e.g. `Tsit5`); this "
                "solver has none. Use `ConstantStepSize` or set `PIDController(error_order=...)`."
            )
        return order

    def _scaled(self, y0: Y, y1: Y, error: Y) -> Y:
        def leaf(a: jax.Array, b: jax.Array, e: jax.Array) -> jax.Array:
            b = jnp.where(jnp.isnan(b), a, b)  # the step may have left the domain of f
            scale = self.atol + self.rtol * jnp.maximum(jnp.abs(a), jnp.abs(b))
            return e / scale.astype(e.dtype)  # complex errors: |scale| is real

        return jax.tree_util.tree_map(leaf, y0, y1, error)

    def _initial_step(self, terms, t0, y0, args, func, error_order) -> jax.Array:
        """Hairer's starting step: from the sizes of y0, f(t0, y0) and a difference quotient
        of f. (The two evaluations are traced separately: sharing one call through a
        two-iteration loop saves a few ops but costs more XLA compile time.)"""
        scale = jax.tree_util.tree_map(lambda y: self.atol + self.rtol * jnp.abs(y), y0)
        divide = lambda a: jax.tree_util.tree_map(  # noqa: E731
            lambda x, s: x / s.astype(x.dtype), a, scale
        )
        y_struct = jax.tree_util.tree_structure(y0)

        def rate(t, y):
            vf = func(terms, t, y, args)
            if jax.tree_util.tree_structure(vf) != y_struct:
                # e.g. a MultiTerm's tuple of vector fields: dy/dt is their sum.
                vf = terms.prod(vf, terms.contr(t, t + 1))
            return vf

        f0 = rate(t0, y0)
        sizes = divide(y0), divide(f0)
        leaves = [jax.tree_util.tree_leaves(x) for x in sizes]
        if leaves[0] and all(
            a.shape == b.shape and a.dtype == b.dtype for a, b in zip(*leaves, strict=True)
        ):
            # Both through one batched norm: XLA compiles one reduction kernel, not two.
            pairs = jax.tree_util.tree_map(lambda a, b: jnp.stack([a, b]), *sizes)
            d0, d1 = jax.vmap(self.norm)(pairs)
        else:
            d0, d1 = self.norm(sizes[0]), self.norm(sizes[1])
        small = (d0 < 1e-5) | (d1 < 1e-5)
        h0 = jnp.where(small, 1e-6, 0.01 * d0 / jnp.where(small, 1, d1))
        y1 = jax.tree_util.tree_map(lambda a, f: a + h0.astype(a.dtype) * f, y0, f0)
        f1 = rate(t0 + h0, y1)
        d2 = self.norm(divide(jax.tree_util.tree_map(jnp.subtract, f1, f0))) / h0
        max_d = jnp.maximum(d1, d2)
        h1 = jnp.where(
            max_d <= 1e-15,
            jnp.maximum(1e-6, h0 * 1e-3),
            (0.01 / jnp.where(max_d <= 1e-15, 1, max_d)) ** (1 / error_order),
        )
        return jnp.minimum(100 * h0, h1)

    def init(self, terms, t0, t1, y0, dt0, args, func, error_order):
        del t1
        if dt0 is None:
            order = self._error_order(error_order)
            dt0 = lax.stop_gradient(self._initial_step(terms, t0, y0, args, func, order))
        dt0 = jnp.asarray(dt0)
        if self.dtmax is not None:
            dt0 = jnp.minimum(dt0, self.dtmax)
        if self.dtmin is not None:
            dt0 = jnp.maximum(dt0, self.dtmin)
        one = jnp.asarray(1.0, _error_dtype(y0, t0))
        return t0 + dt0, _PIDState(one, one, jnp.asarray(False))

    def adapt_step_size(self, t0, t1, y0, y1_candidate, args, y_error, error_order, state):
        del args
        if y_error is None and jax.tree_util.tree_leaves(y0):  # (an empty state has no error)
            raise ValueError(
                "`PIDController` needs a solver with an error estimate; this solver has none. "
                "Use `ConstantStepSize`."
            )
        order = self._error_order(error_order)
        # Step-size choices are not differentiated (as in diffrax and torchdiffeq): the time
        # grid is treated as an implementation detail of the solve.
        scaled = self._scaled(*lax.stop_gradient((y0, y1_candidate, y_error)))
        # In the error state's dtype: the norm of a state without elements (y0=None) is a
        # default-float 0, which must not promote float32 step sizes (strict promotion).
        error = jnp.asarray(self.norm(scaled)).astype(state.prev_inv_error.dtype)
        keep = error < 1
        if self.dtmin is not None:
            keep = keep | state.at_dtmin
        inv_error = 1 / error
        coeff1 = (self.icoeff + self.pcoeff + self.dcoeff) / order
        coeff2 = -(self.pcoeff + 2 * self.dcoeff) / order
        coeff3 = self.dcoeff / order
        factor = self.safety * _power(inv_error, coeff1)
        factor = factor * _power(state.prev_inv_error, coeff2)
        factor = factor * _power(state.prev_prev_inv_error, coeff3)
        factor = jnp.clip(
            factor,
            jnp.where(keep, 1, self.factormin),
            jnp.where(keep, self.factormax, self.safety),
        )
        factor = lax.stop_gradient(factor)
        dt = (t1 - t0) * factor.astype(jnp.result_type(t1))
        # A failed step (infinite error) should not keep shrinking the following steps.
        inv_error = jnp.where((inv_error == 0) | jnp.isinf(inv_error), 1, inv_error)

        result = jnp.asarray(RESULTS.successful, jnp.int32)
        at_dtmin = state.at_dtmin
        if self.dtmax is not None:
            dt = jnp.minimum(dt, self.dtmax)
        if self.dtmin is not None:
            if not self.force_dtmin:
                result = RESULTS.promote(result, RESULTS.dt_min_reached, dt < self.dtmin)
            dt = jnp.where(at_dtmin & (factor == 1), self.dtmin, dt)
            at_dtmin = dt <= self.dtmin
            dt = jnp.maximum(dt, self.dtmin)

        t0_next = jnp.where(keep, t1, t0)
        new_state = _PIDState(
            prev_inv_error=jnp.where(keep, inv_error, state.prev_inv_error),
            prev_prev_inv_error=jnp.where(keep, state.prev_inv_error, state.prev_prev_inv_error),
            at_dtmin=at_dtmin,
        )
        return keep, t0_next, t0_next + dt, False, new_state, result


def _error_dtype(y0: Y, t0: RealScalarLike) -> jnp.dtype:
    """The real dtype of scaled errors: the state's (its real part's, if complex); the time's
    for a state without elements. Decided explicitly, so that float32 states with float64
    times work under ``jax.numpy_dtype_promotion("strict")``."""
    leaves = jax.tree_util.tree_leaves(y0)
    with jax.numpy_dtype_promotion("standard"):
        dtype = jnp.result_type(*leaves) if leaves else jnp.result_type(t0, float)
    if not jnp.issubdtype(dtype, jnp.inexact):
        dtype = jnp.result_type(float)
    return jnp.finfo(dtype).dtype


def _concrete(x: object) -> np.ndarray | None:
    try:
        return np.asarray(x)
    except (jax.errors.ConcretizationTypeError, jax.errors.TracerArrayConversionError):
        return None


def _power(x: jax.Array, exponent: RealScalarLike) -> jax.Array | float:
    """``x ** exponent``, skipping the op when the exponent is a literal zero."""
    if isinstance(exponent, (int, float)) and exponent == 0:
        return 1.0
    return x**exponent


def clip_to_marks(
    step_ts: jax.Array | None, jump_ts: jax.Array | None, t_start: jax.Array, t_end: jax.Array
) -> tuple[jax.Array, jax.Array]:
    """Shorten a proposed step ``[t_start, t_end]`` to end at the first ``step_ts`` or (one
    ulp before) the first ``jump_ts`` after ``t_start``; also say if it ends at a jump.
    Marks are sorted internal times."""
    is_jump = jnp.asarray(False)
    if step_ts is not None:
        t_end = jnp.minimum(t_end, _next_mark(step_ts, t_start, t_end))
    if jump_ts is not None:
        # No jump left after t_start: nothing to clip (the fallback is not a jump time).
        jump = _next_mark(jump_ts, t_start, jnp.asarray(jnp.inf, jnp.result_type(t_end)))
        before_jump = nextafter_down(jump)
        is_jump = before_jump <= t_end
        t_end = jnp.where(is_jump, jnp.maximum(before_jump, t_start), t_end)
    return t_end, is_jump


def sorted_times(ts: object, where: str) -> jax.Array | None:
    """``step_ts``/``jump_ts`` as a sorted 1-d array (lists, tuples, NumPy and jax arrays are
    accepted, as in diffrax 0.7); None stays None."""
    if ts is None:
        return None
    ts = jnp.asarray(ts)
    if ts.ndim != 1:
        raise ValueError(f"`{where}` must be a 1-d array of times, got shape {ts.shape}.")
    if not jnp.issubdtype(ts.dtype, jnp.floating):
        with jax.numpy_dtype_promotion("standard"):
            ts = ts.astype(jnp.result_type(float))
    return jnp.sort(ts)


def _next_mark(marks: jax.Array, t_start: jax.Array, fallback: jax.Array) -> jax.Array:
    """The first of the sorted ``marks`` strictly after ``t_start`` (``fallback`` if none)."""
    index = jnp.searchsorted(marks, t_start, side="right")
    safe = jnp.minimum(index, marks.shape[0] - 1)
    return jnp.where(index < marks.shape[0], marks[safe].astype(fallback.dtype), fallback)


# --- ClipStepSizeController ---------------------------------------------------------


class _ClipState(eqx.Module):
    inner: Any  # the wrapped controller's state


def _bump_past_jump(t: jax.Array, jump_ts: jax.Array) -> tuple[jax.Array, jax.Array]:
    """If ``t`` is the float just before a jump time, the float just after that jump (and
    True). Decided from the value, not from a flag carried between steps, so a solve that
    *starts* one ulp before a jump (the end of an earlier solve) crosses it too."""
    index = jnp.searchsorted(jump_ts, t, side="right")
    safe = jnp.minimum(index, jump_ts.shape[0] - 1)
    jump = jump_ts[safe].astype(jnp.result_type(t))
    at_jump = (index < jump_ts.shape[0]) & (nextafter_down(jump) == t)
    return jnp.where(at_jump, nextafter_up(jump), t), at_jump


class ClipStepSizeController(AbstractStepSizeController):
    """Wraps an adaptive step-size controller (e.g. `PIDController`) to clip its steps at
    ``step_ts`` and ``jump_ts`` (diffrax 0.7's home of these two).

    The wrapped controller proposes the next step as usual; the wrapper only shortens it:

    - to end exactly at the first of ``step_ts`` after the step's start (e.g. a time where the
      vector field has a kink, or where accuracy matters);
    - to end one ulp *before* the first of ``jump_ts`` (a discontinuity of the vector field); the
      step after it then starts one ulp *after* the jump, with ``made_jump=True`` so that
      first-same-as-last solvers re-evaluate the vector field instead of reusing a slope from
      the other side. The vector field is never evaluated at the jump itself. Whether a step
      crosses a jump is read off its start time (one ulp before a jump time), not carried as
      state, so nested wrappers and solves that start just before a jump both work.

    Wrappers nest: each one clips what the controller inside proposes.

    **Arguments:**

    - `controller`: the adaptive controller to wrap.
    - `step_ts`: times that must be stepped to exactly (any array-like of times).
    - `jump_ts`: times at which the vector field jumps (floating point).
    - `store_rejected_steps`: not supported here (it serves SDE solvers, which jaxlint.solver
      does not have); passing it raises.
    """

    controller: AbstractStepSizeController
    step_ts: jax.Array | None
    jump_ts: jax.Array | None

    def __init__(
        self,
        controller: AbstractStepSizeController,
        step_ts: Any = None,
        jump_ts: Any = None,
        store_rejected_steps: int | None = None,
    ):
        if not isinstance(controller, AbstractStepSizeController) or not controller.adaptive:
            raise ValueError(
                "`ClipStepSizeController(controller)` needs an adaptive controller such as "
                f"`PIDController(rtol, atol)`, got {type(controller).__name__}."
            )
        if store_rejected_steps is not None:
            raise NotImplementedError(
                "`ClipStepSizeController(store_rejected_steps=...)` is for SDE solvers, which "
                "jaxlint.solver does not have."
            )
        self.controller = controller
        self.step_ts = sorted_times(step_ts, "ClipStepSizeController(step_ts=...)")
        self.jump_ts = sorted_times(jump_ts, "ClipStepSizeController(jump_ts=...)")

    # What `diffeqsolve` and the solvers read from an adaptive controller.
    @property
    def adaptive(self) -> bool:
        return True

    @property
    def can_jump(self) -> bool:
        return self.jump_ts is not None or self.controller.can_jump

    @property
    def rtol(self) -> Any:
        return getattr(self.controller, "rtol", None)

    @property
    def atol(self) -> Any:
        return getattr(self.controller, "atol", None)

    @property
    def norm(self) -> Any:
        return getattr(self.controller, "norm", None)

    @property
    def error_order(self) -> Any:
        return getattr(self.controller, "error_order", None)

    def tolerances(self):
        return self.controller.tolerances()

    def check(self, t0: RealScalarLike, t1: RealScalarLike) -> bool:
        return self.controller.check(t0, t1)

    def input_result(self, t0: jax.Array, t1: jax.Array) -> jax.Array:
        return self.controller.input_result(t0, t1)

    def wrap(self, direction: jax.Array) -> "ClipStepSizeController":
        def internal(ts: jax.Array | None) -> jax.Array | None:
            return None if ts is None else jnp.sort(ts * direction)

        return eqx.tree_at(
            lambda c: (c.controller, c.step_ts, c.jump_ts),
            self,
            (self.controller.wrap(direction), internal(self.step_ts), internal(self.jump_ts)),
            is_leaf=lambda x: x is None,
        )

    def bind(self, t0: jax.Array, dt0: jax.Array | None) -> "ClipStepSizeController":
        return eqx.tree_at(lambda c: c.controller, self, self.controller.bind(t0, dt0))

    def init(self, terms, t0, t1, y0, dt0, args, func, error_order):
        tnext, inner = self.controller.init(terms, t0, t1, y0, dt0, args, func, error_order)
        tnext, _ = clip_to_marks(self.step_ts, self.jump_ts, jnp.asarray(t0), tnext)
        return tnext, _ClipState(inner)

    def adapt_step_size(self, t0, t1, y0, y1_candidate, args, y_error, error_order, state):
        keep, t0_next, t1_next, made_jump, inner, result = self.controller.adapt_step_size(
            t0, t1, y0, y1_candidate, args, y_error, error_order, state.inner
        )
        if self.jump_ts is not None:
            t0_next, jumped = _bump_past_jump(t0_next, self.jump_ts)
            made_jump = jnp.asarray(made_jump) | jumped
            # Never a step of zero length: the inner controller scales steps
            # multiplicatively and would stay stuck.
            t1_next = jnp.maximum(t1_next, nextafter_up(t0_next))
        t1_next, _ = clip_to_marks(self.step_ts, self.jump_ts, t0_next, t1_next)
        if not self.can_jump:
            made_jump = False
        return keep, t0_next, t1_next, made_jump, _ClipState(inner), result


__all__ = [
    "AbstractStepSizeController",
    "ConstantStepSize",
    "StepTo",
    "PIDController",
    "ClipStepSizeController",
    "rms_norm",
    "clip_to_marks",
    "sorted_times",
]
