"""`diffeqsolve`: the one integration loop.

The solve runs in *internal time* ``tau = direction * t``, which always increases, so the
loop, the controllers and the save logic never branch on the direction of integration. For
``t1 < t0`` the terms are wrapped (`_DirectionTerm`) so that ``dy/dtau`` is right.

Pieces, each small: argument checks (`_checks`), save buffers (`_save`), the loop state and
body (here), and how the loop is differentiated (the ``adjoint``, which hands in the loop
primitives: `_adjoint`).
"""

from __future__ import annotations

import functools
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp

from . import _save
from ._adjoint import AbstractAdjoint, RecursiveCheckpointAdjoint
from ._checks import (
    check_dt0,
    check_save_times,
    check_steps_need_bound,
    check_types,
    concrete_value,
    is_concrete,
)
from ._custom_types import Args, Array, PyTree, RealScalarLike, Y
from ._event import Event, event_happened, is_boolean
from ._interpolation import DenseInterpolation
from ._results import RESULTS
from ._runge_kutta import AbstractRungeKutta
from ._saveat import SaveAt
from ._solution import Solution
from ._solver_base import AbstractSolver
from ._step_size_controller import AbstractStepSizeController, ConstantStepSize
from ._term import AbstractTerm, MultiTerm


class _DirectionTerm(AbstractTerm):
    """A term seen in internal time ``tau = direction * t`` (used when ``t1 < t0``)."""

    term: AbstractTerm
    direction: Array

    def vf(self, t, y, args):
        out = self.term.vf(t * self.direction, y, args)
        return jax.tree_util.tree_map(lambda v: v * self.direction.astype(v.dtype), out)

    def contr(self, t0, t1):
        control = self.term.contr(t0 * self.direction, t1 * self.direction)
        return jax.tree_util.tree_map(lambda c: c * self.direction, control)

    def prod(self, vf, control):
        return self.term.prod(vf, control)


def _wrap_direction(terms: AbstractTerm, direction: Array) -> AbstractTerm:
    if isinstance(terms, MultiTerm):
        return MultiTerm(*(_DirectionTerm(t, direction) for t in terms.terms))
    return _DirectionTerm(terms, direction)


class _EventState(eqx.Module):
    value: Array  # the condition at the start of the current step
    happened: Array
    step_t0: Array  # the last accepted step, to locate the event inside it
    step_t1: Array
    step_info: PyTree


class _State(eqx.Module):
    y: Y
    tprev: Array
    tnext: Array
    made_jump: Array | None  # None when the controller never jumps (then statically False)
    solver_state: PyTree
    controller_state: PyTree
    result: Array
    num_steps: Array
    num_accepted_steps: Array
    num_rejected_steps: Array
    saves: tuple[_save.SaveState, ...]
    dense: _save.DenseState | None
    event: _EventState | None


class _Output(eqx.Module):
    """What one run of the loop produces (before it becomes a `Solution`)."""

    ts: list[Array]
    ys: list[PyTree]
    t_final: Array
    y_final: Y
    result: Array
    num_steps: Array
    num_accepted_steps: Array
    num_rejected_steps: Array
    dense: DenseInterpolation | None
    event_time: Array | None


def _as_inexact(x: Any) -> Array:
    x = jnp.asarray(x)
    if not jnp.issubdtype(x.dtype, jnp.inexact):
        x = x.astype(jnp.result_type(float))
    return x


def _all_finite(tree: PyTree) -> Array:
    leaves = [jnp.all(jnp.isfinite(x)) for x in jax.tree_util.tree_leaves(tree)]
    return functools.reduce(jnp.logical_and, leaves, jnp.asarray(True))


def _where(pred: Array, a: PyTree, b: PyTree) -> PyTree:
    return jax.tree_util.tree_map(lambda x, y: jnp.where(pred, x, y), a, b)


def _clip_to_end(tprev: Array, tnext: Array, t1: Array, t1_floor: Array, keep: Array) -> Array:
    """Snap a proposed end within ~100 ulp of ``t1`` (or past it) onto ``t1``; after a
    rejection, halve the remaining interval instead (avoids slivers of steps at the end)."""
    near_end = tnext > t1_floor
    return jnp.where(near_end, jnp.where(keep, t1, tprev + 0.5 * (t1 - tprev)), tnext)


class _Config(eqx.Module):
    """Everything the loop needs besides the differentiable inputs (terms, y0, args)."""

    solver: AbstractSolver
    controller: AbstractStepSizeController
    saveat: SaveAt
    save_ts: tuple[Array | None, ...]
    event: Event | None
    event_kwargs: dict[str, Any]
    t0: Array  # internal times
    t1: Array
    dt0: Array | None
    direction: Any  # the Python int 1 when known statically, else an array
    input_result: Array  # RESULTS.successful, or the code of an invalid traced argument
    t1_floor: Array  # t1 minus ~100 ulp: proposed step ends past it snap onto t1
    max_steps: int | None = eqx.field(static=True)

    def to_user_time(self, t: Array) -> Array:
        return t if isinstance(self.direction, int) else t * self.direction

    def internal_terms(self, terms: AbstractTerm) -> AbstractTerm:
        return terms if isinstance(self.direction, int) else _wrap_direction(terms, self.direction)


def _initial_state(config: _Config, terms: AbstractTerm, y0: Y, args: Args) -> _State:
    solver, controller, t0, t1 = config.solver, config.controller, config.t0, config.t1
    error_order = solver.error_order(terms)
    func = solver.func
    first_vf = None
    if isinstance(solver, AbstractRungeKutta) and solver.tableau.fsal and config.dt0 is None:
        # The FSAL cache and the initial-step selection both need f(t0, y0): evaluate (and
        # trace) the vector field once for both.
        first_vf = solver.func(terms, t0, y0, args)

        def func(terms_, t, y, args_):
            if t is t0 and y is y0:
                return first_vf
            return solver.func(terms_, t, y, args_)

    tnext, controller_state = controller.init(
        terms, t0, t1, y0, config.dt0, args, func, error_order
    )
    tnext = jnp.minimum(jnp.asarray(tnext, t0.dtype), t1)
    if first_vf is not None:
        solver_state = first_vf  # what `AbstractRungeKutta.init` returns for FSAL tableaus
    else:
        solver_state = solver.init(terms, t0, tnext, y0, args)
    saves = tuple(
        _save.allocate(sub, ts, t0, config.to_user_time, y0, args, config.max_steps)
        for sub, ts in zip(config.saveat.subs, config.save_ts)
    )
    dense = None
    if config.saveat.dense:
        assert config.max_steps is not None
        made_jump = False if not controller.can_jump else jnp.asarray(False)
        step_shape = jax.eval_shape(
            lambda: solver.step(terms, t0, tnext, y0, args, solver_state, made_jump)
        )
        dense = _save.allocate_dense(t0, t1, step_shape[2], y0, config.max_steps)
    event = None
    if config.event is not None:
        value = config.event.cond_fn(config.to_user_time(t0), y0, args, **config.event_kwargs)
        value = jnp.asarray(value)
        step_info = jax.eval_shape(
            lambda: solver.step(terms, t0, tnext, y0, args, solver_state, False)[2]
        )
        step_info = jax.tree_util.tree_map(lambda s: jnp.zeros(s.shape, s.dtype), step_info)
        event = _EventState(value, jnp.asarray(False), t0, t0, step_info)
    zero = jnp.asarray(0, jnp.int32)
    return _State(
        y=y0,
        tprev=t0,
        tnext=tnext,
        made_jump=jnp.asarray(False) if controller.can_jump else None,
        solver_state=solver_state,
        controller_state=controller_state,
        result=config.input_result,
        num_steps=zero,
        num_accepted_steps=zero,
        num_rejected_steps=zero,
        saves=saves,
        dense=dense,
        event=event,
    )


def _step_and_adapt(config: _Config, terms: AbstractTerm, args: Args, state: _State):
    """One attempted step and the controller's verdict on it."""
    solver, controller = config.solver, config.controller
    made_jump = False if state.made_jump is None else state.made_jump
    y1, y_error, dense_info, solver_state, solver_result = solver.step(
        terms, state.tprev, state.tnext, state.y, args, state.solver_state, made_jump
    )
    solver_ok = solver_result == RESULTS.successful
    if y_error is not None:
        # A failed (e.g. Newton) step or a NaN error must be rejected, not accepted.
        y_error = jax.tree_util.tree_map(
            lambda e: jnp.where(solver_ok & ~jnp.isnan(e), e, jnp.inf), y_error
        )
    keep, tprev, tnext, made_jump, controller_state, controller_result = (
        controller.adapt_step_size(
            state.tprev,
            state.tnext,
            state.y,
            y1,
            args,
            y_error,
            solver.error_order(terms),
            state.controller_state,
        )
    )
    result = RESULTS.promote(state.result, controller_result, True)
    if not controller.adaptive:
        # Without rejection a failed step ends the solve.
        result = RESULTS.promote(result, solver_result, ~solver_ok)
    t1 = config.t1
    tprev = jnp.minimum(tprev, t1)
    tnext = _clip_to_end(tprev, tnext, t1, config.t1_floor, keep)
    # No progress possible: the step size underflowed (usually a NaN/inf vector field).
    stalled = (tnext <= tprev) & (tprev < t1)
    error_finite = True if y_error is None else _all_finite(y_error)
    result = RESULTS.promote(
        result, jnp.where(error_finite, RESULTS.dt_min_reached, RESULTS.nonfinite), stalled
    )
    result = RESULTS.promote(result, RESULTS.nonfinite, keep & ~_all_finite(y1))
    new_made_jump = None if state.made_jump is None else jnp.where(keep, made_jump, state.made_jump)
    return keep, y1, dense_info, solver_state, controller_state, tprev, tnext, new_made_jump, result


def _body(config: _Config, terms: AbstractTerm, args: Args, inner_loop, state: _State) -> _State:
    (keep, y1, dense_info, solver_state, controller_state, tprev, tnext, made_jump, result) = (
        _step_and_adapt(config, terms, args, state)
    )
    interpolation = config.solver.interpolation_cls(t0=state.tprev, t1=state.tnext, **dense_info)
    saves = tuple(
        _save.save_in_step(
            sub, ts, save_state, interpolation, state.tnext, y1, keep,
            config.to_user_time, args, inner_loop, config.max_steps,
        )
        for sub, ts, save_state in zip(config.saveat.subs, config.save_ts, state.saves)
    )  # fmt: skip
    dense = state.dense
    if dense is not None:
        dense = _save.save_dense(dense, state.tnext, dense_info, keep)
    event = state.event
    if event is not None:
        value = config.event.cond_fn(
            config.to_user_time(state.tnext), y1, args, **config.event_kwargs
        )
        value = jnp.asarray(value)
        happened = keep & event_happened(event.value, value)
        event = _EventState(
            value=jnp.where(keep, value, event.value),
            happened=happened,
            step_t0=jnp.where(keep, state.tprev, event.step_t0),
            step_t1=jnp.where(keep, state.tnext, event.step_t1),
            step_info=_where(keep, dense_info, event.step_info),
        )
    return _State(
        y=_where(keep, y1, state.y),
        tprev=tprev,
        tnext=tnext,
        made_jump=made_jump,
        solver_state=_where(keep, solver_state, state.solver_state),
        controller_state=controller_state,
        result=result,
        num_steps=state.num_steps + 1,
        num_accepted_steps=state.num_accepted_steps + keep.astype(jnp.int32),
        num_rejected_steps=state.num_rejected_steps + (~keep).astype(jnp.int32),
        saves=saves,
        dense=dense,
        event=event,
    )


def _cond(config: _Config, state: _State) -> Array:
    going = (state.tprev < config.t1) & (state.result == RESULTS.successful)
    if state.event is not None:
        going = going & ~state.event.happened
    return going


def _buffers(saveat: SaveAt, state: _State) -> tuple:
    """The loop carries these as write-only buffers (no copies under autodiff). Which parts
    exist is decided from ``saveat`` (static), not by inspecting ``state``, whose leaves the
    loop may have wrapped."""
    if not saveat.subs:  # an empty tuple may itself have been wrapped as a leaf
        saves, steps = (), ()
    else:
        saves = tuple(s.ys for s in state.saves)
        steps = tuple(s.step_ts for s, sub in zip(state.saves, saveat.subs) if sub.steps)
    dense = (state.dense.ts, state.dense.infos) if saveat.dense else ()
    return saves + steps + dense


def _locate_event(config: _Config, args: Args, state: _State) -> tuple[Array, Y]:
    """The event time inside the last step (to the root finder's tolerance) and the state
    there. The time is differentiable through one implicit-function correction."""
    event = state.event
    interpolation = config.solver.interpolation_cls(
        t0=event.step_t0, t1=event.step_t1, **event.step_info
    )

    def value_fn(t: Array) -> Array:
        y = interpolation.evaluate(t)
        return jnp.asarray(
            config.event.cond_fn(config.to_user_time(t), y, args, **config.event_kwargs)
        )

    start = jax.lax.stop_gradient(value_fn(event.step_t0))

    def crossed(t: Array) -> Array:
        return event_happened(start, jax.lax.stop_gradient(value_fn(t)))

    lower, upper = jax.lax.stop_gradient((event.step_t0, event.step_t1))
    root = config.event.root_finder.find(value_fn, crossed, lower, upper)
    root = jax.lax.stop_gradient(root)
    if not is_boolean(event.value):
        # t* solves g(t*, p) = 0, so dt*/dp = -(dg/dp) / (dg/dt): one Newton step whose
        # value is ~0 but whose derivative is exactly that.
        value, slope = jax.jvp(value_fn, (root,), (jnp.ones_like(root),))
        slope = jax.lax.stop_gradient(slope)
        correction = value / jnp.where(slope == 0, 1, slope)
        root = root - (correction - jax.lax.stop_gradient(correction))
    root = jnp.where(event.happened, root, state.tprev)
    y_root = _where(event.happened, interpolation.evaluate(root), state.y)
    return root, y_root


def _finish(config: _Config, args: Args, state: _State) -> _Output:
    result = state.result
    t_final, y_final = state.tprev, state.y
    event_time = None
    if state.event is not None:
        result = jnp.where(state.event.happened, RESULTS.event_occurred, result).astype(jnp.int32)
        if config.event.root_finder is not None:
            t_final, y_final = _locate_event(config, args, state)
        event_time = jnp.where(state.event.happened, config.to_user_time(t_final), jnp.inf)
    unfinished = (state.tprev < config.t1) & (result == RESULTS.successful)
    result = RESULTS.promote(result, RESULTS.max_steps_reached, unfinished)
    ts, ys = [], []
    for sub, save_ts, save_state in zip(config.saveat.subs, config.save_ts, state.saves):
        sub_ts, sub_ys = _save.finalize(
            sub, save_ts, save_state, config.t0, t_final, y_final, config.to_user_time, args
        )
        ts.append(sub_ts)
        ys.append(sub_ys)
    dense = None
    if state.dense is not None:
        direction = jnp.asarray(config.direction, config.t0.dtype)
        dense = DenseInterpolation(
            interpolation_cls=config.solver.interpolation_cls,
            ts=state.dense.ts,
            infos=state.dense.infos,
            num_steps=state.dense.index,
            direction=direction,
        )
    return _Output(
        ts=ts,
        ys=ys,
        t_final=config.to_user_time(t_final),
        y_final=y_final,
        result=result,
        num_steps=state.num_steps,
        num_accepted_steps=state.num_accepted_steps,
        num_rejected_steps=state.num_rejected_steps,
        dense=dense,
        event_time=event_time,
    )


def run(config: _Config, terms: AbstractTerm, y0: Y, args: Args, outer_loop, inner_loop) -> _Output:
    """Build the initial state, run the loop with the adjoint's loop primitives, finish."""
    if config.event is not None:
        # The user's terms reach the event condition here rather than through `config`, so that
        # `config` never holds differentiated arrays (adjoints pass it as a constant).
        config = eqx.tree_at(
            lambda c: c.event_kwargs, config, dict(config.event_kwargs, terms=terms)
        )
    terms = config.internal_terms(terms)
    init_state = _initial_state(config, terms, y0, args)
    final_state = outer_loop(
        functools.partial(_cond, config),
        functools.partial(_body, config, terms, args, inner_loop),
        init_state,
        max_steps=config.max_steps,
        buffers=functools.partial(_buffers, config.saveat),
    )
    return _finish(config, args, final_state)


def diffeqsolve(
    terms: AbstractTerm,
    solver: AbstractSolver,
    t0: RealScalarLike,
    t1: RealScalarLike,
    dt0: RealScalarLike | None,
    y0: Y,
    args: Args = None,
    *,
    saveat: SaveAt = SaveAt(t1=True),
    stepsize_controller: AbstractStepSizeController = ConstantStepSize(),
    adjoint: AbstractAdjoint = RecursiveCheckpointAdjoint(),
    event: Event | None = None,
    max_steps: int | None = 4096,
    throw: bool = True,
) -> Solution:
    """Solve ``dy/dt = f(t, y, args)`` from ``t0`` to ``t1`` (either direction).

    - ``terms``: what to integrate, e.g. ``ODETerm(f)``; ``y0`` and ``args`` any PyTrees.
    - ``solver``: e.g. ``Tsit5()``; ``dt0``: the first step (None: chosen automatically,
      needs an adaptive ``stepsize_controller`` such as ``PIDController(rtol, atol)``).
    - ``saveat``: what to return (default: the state at ``t1``); the compiled program does
      not depend on how many save points there are.
    - ``adjoint``: how the solve is differentiated (`RecursiveCheckpointAdjoint` by default).
    - ``event``: a terminating `Event`. ``max_steps``: bound on the number of steps (None
      for unbounded, where the adjoint allows).
    - ``throw``: raise a runtime error when the solve fails (else check ``Solution.result``).

    Arguments known before tracing (Python numbers, NumPy arrays, arrays outside ``jit``) are
    checked here with a ``ValueError``; traced ones get the same checks at run time.
    """
    check_types(terms, solver, stepsize_controller, saveat, max_steps)
    check_steps_need_bound(saveat, max_steps)
    if not isinstance(adjoint, AbstractAdjoint):
        raise TypeError(
            "`adjoint` must be an adjoint such as `RecursiveCheckpointAdjoint()`, got "
            f"{type(adjoint).__name__}."
        )
    if event is not None and not isinstance(event, Event):
        raise TypeError(f"`event` must be an `Event`, got {type(event).__name__}.")
    adjoint.check(saveat=saveat, event=event, max_steps=max_steps)
    direction = None
    if is_concrete(t0, t1):
        direction = 1 if float(concrete_value(t1)) >= float(concrete_value(t0)) else -1
    controller_checked = stepsize_controller.check(t0, t1)
    dt0_checked = dt0 is None or is_concrete(t0, t1, dt0)
    if dt0_checked:
        check_dt0(t0, t1, dt0)
    ts_checked = direction is not None and all(
        is_concrete(sub.ts) for sub in saveat.subs if sub.ts is not None
    )
    if ts_checked:
        for sub in saveat.subs:
            if sub.ts is not None:
                internal_ts = concrete_value(sub.ts) * direction
                check_save_times(internal_ts, t0 * direction, t1 * direction, "SaveAt(ts=...)")
    return _diffeqsolve(
        terms, solver, t0, t1, dt0, y0, args, saveat=saveat,
        stepsize_controller=stepsize_controller, adjoint=adjoint, event=event,
        max_steps=max_steps, throw=throw, static_direction=direction,
        dt0_checked=dt0_checked, ts_checked=ts_checked, controller_checked=controller_checked,
    )  # fmt: skip


@eqx.filter_jit
def _diffeqsolve(
    terms, solver, t0, t1, dt0, y0, args, *, saveat, stepsize_controller, adjoint, event,
    max_steps, throw, static_direction, dt0_checked, ts_checked, controller_checked,
) -> Solution:  # fmt: skip
    # Traced arguments that fail a check set this code: the loop then never starts.
    input_result = jnp.asarray(RESULTS.successful, jnp.int32)
    y0 = jax.tree_util.tree_map(_as_inexact, y0)
    time_dtype = jnp.result_type(t0, t1, *([] if dt0 is None else [dt0]), float)
    t0 = jnp.asarray(t0, time_dtype)
    t1 = jnp.asarray(t1, time_dtype)
    if dt0 is not None:
        dt0 = jnp.asarray(dt0, time_dtype)
        if not dt0_checked:
            input_result = RESULTS.promote(input_result, check_dt0(t0, t1, dt0), True)
    if static_direction == 1:
        direction: Any = 1
        controller = stepsize_controller
    else:
        if static_direction == -1:
            direction = jnp.asarray(-1, time_dtype)
        else:
            direction = jnp.where(t1 >= t0, 1, -1).astype(time_dtype)
        controller = stepsize_controller.wrap(direction)
    internal = (lambda t: t) if isinstance(direction, int) else (lambda t: t * direction)
    save_ts = []
    for sub in saveat.subs:
        ts = None if sub.ts is None else internal(jnp.asarray(sub.ts, time_dtype))
        if ts is not None and not ts_checked:
            code = check_save_times(ts, internal(t0), internal(t1), "SaveAt(ts=...)")
            input_result = RESULTS.promote(input_result, code, True)
        save_ts.append(ts)
    save_ts = tuple(save_ts)
    if not controller_checked:
        code = controller.input_result(internal(t0), internal(t1))
        input_result = RESULTS.promote(input_result, code, True)
    config = _Config(
        solver=solver.bind_tolerances(*controller.tolerances()),
        controller=controller,
        saveat=saveat,
        save_ts=save_ts,
        event=event,
        event_kwargs=dict(
            solver=solver, t0=t0, t1=t1, dt0=dt0, saveat=saveat,
            stepsize_controller=stepsize_controller, max_steps=max_steps,
        ),
        t0=internal(t0),
        t1=internal(t1),
        dt0=None if dt0 is None else internal(dt0),
        direction=direction,
        input_result=input_result,
        t1_floor=internal(t1) - 100 * jnp.abs(t1 - jnp.nextafter(t1, -direction * jnp.inf)),
        max_steps=max_steps,
    )  # fmt: skip
    out = adjoint.run(run, config, terms, y0, args)
    single = saveat._single
    solution = Solution(
        t0=t0,
        t1=t1,
        ts=(out.ts[0] if out.ts else None) if single else out.ts,
        ys=(out.ys[0] if out.ys else None) if single else out.ys,
        interpolation=out.dense,
        stats=dict(
            num_steps=out.num_steps,
            num_accepted_steps=out.num_accepted_steps,
            num_rejected_steps=out.num_rejected_steps,
            max_steps=max_steps,
        ),
        result=out.result,
        event_time=out.event_time,
    )
    if throw:
        solution = RESULTS.raise_if_failed(solution, solution.result)
    return solution


__all__ = ["diffeqsolve"]
