"""Cases for `jaxlint residuals`: the diffrax #572 ODE at n steps, solved several ways.

State ODEField(x, y), x' = cos(y)·t², y' = sin(x)·t², Euler with dt = 0.01, x64; n = steps
(n = 500 is the published table's [0, 5]). Unmarked functions are reached with ::NAME.
"""

import diffrax
import equinox as eqx
import jax
import jax.numpy as jnp
from jax import lax

import jaxlint
import jaxlint.solver as solver

jax.config.update("jax_enable_x64", True)

DT = 0.01


class ODEField(eqx.Module):
    x: jax.Array
    y: jax.Array


def vector_field(t, state, args=None):
    return ODEField(jnp.cos(state.y) * t**2, jnp.sin(state.x) * t**2)  # LINE: vector_field


def euler_step(carry, _):
    t, state = carry
    slope = vector_field(t, state)
    return (t + DT, ODEField(state.x + DT * slope.x, state.y + DT * slope.y)), None


def initial_state():
    return ODEField(jnp.array(1.0), jnp.array(0.5))


def final_sum(state):
    return state.x + state.y


@jaxlint.case
def scan_steps(n):
    def solve(y0):
        (_, state), _ = lax.scan(euler_step, (jnp.array(0.0), y0), None, length=n)
        return final_sum(state)

    return solve, (initial_state(),)


@jaxlint.case
def checkpoint_scan_steps(n):
    def solve(y0):
        (_, state), _ = lax.scan(jax.checkpoint(euler_step), (jnp.array(0.0), y0), None, length=n)  # LINE: checkpoint_scan
        return final_sum(state)

    return solve, (initial_state(),)


def python_loop_steps(n):
    def solve(y0):
        carry = (jnp.array(0.0), y0)
        for _ in range(n):
            carry, _ = euler_step(carry, None)
        return final_sum(carry[1])

    return solve, (initial_state(),)


def fixed_size(n):
    """n changes nothing the gradient stores: constant residuals."""
    return (lambda x: jnp.sum(jnp.sin(x))), (jnp.ones(4),)


def solver_steps(n, adjoint=None):
    """jaxlint.solver's Euler over n steps; `jaxlint residuals --adjoints` passes each adjoint in."""
    adjoint = solver.RecursiveCheckpointAdjoint() if adjoint is None else adjoint

    def solve(y0):
        solution = solver.diffeqsolve(
            solver.ODETerm(vector_field), solver.Euler(), 0.0, DT * n, DT, y0,
            saveat=solver.SaveAt(t1=True), adjoint=adjoint, max_steps=n,
        )
        return final_sum(solution.ys)

    return solve, (initial_state(),)


def solver_checkpoints(n):
    """RecursiveCheckpointAdjoint with n checkpoints over a fixed 64 steps: residuals follow n."""
    def solve(y0):
        solution = solver.diffeqsolve(
            solver.ODETerm(vector_field), solver.Euler(), 0.0, DT * 64, DT, y0,
            saveat=solver.SaveAt(t1=True), adjoint=solver.RecursiveCheckpointAdjoint(checkpoints=n), max_steps=64,
        )
        return final_sum(solution.ys)

    return solve, (initial_state(),)


def decay_steps(n, adjoint=None):
    """y' = -rate·y over n Euler steps: smooth enough that BacksolveAdjoint's gradient is close."""
    adjoint = solver.RecursiveCheckpointAdjoint() if adjoint is None else adjoint

    def solve(y0, rate):
        solution = solver.diffeqsolve(
            solver.ODETerm(lambda t, y, k: -k * y), solver.Euler(), 0.0, DT * n, DT, y0, args=rate,
            saveat=solver.SaveAt(t1=True), adjoint=adjoint, max_steps=n,
        )
        return solution.ys

    return solve, (jnp.array([1.0, 2.0]), jnp.array(0.5))


def diffrax_steps(n, adjoint=diffrax.RecursiveCheckpointAdjoint()):
    """The same ODE with diffrax: the adjoint default selects diffrax's adjoints."""

    def solve(y0):
        solution = diffrax.diffeqsolve(
            diffrax.ODETerm(vector_field), diffrax.Euler(), 0.0, DT * n, DT, y0,
            saveat=diffrax.SaveAt(t1=True), adjoint=adjoint, max_steps=n,
        )
        return solution.ys.x[0] + solution.ys.y[0]

    return solve, (initial_state(),)


# --- not differentiable, or nothing to differentiate -------------------------------------------


def integer_output(n):
    return (lambda x: jnp.argmax(x)), (jnp.ones(n),)


def unbounded_while(n):
    def solve(x):
        return lax.while_loop(lambda c: c[0] < n, lambda c: (c[0] + 1, c[1] * 1.1), (0, x))[1]  # LINE: while

    return solve, (jnp.ones(3),)


def integer_arguments(n):
    return (lambda i: i * 2.0), (jnp.arange(n),)


def no_adjoint_parameter(n):
    return (lambda x: jnp.sin(x)), (jnp.ones(3),)


def decay_at_ts(n, adjoint=None):
    """The decay ODE saved at n times passed in as an argument: the save times are held fixed."""
    adjoint = solver.RecursiveCheckpointAdjoint() if adjoint is None else adjoint

    def solve(y0, ts, rate):
        solution = solver.diffeqsolve(
            solver.ODETerm(lambda t, y, k: -k * y), solver.Euler(), 0.0, DT * n, DT, y0, args=rate,
            saveat=solver.SaveAt(ts=ts), adjoint=adjoint, max_steps=n,
        )
        return solution.ys

    return solve, (jnp.array([1.0, 2.0]), jnp.linspace(0.0, DT * n, n), jnp.array(0.5))


def diffrax_at_ts(n, adjoint=diffrax.RecursiveCheckpointAdjoint()):
    """diffrax, saved at n times passed in as an argument."""

    def solve(y0, ts):
        solution = diffrax.diffeqsolve(
            diffrax.ODETerm(vector_field), diffrax.Euler(), 0.0, DT * n, DT, y0,
            saveat=diffrax.SaveAt(ts=ts), adjoint=adjoint, max_steps=n,
        )
        return solution.ys.x + solution.ys.y

    return solve, (initial_state(), jnp.linspace(0.0, DT * n, n))
