"""A small solver with diffrax 0.6.1's save-buffer pattern, for tests (no network, no 0.6.1).

diffrax 0.6.1 (PR #494) handled ``t0 == t1`` with ``jnp.stack([out] * out_size)`` inside a
``lax.cond`` branch (diffrax/_integrate.py:785): both branches are traced, so the program
gains one operand per save point even though the branch almost never runs (issue #606).
This module keeps exactly that structure around a fixed-step Euler integrator that steps
from save point to save point: same call signature as ``diffeqsolve``, same ``SaveAt``
shape (``subs`` of ``SubSaveAt(t0, t1, ts, steps, fn)``), a fraction of the size.

Tests make jaxlint intercept it with ``JAXLINT_SOLVE_APIS=stack061:diffeqsolve``.
"""

from typing import Any, Callable, NamedTuple

import equinox as eqx
import jax.numpy as jnp
from jax import lax


class ODETerm(eqx.Module):
    vector_field: Callable[..., Any]


class SubSaveAt(eqx.Module):
    t0: bool = False
    t1: bool = False
    ts: Any = None
    steps: bool = False
    fn: Any = None


class SaveAt(eqx.Module):
    subs: SubSaveAt

    def __init__(self, *, ts=None, t0=False, t1=False):
        self.subs = SubSaveAt(t0=t0, t1=t1, ts=None if ts is None else jnp.asarray(ts))


class Euler(eqx.Module):
    pass


class Solution(NamedTuple):
    ts: Any
    ys: Any


def diffeqsolve(terms, solver, t0, t1, dt0, y0, args=None, *, saveat, stepsize_controller=None, max_steps=4096):
    ts = saveat.subs.ts
    out_size = ts.shape[0]

    def step(y, times):
        t, t_next = times
        y_next = y + (t_next - t) * terms.vector_field(t, y, args)
        return y_next, y_next

    def integrate(y):
        _, ys = lax.scan(step, y, (ts[:-1], ts[1:]))
        return jnp.concatenate([y[None], ys])

    def make_ys(out):
        outs = jnp.stack([out] * out_size)  # the diffrax 0.6.1 line
        return outs

    ys = lax.cond(t0 == t1, make_ys, integrate, y0)
    return Solution(ts=ts, ys=ys)
