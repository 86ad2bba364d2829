"""Programs whose XLA compile time the projection benchmark measures (``NAME(n)`` -> ``(fn, args)``).

Seven that grow with n, two that do not, and four held out (growing, measured after the
projection's constants were chosen). The two diffrax 0.6.1 cases (#606) need diffrax 0.6.1
installed; elsewhere they raise ImportError and the benchmark skips them with that reason.
"""

import sys
from pathlib import Path

import jax
import jax.numpy as jnp
from jax import lax

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "examples"))
# The shipped examples, as the README runs them: the #606 stack, a Python-loop Euler, a scan.
from growth_cases import python_loop_euler, stacked_save_buffer as stacked_repeats, scan_euler as flat_scan_euler  # noqa: E402


def _vector_field(t, y):
    return -0.5 * y + jnp.sin(t)


def _lorenz(t, y, args):
    sigma, rho, beta = 10.0, 28.0, 8.0 / 3.0
    x, v, z = y
    return jnp.stack([sigma * (v - x), x * (rho - z) - v, x * v - beta * z])


def _diffrax_061():
    import diffrax

    if diffrax.__version__ != "0.6.1":
        raise ImportError(f"needs diffrax 0.6.1 (the #606 release), found {diffrax.__version__}")
    return diffrax


def diffrax606_traced_t(n):
    """#606 as users hit it: t0/t1 read from the traced save times."""
    diffrax = _diffrax_061()

    def solve(y0, ts):
        return diffrax.diffeqsolve(
            diffrax.ODETerm(_lorenz), diffrax.Tsit5(), t0=ts[0], t1=ts[-1], dt0=None, y0=y0,
            saveat=diffrax.SaveAt(ts=ts), stepsize_controller=diffrax.PIDController(rtol=1e-4, atol=1e-6),
            max_steps=None,
        ).ys

    return solve, (jnp.ones(3), jnp.linspace(0.0, 10.0, n))


def diffrax606_literal_t(n):
    """#606 with literal t0/t1: XLA can fold the growing t0 == t1 branch away."""
    diffrax = _diffrax_061()

    def solve(y0, ts):
        return diffrax.diffeqsolve(
            diffrax.ODETerm(_lorenz), diffrax.Tsit5(), t0=0.0, t1=10.0, dt0=None, y0=y0,
            saveat=diffrax.SaveAt(ts=ts), stepsize_controller=diffrax.PIDController(rtol=1e-4, atol=1e-6),
            max_steps=None,
        ).ys

    return solve, (jnp.ones(3), jnp.linspace(0.0, 10.0, n))


def scan_full_unroll(n):
    """`lax.scan(..., unroll=n)`: a loop in the source, fully unrolled in the program."""

    def solve(y0, dt):
        def step(carry, _):
            t, y = carry
            return (t + dt, y + dt * _vector_field(t, y)), None

        (_, y), _ = lax.scan(step, (0.0, y0), None, length=n, unroll=n)
        return y

    return solve, (jnp.ones(3), 0.01)


def checkpoint_per_segment(n):
    """A Python loop over n segments, each a `jax.checkpoint`-ed scan of 8 steps (reverse mode)."""

    def segment(y, dt):
        def step(y, _):
            return y + dt * _vector_field(0.0, y), None

        return lax.scan(step, y, None, length=8)[0]

    def loss(y0, dt):
        y = y0
        for _ in range(n):
            y = jax.checkpoint(segment)(y, dt)
        return jnp.sum(y)

    return jax.grad(loss), (jnp.ones(3), jnp.asarray(0.01))


def quadratic_pairs(n):
    """Two nested Python loops over n: n² multiply-adds in straight-line code."""

    def pairwise(xs):
        acc = 0.0
        for i in range(n):
            for j in range(n):
                acc = acc + xs[i] * xs[j]
        return acc

    return pairwise, (jnp.ones(n),)


def pytree_of_leaves(n):
    """Held out (added after the model's constants were chosen): a pytree of n small arrays, each
    updated on its own, as a model with n parameter leaves is (n inputs, n outputs)."""

    def update(params, lr):
        return {name: leaf - lr * jnp.tanh(leaf) for name, leaf in params.items()}

    return update, ({f"w{i}": jnp.full((4,), float(i)) for i in range(n)}, 0.1)


def cond_chain(n):
    """Held out: a Python loop of n `lax.cond`s (one branch pair per iteration): the program's
    conditionals, not its straight-line ops, grow."""

    def solve(y):
        for i in range(n):
            y = lax.cond(jnp.sum(y) > i, lambda y: 0.5 * y, lambda y: y + 1.0, y)
        return y

    return solve, (jnp.ones(3),)


def switch_branches(n):
    """Held out: `lax.switch` over n branches, each a different small computation (an event
    table or a per-regime right-hand side)."""

    def solve(index, y):
        branches = [lambda y, k=k: jnp.sin(y * (k + 1.0)) + k for k in range(n)]
        return lax.switch(index, branches, y)

    return solve, (jnp.asarray(0), jnp.ones(3))


def concat_in_loop(n):
    """Held out: a buffer grown by `jnp.concatenate` in a Python loop (n concatenations of
    growing operands), a save history kept the eager way."""

    def history(y0, dt):
        out, y = y0[None], y0
        for _ in range(n):
            y = y + dt * _vector_field(0.0, y)
            out = jnp.concatenate([out, y[None]])
        return out

    return history, (jnp.ones(3), 0.01)


def flat_solver_save_points(n):
    """Flat: jaxlint.solver's Lorenz solve saved at n points (the program only changes shapes)."""
    import jaxlint.solver as solver

    def solve(y0, ts):
        return solver.diffeqsolve(
            solver.ODETerm(_lorenz), solver.Tsit5(), ts[0], ts[-1], None, y0,
            saveat=solver.SaveAt(ts=ts), stepsize_controller=solver.PIDController(rtol=1e-4, atol=1e-6),
            max_steps=4096,
        ).ys

    return solve, (jnp.ones(3), jnp.linspace(0.0, 10.0, n))


GROWING = (
    "diffrax606_traced_t", "diffrax606_literal_t", "stacked_repeats", "python_loop_euler",
    "scan_full_unroll", "checkpoint_per_segment", "quadratic_pairs",
)
FLAT = ("flat_scan_euler", "flat_solver_save_points")
# Measured after the projection's constants were last chosen, to test them out of sample.
HELD_OUT = ("pytree_of_leaves", "cond_chain", "switch_branches", "concat_in_loop")
