"""The one integration loop: state, step, saves, events, and the end of a solve.

The solve runs in *internal time* ``tau = direction * t``, which always increases, so the
loop, the controllers and the save logic never branch on the direction of integration. For
``t1 < t0`` the terms are wrapped (`_DirectionTerm`) so that ``dy/dtau`` is right.

`run` is called by the adjoint (`_adjoint`) with the loop primitives it chose; the public
entry point, argument handling and the `Solution` are in `_diffeqsolve`. Save buffers live in
`_save`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp

from . import _save
from ._custom_types import Args, Array, PyTree, Y
from ._event import AbstractRootFinder, Event, check_value, crossing, first_only, is_boolean
from ._interpolation import DenseInterpolation
from ._results import RESULTS
from ._runge_kutta import AbstractRungeKutta
from ._saveat import SaveAt
from ._solver_base import AbstractSolver
from ._step_size_controller import AbstractStepSizeController
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
    values: list[Array]  # each condition at the end of the last accepted step
    masks: list[Array]  # which condition fired (at most one True)
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
    progress: PyTree = None  # the progress meter's state


def _progress(config: _Config, state: PyTree, t: Array) -> PyTree:
    """The progress meter's report after a step ending at ``t`` (internal time)."""
    if config.progress_meter is None:
        return None
    span = config.t1 - config.t0
    finite = jnp.isfinite(span) & (span != 0)  # t1 = inf: a solve to steady state
    fraction = jnp.where(finite, (t - config.t0) / jnp.where(finite, span, 1), 0)
    return config.progress_meter.step(state, jnp.clip(fraction, 0, 1))


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
    event_mask: list[Array] | None
    solver_state: PyTree
    controller_state: PyTree
    made_jump: Array | None


def _all_finite(tree: PyTree) -> Array:
    leaves = [jnp.all(jnp.isfinite(x)) for x in jax.tree_util.tree_leaves(tree)]
    return functools.reduce(jnp.logical_and, leaves, jnp.asarray(True))


def _where(pred: Array, a: PyTree, b: PyTree) -> PyTree:
    return jax.tree_util.tree_map(lambda x, y: jnp.where(pred, x, y), a, b)


def _clip_to_end(tprev: Array, tnext: Array, t1: Array, t1_floor: Array, keep: Array) -> Array:
    """Snap a proposed end within ~100 ulp of ``t1`` (or past it) onto ``t1``; after a
    rejection, halve the remaining interval instead (avoids slivers of steps at the end).
    ``t1_floor`` is ``t1`` minus 100 ulp of the interval's time scale (`_diffeqsolve`)."""
    near_end = tnext > t1_floor
    return jnp.where(near_end, jnp.where(keep, t1, tprev + 0.5 * (t1 - tprev)), tnext)


class _Config(eqx.Module):
    """Everything the loop needs besides the differentiable inputs (terms, y0, args)."""

    solver: AbstractSolver
    controller: AbstractStepSizeController
    saveat: SaveAt
    save_ts: tuple[Array | None, ...]  # each SubSaveAt's ts in *user* time (see `_save`)
    event: Event | None
    event_kwargs: dict[str, Any]
    t0: Array  # internal times
    t1: Array
    dt0: Array | None
    direction: Any  # the Python int 1 when known statically, else an array
    input_result: Array  # RESULTS.successful, or the code of an invalid traced argument
    t1_floor: Array  # t1 minus 100 ulp of max(|t0|, |t1|): step ends past it snap to t1
    max_steps: int | None = eqx.field(static=True)
    # The public entry point, for adjoints whose backward pass is itself a solve (passed in
    # rather than imported, so that `_adjoint` does not import `_diffeqsolve` back).
    solve: Callable[..., Any] = eqx.field(static=True)
    # `diffeqsolve(..., solver_state=, controller_state=, made_jump=)`: states to start from
    # (e.g. those an earlier solve returned through `SaveAt(solver_state=True, ...)`).
    initial_solver_state: PyTree = None
    initial_controller_state: PyTree = None
    initial_made_jump: Array | None = None
    # `diffeqsolve(progress_meter=...)`; None for `NoProgressMeter` (then nothing is traced).
    progress_meter: Any = None

    @property
    def subs(self) -> tuple:
        return self.saveat.sub_list

    def to_user_time(self, t: Array) -> Array:
        return t if isinstance(self.direction, int) else t * self.direction

    def internal_terms(self, terms: AbstractTerm) -> AbstractTerm:
        return terms if isinstance(self.direction, int) else _wrap_direction(terms, self.direction)


def _event_values(config: _Config, t: Array, y: Y, args: Args) -> list[Array]:
    """Every condition of the event at internal time ``t``."""
    user_t = config.to_user_time(t)
    return [
        check_value(cond(user_t, y, args, **config.event_kwargs))
        for cond in config.event.conditions
    ]


def _initial_state(config: _Config, terms: AbstractTerm, y0: Y, args: Args) -> _State:
    solver, controller, t0, t1 = config.solver, config.controller, config.t0, config.t1
    error_order = solver.error_order(terms)
    func = solver.func
    first_vf = None
    # issubclass, not isinstance: a wrapper (HalfSolver) is an instance of what it wraps.
    if (
        issubclass(type(solver), AbstractRungeKutta)
        and solver.carries_vf(terms, t0, t1, y0, args)
        and config.dt0 is None
    ):
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
    tnext = _clip_to_end(t0, jnp.asarray(tnext, t0.dtype), t1, config.t1_floor, True)
    if config.initial_controller_state is not None:  # continuing an earlier solve
        controller_state = config.initial_controller_state
    if config.initial_solver_state is not None:
        solver_state = config.initial_solver_state
    elif first_vf is not None:
        solver_state = first_vf  # what `AbstractRungeKutta.init` returns for FSAL tableaus
    else:
        solver_state = solver.init(terms, t0, tnext, y0, args)
    made_jump = jnp.asarray(False) if controller.can_jump else None
    if config.initial_made_jump is not None:
        made_jump = jnp.asarray(config.initial_made_jump)
    saves = tuple(
        _save.allocate(sub, ts, t0, config.to_user_time, y0, args, config.max_steps)
        for sub, ts in zip(config.subs, config.save_ts)
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
        values = _event_values(config, t0, y0, args)
        # A boolean condition already True at t0 fires before the first step; a float one
        # has had no chance to change sign yet.
        masks = first_only(
            [v if is_boolean(v) else jnp.asarray(False) for v in values]
        )
        step_info = jax.eval_shape(
            lambda: solver.step(terms, t0, tnext, y0, args, solver_state, False)[2]
        )
        step_info = jax.tree_util.tree_map(lambda s: jnp.zeros(s.shape, s.dtype), step_info)
        happened = functools.reduce(jnp.logical_or, masks)
        event = _EventState(values, masks, happened, t0, t0, step_info)
    zero = jnp.asarray(0, jnp.int32)
    return _State(
        y=y0,
        tprev=t0,
        tnext=tnext,
        made_jump=made_jump,
        solver_state=solver_state,
        controller_state=controller_state,
        result=config.input_result,
        num_steps=zero,
        num_accepted_steps=zero,
        num_rejected_steps=zero,
        saves=saves,
        dense=dense,
        event=event,
        progress=None if config.progress_meter is None else config.progress_meter.init(),
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
    num_accepted = state.num_accepted_steps + keep.astype(jnp.int32)
    saves = tuple(
        _save.save_in_step(
            sub, ts, save_state, interpolation, state.tnext, y1, keep, num_accepted,
            config.to_user_time, args, inner_loop,
        )
        for sub, ts, save_state in zip(config.subs, config.save_ts, state.saves)
    )  # fmt: skip
    dense = state.dense
    if dense is not None:
        dense = _save.save_dense(dense, state.tnext, dense_info, keep)
    event = state.event
    if event is not None:
        values = _event_values(config, state.tnext, y1, args)
        masks = []
        for old, new, direction in zip(event.values, values, config.event.directions):
            if old.dtype != new.dtype:
                raise ValueError(
                    "`Event`: a condition must return always a bool or always a float, got "
                    f"{old.dtype} at t0 and {new.dtype} later."
                )
            fired = new if is_boolean(new) else crossing(old, new, direction)
            masks.append(keep & fired)
        masks = first_only(masks)
        event = _EventState(
            values=[jnp.where(keep, new, old) for new, old in zip(values, event.values)],
            masks=masks,
            happened=functools.reduce(jnp.logical_or, masks),
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
        num_accepted_steps=num_accepted,
        num_rejected_steps=state.num_rejected_steps + (~keep).astype(jnp.int32),
        saves=saves,
        dense=dense,
        event=event,
        progress=_progress(config, state.progress, tprev),
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
    subs = saveat.sub_list
    if not subs:  # an empty tuple may itself have been wrapped as a leaf
        saves, steps = (), ()
    else:
        saves = tuple(s.ys for s in state.saves)
        steps = tuple(s.times for s, sub in zip(state.saves, subs) if sub.steps)
    dense = (state.dense.ts, state.dense.infos) if saveat.dense else ()
    return saves + steps + dense


def _locate_event(config: _Config, args: Args, state: _State) -> tuple[Array, Y]:
    """The event time inside the last step (to the root finder's tolerance) and the state
    there. Only the condition that fired decides (a boolean one: the step end). The time is
    differentiable through one implicit-function correction."""
    event = state.event
    interpolation = config.solver.interpolation_cls(
        t0=event.step_t0, t1=event.step_t1, **event.step_info
    )
    dtype = event.step_t0.dtype
    masks = [jax.lax.stop_gradient(m) for m in event.masks]

    finder = config.event.root_finder
    bracketing = isinstance(finder, AbstractRootFinder)

    def value_fn(t: Array) -> Array:
        y = interpolation.evaluate(t)
        total = jnp.zeros((), dtype)
        for mask, value in zip(masks, _event_values(config, t, y, args)):
            if is_boolean(value):
                # Our bracketing finders bisect on the flag itself (a zero slope makes
                # NewtonBisection bisect), locating where it turns True; any other root
                # finder gets diffrax's rule, a root at the end of the step.
                value = value.astype(dtype) if bracketing else event.step_t1 - t
            total = total + jnp.where(mask, value.astype(dtype), 0)
        return total

    lower, upper = jax.lax.stop_gradient((event.step_t0, event.step_t1))
    if bracketing:
        start = jnp.sign(jax.lax.stop_gradient(value_fn(lower)))

        def crossed(t: Array) -> Array:
            return jnp.sign(jax.lax.stop_gradient(value_fn(t))) != start

        root = finder.find(value_fn, crossed, lower, upper)
    else:  # an optimistix root finder
        import optimistix as optx

        solution = optx.root_find(
            lambda t, _: value_fn(t), finder, upper,
            options=dict(lower=lower, upper=upper), throw=False,
        )  # fmt: skip
        root = jnp.clip(solution.value, lower, upper)
    root = jax.lax.stop_gradient(root)
    # t* solves g(t*, p) = 0, so dt*/dp = -(dg/dp) / (dg/dt): one Newton step whose value is
    # ~0 but whose derivative is exactly that.
    value, slope = jax.jvp(value_fn, (root,), (jnp.ones_like(root),))
    slope = jax.lax.stop_gradient(slope)
    correction = value / jnp.where(slope == 0, 1, slope)
    root = root - (correction - jax.lax.stop_gradient(correction))
    root = jnp.where(event.happened, root, state.tprev)
    # Before the first step (a boolean condition True at t0) there is no step to interpolate.
    inside = event.happened & (state.num_accepted_steps > 0)
    y_root = _where(inside, interpolation.evaluate(root), state.y)
    return root, y_root


def _finish(config: _Config, args: Args, state: _State) -> _Output:
    result = state.result
    t_final, y_final = state.tprev, state.y
    event_time = event_mask = None
    located = None
    if state.event is not None:
        result = jnp.where(state.event.happened, RESULTS.event_occurred, result).astype(jnp.int32)
        if config.event.root_finder is not None:
            t_final, y_final = _locate_event(config, args, state)
            located = state.event.happened
        event_time = jnp.where(state.event.happened, config.to_user_time(t_final), jnp.inf)
        event_mask = state.event.masks
    unfinished = (state.tprev < config.t1) & (result == RESULTS.successful)
    result = RESULTS.promote(result, RESULTS.max_steps_reached, unfinished)
    ts, ys = [], []
    for sub, save_ts, save_state in zip(config.subs, config.save_ts, state.saves):
        sub_ts, sub_ys = _save.finalize(
            sub, save_ts, save_state, config.t0, t_final, y_final, config.to_user_time, args,
            num_accepted=state.num_accepted_steps, last_step_end=state.tprev,
            event_located=located,
        )  # fmt: skip
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
        event_mask=event_mask,
        solver_state=state.solver_state if config.saveat.solver_state else None,
        controller_state=state.controller_state if config.saveat.controller_state else None,
        made_jump=_made_jump(config, state),
    )


def _made_jump(config: _Config, state: _State) -> Array | None:
    if not config.saveat.made_jump:
        return None
    return jnp.asarray(False) if state.made_jump is None else state.made_jump


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
    if config.progress_meter is not None:
        config.progress_meter.close(final_state.progress)
    return _finish(config, args, final_state)


__all__ = ["run"]
