"""The compiled program does not grow with the number of save points.

Guarded with jaxlint's own pytest plugin (the ``jaxlint_scale`` fixture): the same solve is
lowered at 16, 64 and 256 save points, and no structural figure (ops, inlined ops, branches,
loops, calls, longest unrolled run) may grow with n. Save buffers change shape with ``n``;
nothing else may change (diffrax 0.6.1 grew by one op per save point: #606). A failure prints
the growth table and the source lines that grew, as ``jaxlint scale`` does.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import pytest

from jaxlint.testing import figures_per_n
from jaxlint.solver import (
    BacksolveAdjoint,
    DirectAdjoint,
    ForwardMode,
    ODETerm,
    PIDController,
    RecursiveCheckpointAdjoint,
    SaveAt,
    SubSaveAt,
    Tsit5,
    diffeqsolve,
)

SIZES = (16, 64, 256)


def field(t, y, args):
    return jnp.stack([y[1], -args * y[0]])


def _solve(y0, ts, *, saveat, t1=1.0, adjoint=RecursiveCheckpointAdjoint()):
    return diffeqsolve(
        ODETerm(field), Tsit5(), 0.0, t1, None, y0, args=2.0, saveat=saveat, adjoint=adjoint,
        stepsize_controller=PIDController(rtol=1e-6, atol=1e-6), max_steps=128,
    ).ys  # fmt: skip


def save_ts(y0, ts):
    return _solve(y0, ts, saveat=SaveAt(ts=ts))


def save_t0_and_ts(y0, ts):
    return _solve(y0, ts, saveat=SaveAt(t0=True, ts=ts))


def save_subs(y0, ts):
    subs = [SubSaveAt(ts=ts), SubSaveAt(t0=True, t1=True, ts=ts[::2], fn=lambda t, y, a: y[0])]
    return _solve(y0, ts, saveat=SaveAt(subs=subs))


def save_when_t0_equals_t1(y0, ts):
    # Every save time equals t0 == t1: the solve returns y0 at each of them.
    return _solve(y0, ts * 0.0, saveat=SaveAt(ts=ts * 0.0, t1=True), t1=0.0)


def grad_with(adjoint):
    def loss(y0, ts):
        return jnp.sum(_solve(y0, ts, saveat=SaveAt(ts=ts), adjoint=adjoint) ** 2)

    def grad(y0, ts):
        return jax.grad(loss)(y0, ts)

    return grad


def jvp_forward_mode(y0, ts):
    def solve(y):
        return _solve(y, ts, saveat=SaveAt(ts=ts), adjoint=ForwardMode())

    return jax.jvp(solve, (y0,), (jnp.ones_like(y0),))[1]


CASES = {
    "ts": save_ts,
    "t0+ts": save_t0_and_ts,
    "subs": save_subs,
    "t0==t1": save_when_t0_equals_t1,
    "grad-recursive": grad_with(RecursiveCheckpointAdjoint()),
    "grad-direct": grad_with(DirectAdjoint()),
    "grad-backsolve": grad_with(BacksolveAdjoint()),
    "jvp-forward": jvp_forward_mode,
}


@pytest.mark.jaxlint(n=SIZES, max_order="constant")
@pytest.mark.parametrize("name", list(CASES))
def test_program_is_independent_of_save_points(name, jaxlint_scale):
    fn = CASES[name]

    def make(n):
        return fn, (jnp.array([1.0, 0.0]), jnp.linspace(0.0, 1.0, n))

    run = jaxlint_scale(make, name=f"solver::{name}")
    counts = figures_per_n(run, "ops_inlined")
    assert list(counts) == list(SIZES)
    assert counts[SIZES[0]] > 100  # a real solve was lowered


def test_t0_equals_t1_program_matches_its_values():
    y0 = jnp.array([1.5, -0.5])
    ys = save_when_t0_equals_t1(y0, jnp.linspace(0.0, 1.0, 16))
    assert ys.shape == (17, 2)
    assert bool(jnp.all(ys == y0))
