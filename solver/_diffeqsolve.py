"""`diffeqsolve`: the public entry point.

It checks the arguments (known values now, traced ones through result codes), moves the
problem to internal time, bundles everything the loop needs into a `_Config`, lets the
adjoint run the loop (`_integrate.run`) and packs the result into a `Solution`.
"""

from __future__ import annotations

from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp

from ._adjoint import AbstractAdjoint, RecursiveCheckpointAdjoint
from ._checks import (
    check_dt0,
    check_save_times,
    check_steps_need_bound,
    check_types,
    concrete_value,
    is_concrete,
)
from ._complex_warning import warn_if_complex
from ._custom_types import Args, Array, RealScalarLike, Y
from ._event import AbstractDiscreteTerminatingEvent, Event, event_from_discrete
from ._integrate import _Config, run
from ._progress_meter import AbstractProgressMeter, NoProgressMeter
from ._results import RESULTS
from ._saveat import SaveAt
from ._solution import Solution
from ._solver_base import AbstractSolver
from ._step_size_controller import AbstractStepSizeController, ConstantStepSize
from ._term import AbstractTerm


def _as_inexact(x: Any) -> Array:
    x = jnp.asarray(x)
    if not jnp.issubdtype(x.dtype, jnp.inexact):
        x = x.astype(jnp.result_type(float))
    return x


def _end_tolerance(t0: Array, t1: Array) -> Array:
    """How close to ``t1`` a step end must come to be snapped onto it: 100 ulp of the
    interval's time scale ``max(|t0|, |t1|)``. Rounding in step ends scales with the size of
    the times, not with ``t1``: an ulp of ``t1`` itself would be a subnormal when ``t1 = 0``
    (the end of every backward solve of a problem starting at 0), where no rounding error
    could ever fall inside it. A rounding scale, not a function of the times to differentiate
    (``nextafter`` has no derivative rule): gradients with respect to ``t0``/``t1`` skip it."""
    scale = jax.lax.stop_gradient(jnp.maximum(jnp.abs(t0), jnp.abs(t1)))
    return 100 * (jnp.nextafter(scale, jnp.asarray(jnp.inf, scale.dtype)) - scale)


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
    solver_state: Any = None,
    controller_state: Any = None,
    made_jump: Any = None,
    progress_meter: AbstractProgressMeter = NoProgressMeter(),
    discrete_terminating_event: AbstractDiscreteTerminatingEvent | None = None,
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
    - ``solver_state``, ``controller_state``, ``made_jump``: start from these instead of
      initialising them (e.g. to continue a solve that returned them through
      ``SaveAt(solver_state=True, controller_state=True, made_jump=True)``).
    - ``progress_meter``: e.g. ``TextProgressMeter()`` to print the progress of the solve.
    - ``discrete_terminating_event``: diffrax's deprecated form of a boolean ``event``
      (accepted with a DeprecationWarning).

    Arguments known before tracing (Python numbers, NumPy arrays, arrays outside ``jit``) are
    checked here with a ``ValueError``; traced ones get the same checks at run time.
    """
    event = event_from_discrete(event, discrete_terminating_event)
    check_types(terms, solver, stepsize_controller, saveat, max_steps)
    warn_if_complex(terms, y0, args)
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
        is_concrete(sub.ts) for sub in saveat.sub_list if sub.ts is not None
    )
    if ts_checked:
        for sub in saveat.sub_list:
            if sub.ts is not None:
                internal_ts = concrete_value(sub.ts) * direction
                check_save_times(internal_ts, t0 * direction, t1 * direction, "SaveAt(ts=...)")
    return _diffeqsolve(
        terms, solver, t0, t1, dt0, y0, args, saveat=saveat,
        stepsize_controller=stepsize_controller, adjoint=adjoint, event=event,
        max_steps=max_steps, throw=throw, solver_state=solver_state,
        controller_state=controller_state, made_jump=made_jump, static_direction=direction,
        progress_meter=progress_meter,
        dt0_checked=dt0_checked, ts_checked=ts_checked, controller_checked=controller_checked,
    )  # fmt: skip


@eqx.filter_jit
def _diffeqsolve(
    terms, solver, t0, t1, dt0, y0, args, *, saveat, stepsize_controller, adjoint, event,
    max_steps, throw, solver_state, controller_state, made_jump, static_direction, dt0_checked,
    ts_checked, controller_checked, progress_meter,
) -> Solution:  # fmt: skip
    # Traced arguments that fail a check set this code: the loop then never starts.
    input_result = jnp.asarray(RESULTS.successful, jnp.int32)
    y0 = jax.tree_util.tree_map(_as_inexact, y0)
    # Standard promotion (as diffrax): int32 times with a float32 dt0 are float32 times,
    # also under jax.numpy_dtype_promotion("strict"); integer-only times become floats.
    with jax.numpy_dtype_promotion("standard"):
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
    # Save times stay in user time: the loop converts each one as it reaches it, so reverse
    # mode keeps the argument itself rather than a converted copy per save point.
    save_ts = []
    for sub in saveat.sub_list:
        ts = None if sub.ts is None else jnp.asarray(sub.ts, time_dtype)
        if ts is not None and not ts_checked:
            code = check_save_times(internal(ts), internal(t0), internal(t1), "SaveAt(ts=...)")
            input_result = RESULTS.promote(input_result, code, True)
        save_ts.append(ts)
    save_ts = tuple(save_ts)
    if not controller_checked:
        code = controller.input_result(internal(t0), internal(t1))
        input_result = RESULTS.promote(input_result, code, True)
    controller = controller.bind(internal(t0), None if dt0 is None else internal(dt0))
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
        t1_floor=internal(t1) - _end_tolerance(t0, t1),
        max_steps=max_steps,
        solve=diffeqsolve,
        initial_solver_state=solver_state,
        initial_controller_state=controller_state,
        initial_made_jump=made_jump,
        progress_meter=None if isinstance(progress_meter, NoProgressMeter) else progress_meter,
    )  # fmt: skip
    out = adjoint.run(run, config, terms, y0, args)
    solution = Solution(
        t0=t0,
        t1=t1,
        ts=saveat.unflatten(out.ts),
        ys=saveat.unflatten(out.ys),
        interpolation=out.dense,
        stats=dict(
            num_steps=out.num_steps,
            num_accepted_steps=out.num_accepted_steps,
            num_rejected_steps=out.num_rejected_steps,
            max_steps=max_steps,
        ),
        result=out.result,
        solver_state=out.solver_state,
        controller_state=out.controller_state,
        made_jump=out.made_jump,
        event_mask=None if event is None else event.unflatten(out.event_mask),
        event_time=out.event_time,
    )
    if throw:
        solution = RESULTS.raise_if_failed(solution, solution.result)
    return solution


__all__ = ["diffeqsolve"]
