"""The compiled program does not grow with the number of save points.

Counted with the public analyzer API: StableHLO ops with ``func.call`` inlined, for the same
solve at 16, 64 and 256 save points. Save buffers change shape with ``n``; nothing else may
change (pitfall P1: diffrax 0.6.1 grew by one op per save point).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import pytest

from jaxlint.analyzer import measure_call
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


@pytest.mark.parametrize("name", list(CASES))
def test_op_count_is_independent_of_save_points(name):
    fn = CASES[name]
    y0 = jnp.array([1.0, 0.0])
    counts = [
        measure_call(fn, y0, jnp.linspace(0.0, 1.0, n)).figures["ops_inlined"] for n in SIZES
    ]
    assert counts[0] > 100  # a real solve was lowered
    assert counts == [counts[0]] * len(SIZES), dict(zip(SIZES, counts))


def test_t0_equals_t1_program_matches_its_values():
    y0 = jnp.array([1.5, -0.5])
    ys = save_when_t0_equals_t1(y0, jnp.linspace(0.0, 1.0, 16))
    assert ys.shape == (17, 2)
    assert bool(jnp.all(ys == y0))
