"""Adjoints: how a solve is differentiated.

The integration loop (`_integrate.run`) is written once; an adjoint only chooses the loop
primitives it runs on (``outer_loop`` over steps, ``inner_loop`` over the save points inside a
step) or, for `BacksolveAdjoint`, replaces reverse-mode differentiation of the loop by a
backwards solve of the continuous adjoint equations.

| adjoint | reverse mode | forward mode | memory in reverse mode |
| --- | --- | --- | --- |
| `RecursiveCheckpointAdjoint` | yes | no | ``checkpoints`` states |
| `DirectAdjoint` | yes | yes | ∝ ``max_steps`` |
| `BacksolveAdjoint` | yes | no | O(1) in the number of steps |
| `ForwardMode` | no | yes | — |
"""

from __future__ import annotations

import abc
import functools
import math
from collections.abc import Callable
from typing import Any

import equinox as eqx
import equinox.internal as eqxi

import jax
import jax.numpy as jnp
from jax import lax

from ._custom_types import Args, PyTree, Y
from ._event import Event
from ._saveat import SaveAt, save_y
from ._solver_base import AbstractSolver
from ._step_size_controller import AbstractStepSizeController, ConstantStepSize, StepTo
from ._term import AbstractTerm, ODETerm


def _lax_loop(cond, body, init, *, max_steps, buffers):
    return eqxi.while_loop(cond, body, init, max_steps=max_steps, buffers=buffers, kind="lax")


def _checkpointed_loop(cond, body, init, *, max_steps, buffers, checkpoints=None):
    return eqxi.while_loop(
        cond,
        body,
        init,
        max_steps=max_steps,
        buffers=buffers,
        kind="checkpointed",
        checkpoints=checkpoints,
    )


def _save_points_loop(cond, body, init, *, max_steps, buffers):
    """The loop over save points inside one step: its carry is small (an index), so checkpoint
    every iteration and never recompute in the backward pass."""
    return _checkpointed_loop(
        cond, body, init, max_steps=max_steps, buffers=buffers, checkpoints=max_steps
    )


def _bounded_loop(cond, body, init, *, max_steps, buffers):
    """A reverse- and forward-differentiable loop of nested scans, ``log_16(max_steps)`` deep."""
    return eqxi.while_loop(
        cond, body, init, max_steps=max_steps, buffers=buffers, kind="bounded", base=16
    )


def _two_level_bounded_loop(cond, body, init, *, max_steps, buffers):
    """A bounded loop whose nesting depth is two for any bound ``n > 2`` (base
    ``isqrt(n) + 1``), so the program does not depend on ``n``: used for the save points."""
    if max_steps <= 2:
        base = 2
    else:
        base = math.isqrt(max_steps) + 1  # base < n < base**2: exactly two levels
    return eqxi.while_loop(
        cond, body, init, max_steps=max(max_steps, 3), buffers=buffers, kind="bounded", base=base
    )


class AbstractAdjoint(eqx.Module):
    """How `diffeqsolve` is differentiated (see the module docstring)."""

    def check(self, *, saveat: SaveAt, event: Event | None, max_steps: int | None) -> None:
        """Raise a clear error for a configuration this adjoint cannot handle."""

    @abc.abstractmethod
    def run(self, run: Callable[..., Any], config: Any, terms: AbstractTerm, y0: Y, args: Args):
        """Call ``run(config, terms, y0, args, outer_loop, inner_loop)`` (or wrap it)."""


_UNBOUNDED_MESSAGE = (
    "Cannot reverse-mode differentiate `diffeqsolve(..., max_steps=None)` with "
    "`RecursiveCheckpointAdjoint(checkpoints=None)`: the memory for the backward pass needs "
    "a bound. Pass an int `max_steps`, or `RecursiveCheckpointAdjoint(checkpoints=k)`."
)


class RecursiveCheckpointAdjoint(AbstractAdjoint):
    """Reverse mode through the solver's own operations, with binomial (treeverse)
    checkpointing: ``checkpoints`` saved states bound the memory; more checkpoints, less
    recomputation. ``checkpoints=None`` picks ``O(log max_steps)`` of them. One traced loop
    body whatever the number of checkpoints (pitfall P4). Not forward-mode differentiable
    (use `ForwardMode` or `DirectAdjoint`).

    With ``max_steps=None`` and ``checkpoints=None`` nothing bounds the memory of a backward
    pass: the solve runs (plain while loops, as diffrax does) and reverse-mode
    differentiating it raises an error that says what to pass instead."""

    checkpoints: int | None = eqx.field(static=True, default=None)

    def run(self, run, config, terms, y0, args):
        if config.max_steps is None and self.checkpoints is None:
            out = run(config, terms, y0, args, _lax_loop, _lax_loop)
            # On the outputs, not the inputs: transposition meets this before the while loop
            # (whose own error would not say what to change).
            return eqxi.nondifferentiable_backward(out, msg=_UNBOUNDED_MESSAGE)
        outer = functools.partial(_checkpointed_loop, checkpoints=self.checkpoints)
        return run(config, terms, y0, args, outer, _save_points_loop)


class DirectAdjoint(AbstractAdjoint):
    """Differentiate the loop directly: a bounded loop (nested scans) that supports both
    reverse and forward mode, at the price of memory and compile time that grow with
    ``log(max_steps)``. Needs an int ``max_steps``."""

    def check(self, *, saveat, event, max_steps):
        if max_steps is None:
            raise ValueError(
                "`DirectAdjoint` needs an int `max_steps` (its loop is bounded); use "
                "`RecursiveCheckpointAdjoint(checkpoints=k)` for `max_steps=None`."
            )

    def run(self, run, config, terms, y0, args):
        return run(config, terms, y0, args, _bounded_loop, _two_level_bounded_loop)


class ForwardMode(AbstractAdjoint):
    """Forward-mode (``jax.jvp``/``jax.jacfwd``) differentiation through plain while loops:
    no memory overhead, any ``max_steps`` (including None); no reverse mode."""

    def run(self, run, config, terms, y0, args):
        return run(config, terms, y0, args, _lax_loop, _lax_loop)


class _ConvertedTerm(AbstractTerm):
    """A term whose vector field was closure-converted: closed-over arrays (e.g. parameters
    of a model captured by a lambda) become leaves, so the backward pass can differentiate
    with respect to them."""

    vf_fn: Callable[..., PyTree]
    base: AbstractTerm

    def vf(self, t, y, args):
        return self.vf_fn(t, y, args)

    def contr(self, t0, t1):
        return self.base.contr(t0, t1)

    def prod(self, vf, control):
        return self.base.prod(vf, control)


def _tree_zeros(tree: PyTree) -> PyTree:
    return jax.tree_util.tree_map(jnp.zeros_like, tree)


def _or_zeros(cotangent: PyTree, like: PyTree) -> PyTree:
    """Cotangents come back as None where nothing was differentiated."""
    if cotangent is None:
        return _tree_zeros(like)
    return jax.tree_util.tree_map(
        lambda c, x: jnp.zeros_like(x) if c is None else c, cotangent, like,
        is_leaf=lambda c: c is None,
    )


class BacksolveAdjoint(AbstractAdjoint):
    """Reverse mode by solving the continuous adjoint equations backwards in time::

        dy/dt = f(t, y, p),   da/dt = -a df/dy,   dp_bar/dt = -a df/dp

    from the last save point to ``t0``, adding each saved output's cotangent to ``a`` at
    its time (one backward solve per interval between save points, in a ``lax.scan``, so the
    program does not grow with them). Memory does not grow with the number of steps; the
    gradient is exact only up to the tolerances of the solves (the backward solve uses
    ``solver`` / ``stepsize_controller`` if given, else the forward ones).

    Supports ``SaveAt(t0, ts, t1)`` with the default ``fn``, no events; differentiates with
    respect to ``y0``, ``args`` and arrays in the terms (closed-over ones included), not the
    times. Other configurations raise ``NotImplementedError`` (as in diffrax).
    """

    solver: AbstractSolver | None = None
    stepsize_controller: AbstractStepSizeController | None = None

    def check(self, *, saveat, event, max_steps):
        if event is not None:
            raise NotImplementedError(
                "`BacksolveAdjoint` does not support `event`; use `RecursiveCheckpointAdjoint`."
            )
        subs = saveat.sub_list
        if len(subs) != 1 or saveat.dense:
            raise NotImplementedError(
                "`BacksolveAdjoint` supports one `SaveAt(t0=..., ts=..., t1=...)` group without "
                "`subs` or `dense`."
            )
        if subs[0].steps or subs[0].fn is not save_y:
            raise NotImplementedError(
                "`BacksolveAdjoint` does not support `SaveAt(steps=...)` or `SaveAt(fn=...)`."
            )

    def run(self, run, config, terms, y0, args):
        if isinstance(config.controller, StepTo):
            raise NotImplementedError("`BacksolveAdjoint` does not support `StepTo`; use `PIDController`.")
        user_t0 = config.to_user_time(config.t0)
        vf_fn = eqx.filter_closure_convert(terms.vf, user_t0, y0, args)
        converted = _ConvertedTerm(vf_fn, terms)
        out = _backsolve((converted, y0, args), self, run, _lean_config(config))
        # Integer outputs (result codes, step counts) leave a custom_vjp with instantiated
        # zero tangents; cut them so later error checks on them are not differentiated.
        return jax.tree_util.tree_map(
            lambda x: x if eqx.is_inexact_array(x) or not eqx.is_array(x) else lax.stop_gradient(x),
            out,
        )


def _lean_config(config: Any) -> Any:
    """``config`` holding each array the solves need once.

    `eqx.filter_custom_vjp` keeps every array of its non-differentiated arguments for the
    backward pass, each as its own residual. Two copies are dropped: the save times inside
    the `SaveAt` (shapes are enough there; the loop reads ``config.save_ts``), and the event
    keyword arguments (no events here) but for the user's step-size controller, which the
    backward solve reuses."""
    subs = config.saveat.unflatten([
        sub if sub.ts is None else eqx.tree_at(
            lambda s: s.ts, sub, jax.ShapeDtypeStruct(sub.ts.shape, sub.ts.dtype)
        )
        for sub in config.subs
    ])  # fmt: skip
    saveat = eqx.tree_at(lambda s: s.subs, config.saveat, subs)
    event_kwargs = dict(stepsize_controller=config.event_kwargs["stepsize_controller"])
    return eqx.tree_at(lambda c: (c.saveat, c.event_kwargs), config, (saveat, event_kwargs))


@eqx.filter_custom_vjp
def _backsolve(inputs, adjoint, run, config):
    terms, y0, args = inputs
    return run(config, terms, y0, args, _lax_loop, _lax_loop)


class _BacksolveResiduals(eqx.Module):
    """What the backward solve needs from the forward one: the states it restarts from (the
    saved ys are outputs anyway) and where the solve ended. Not the saved times: the
    backward pass reads ``config.save_ts``, the argument itself."""

    ys: PyTree
    y_final: Y
    t_final: Any


@_backsolve.def_fwd
def _backsolve_fwd(perturbed, inputs, adjoint, run, config):
    del perturbed
    out = _backsolve.fn(inputs, adjoint, run, config)
    return out, _BacksolveResiduals(out.ys[0], out.y_final, out.t_final)


@_backsolve.def_bwd
def _backsolve_bwd(out, grad_out, perturbed, inputs, adjoint, run, config):
    del perturbed
    diffeqsolve = config.solve  # the backward pass is itself a solve

    terms, y0, args = inputs
    params, static = eqx.partition((terms, args), eqx.is_inexact_array)
    sub = config.subs[0]
    save_ts = config.save_ts[0]  # user time
    t_final = out.t_final  # user time
    internal = lambda t: config.to_user_time(t)  # the map is its own inverse  # noqa: E731

    # Points (internal time, increasing) where the adjoint receives cotangents: t0, every
    # save slot, and the end. Zero-length intervals between equal points are no-op solves.
    ys = out.ys
    ct_ys = _or_zeros(grad_out.ys[0] if grad_out.ys is not None else None, ys)
    ct_final = _or_zeros(grad_out.y_final, out.y_final)
    slot_times = []
    if sub.t0:
        slot_times.append(config.t0[None])
    if save_ts is not None:
        slot_times.append(internal(save_ts))
    if sub.t1:
        slot_times.append(internal(t_final)[None])
    points = jnp.concatenate([config.t0[None], *slot_times, internal(t_final)[None]])

    def stack(first, slots, last):
        def leaf(a, s, b):
            return jnp.concatenate([jnp.asarray(a)[None], s, jnp.asarray(b)[None]])

        return jax.tree_util.tree_map(leaf, first, slots, last)

    states = stack(y0, ys, out.y_final)
    cotangents = stack(_tree_zeros(y0), ct_ys, ct_final)

    def aug_vf(t, state, theta):
        y, a, _ = state

        def f(y_, theta_):
            term_, args_ = eqx.combine(theta_, static)
            return term_.vf_prod(t, y_, args_, term_.contr(t, t + 1))

        fy, vjp = jax.vjp(f, y, theta)
        a_y, a_theta = vjp(a)
        negate = lambda tree: jax.tree_util.tree_map(jnp.negative, tree)  # noqa: E731
        return fy, negate(a_y), negate(a_theta)

    solver = adjoint.solver if adjoint.solver is not None else config.solver
    controller = adjoint.stepsize_controller
    if controller is None:
        controller = config.event_kwargs["stepsize_controller"]
    dt0 = None
    if isinstance(controller, ConstantStepSize):
        dt0 = -config.to_user_time(config.dt0)

    def segment(carry, k):
        a_y, a_theta = carry
        a_y = jax.tree_util.tree_map(lambda a, c: a + c[k], a_y, cotangents)
        y_k = jax.tree_util.tree_map(lambda s: s[k], states)
        sol = diffeqsolve(
            ODETerm(aug_vf),
            solver,
            internal(points[k]),
            internal(points[k - 1]),
            dt0,
            (y_k, a_y, a_theta),
            params,
            saveat=SaveAt(t1=True),
            stepsize_controller=controller,
            adjoint=ForwardMode(),
            max_steps=config.max_steps,
        )
        _, a_y, a_theta = jax.tree_util.tree_map(lambda x: x[0], sol.ys)
        return (a_y, a_theta), None

    init = (_tree_zeros(y0), _tree_zeros(params))
    indices = jnp.arange(1, points.shape[0])
    (a_y, a_theta), _ = lax.scan(segment, init, indices, reverse=True)
    a_y = jax.tree_util.tree_map(lambda a, c: a + c[0], a_y, cotangents)
    grad_terms, grad_args = a_theta
    return grad_terms, a_y, grad_args


__all__ = [
    "AbstractAdjoint",
    "RecursiveCheckpointAdjoint",
    "DirectAdjoint",
    "ForwardMode",
    "BacksolveAdjoint",
]
