"""Reverse-mode memory of one small solve, per adjoint: the diffrax #572 residual table.

State ``ODEField(x, y)`` (an equinox Module), ``x' = cos(y)·t²``, ``y' = sin(x)·t²``, Euler,
dt0 = 0.01 on [0, 5] (500 steps), float64. For each way of differentiating the solve, the
bytes jax saves for the backward pass (``jax.vjp``'s residuals, the arguments left out):

    python examples/adjoint_memory.py               # the table (about a minute)
    python examples/adjoint_memory.py --gradients   # also compile and compare the gradients

The file is also a ``jaxlint residuals`` target: ``solve(n, adjoint=...)`` runs n steps, so

    jaxlint residuals examples/adjoint_memory.py::solve --n 100,500 --adjoints

fits how each adjoint's memory grows with the steps and recommends one.
"""

from __future__ import annotations

import sys
from typing import Any, Callable

import equinox as eqx
import equinox.internal as eqxi
import jax
import jax.numpy as jnp
from jax import lax

import jaxlint.solver as solver

jax.config.update("jax_enable_x64", True)

T0, T1, DT = 0.0, 5.0, 0.01
STEPS = 500


class ODEField(eqx.Module):
    x: jax.Array
    y: jax.Array


def vector_field(t, state, args=None):
    return ODEField(jnp.cos(state.y) * t**2, jnp.sin(state.x) * t**2)


def initial_state() -> ODEField:
    return ODEField(jnp.array(1.0), jnp.array(0.5))


def solve(n: int, adjoint: Any = None):
    """``jaxlint residuals`` case: jaxlint.solver's Euler over n steps with ``adjoint``."""
    adjoint = solver.RecursiveCheckpointAdjoint() if adjoint is None else adjoint

    def final_sum(y0: ODEField) -> jax.Array:
        solution = solver.diffeqsolve(
            solver.ODETerm(vector_field), solver.Euler(), T0, T0 + DT * n, DT, y0,
            saveat=solver.SaveAt(t1=True), adjoint=adjoint, max_steps=n,
        )
        return solution.ys.x[0] + solution.ys.y[0]

    return final_sum, (initial_state(),)


# --- the same solve written by hand --------------------------------------------------------------


def _euler_step(carry, _):
    t, state = carry
    slope = vector_field(t, state)
    return (t + DT, ODEField(state.x + DT * slope.x, state.y + DT * slope.y)), None


def plain_scan(y0: ODEField) -> jax.Array:
    (_, state), _ = lax.scan(_euler_step, (jnp.array(T0), y0), None, length=STEPS)
    return state.x + state.y


def checkpoint_body_scan(y0: ODEField) -> jax.Array:
    (_, state), _ = lax.scan(jax.checkpoint(_euler_step), (jnp.array(T0), y0), None, length=STEPS)
    return state.x + state.y


def checkpointed_while(y0: ODEField) -> jax.Array:
    """equinox's checkpointed loop with a checkpoint at every step ("all")."""

    def body(carry):
        step, t, state = carry
        (t, state), _ = _euler_step((t, state), None)
        return step + 1, t, state

    _, _, state = eqxi.while_loop(
        lambda carry: carry[0] < STEPS, body, (jnp.array(0), jnp.array(T0), y0),
        max_steps=STEPS, kind="checkpointed", checkpoints=STEPS,
    )
    return state.x + state.y


def library_solve(library: Any, adjoint: Any) -> Callable[[ODEField], jax.Array]:
    def final_sum(y0: ODEField) -> jax.Array:
        solution = library.diffeqsolve(
            library.ODETerm(vector_field), library.Euler(), T0, T1, DT, y0,
            saveat=library.SaveAt(t1=True), adjoint=adjoint, max_steps=STEPS,
        )
        return solution.ys.x[0] + solution.ys.y[0]

    return final_sum


# --- the table -----------------------------------------------------------------------------------

# (row, published in diffrax #572, target for jaxlint.solver: (bound, exact?))
ADJOINT_ROWS: list[tuple[str, Callable[[Any], Any], str, tuple[int, bool] | None]] = [
    ("RecursiveCheckpointAdjoint(checkpoints=7)", lambda lib: lib.RecursiveCheckpointAdjoint(checkpoints=7), "961", (248 + 119 * 7, False)),
    ("RecursiveCheckpointAdjoint(checkpoints=50)", lambda lib: lib.RecursiveCheckpointAdjoint(checkpoints=50), "-", (248 + 119 * 50, False)),
    ("RecursiveCheckpointAdjoint()", lambda lib: lib.RecursiveCheckpointAdjoint(), "-", None),
    ("BacksolveAdjoint()", lambda lib: lib.BacksolveAdjoint(), "156", (140, False)),
    ("DirectAdjoint()", lambda lib: lib.DirectAdjoint(), "-", None),
]
HAND_ROWS: list[tuple[str, Callable[[ODEField], jax.Array], str, tuple[int, bool] | None]] = [
    ("plain `lax.scan`", plain_scan, "16,000", (16_000, True)),
    ("equinox checkpointed while (all steps)", checkpointed_while, "29,048", None),
    ("`lax.scan(jax.checkpoint(body))`", checkpoint_body_scan, "12,000", None),
]


def _measure(fn: Callable[[ODEField], jax.Array], gradients: bool) -> tuple[str, str]:
    """Residual bytes (or the error) and, if asked, the gradient with respect to y0."""
    from jaxlint.analyzer.residuals import ResidualError, measure_residuals

    try:
        figure = f"{int(measure_residuals(fn, (initial_state(),)).figures['residual_bytes']):,}"
    except ResidualError as error:
        return f"error: {error}", "-"
    if not gradients:
        return figure, "-"
    try:
        grad = jax.jit(jax.grad(fn))(initial_state())
        return figure, f"({float(grad.x):.6f}, {float(grad.y):.6f})"
    except Exception as error:  # an adjoint the library cannot run for this solve
        from jaxlint.analyzer.adjoints import runtime_error_summary

        return figure, f"error: {runtime_error_summary(error)}"


def _meets(figure: str, target: tuple[int, bool] | None) -> str:
    if target is None:
        return "-"
    bound, exact = target
    if not figure[:1].isdigit():
        return "NO (error)"
    value = int(figure.replace(",", ""))
    ok = value == bound if exact else value <= bound
    return ("yes" if ok else "NO") + f" ({'=' if exact else '≤'} {bound:,})"


def main(argv: list[str]) -> int:
    gradients = "--gradients" in argv
    try:
        import diffrax
    except ImportError:  # the comparison column is optional
        diffrax = None
    header = ["method", "jaxlint.solver", "target", f"diffrax {diffrax.__version__ if diffrax else '(not installed)'}", "published (#572)"]
    if gradients:
        header += ["gradient (jaxlint.solver / by hand)", "gradient (diffrax)"]
    rows: list[list[str]] = []
    missed = 0
    for label, make, published, target in ADJOINT_ROWS:
        ours, our_grad = _measure(library_solve(solver, make(solver)), gradients) if hasattr(solver, label.split("(")[0]) else ("not in jaxlint.solver", "-")
        theirs, their_grad = _measure(library_solve(diffrax, make(diffrax)), gradients) if diffrax else ("-", "-")
        meets = _meets(ours, target)
        missed += meets.startswith("NO")
        rows.append([label, ours, meets, theirs, published] + ([our_grad, their_grad] if gradients else []))
        print(f"measured {label}", file=sys.stderr)
    for label, fn, published, target in HAND_ROWS:
        ours, our_grad = _measure(fn, gradients)
        meets = _meets(ours, target)
        missed += meets.startswith("NO")
        rows.append([label, ours, meets, "(same code)", published] + ([our_grad, "-"] if gradients else []))
        print(f"measured {label}", file=sys.stderr)

    print(f"Residual bytes saved for reverse mode: 2-D ODE, Euler, dt0 = {DT} on [{T0:g}, {T1:g}] ({STEPS} steps), x64,")
    print(f"jax {jax.__version__}; hand-written loops in the jaxlint.solver column.\n")
    print("| " + " | ".join(header) + " |")
    print("| " + " | ".join("---" for _ in header) + " |")
    for row in rows:
        print("| " + " | ".join(row) + " |")
    if missed:
        print(f"\n{missed} target(s) missed", file=sys.stderr)
    return 1 if missed else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
