"""What XLA:CPU compiles separately stays small: guards on the structure behind compile time.

XLA:CPU compiles every fusion outside a small loop as its own MLIR + LLVM module, at a
roughly fixed cost per module, while a whole small loop (the Runge–Kutta stage loop, the
save loop) becomes one module. So ops at the top level of a solve (before and after its
step loop), and loop-invariant ops that XLA hoists out of loops, cost compile time out of
proportion to their number. These tests look at the lowered StableHLO (no compile), with
``func.call`` followed into its callee at the caller's depth.
"""

from __future__ import annotations

from collections import Counter

import jax
import jax.numpy as jnp

from jaxlint.solver import ODETerm, PIDController, SaveAt, Tsit5, diffeqsolve


def _ops_by_depth(fn, *args) -> Counter[tuple[str, bool]]:
    """(op name, inside a loop or branch) -> count, over the program of ``jit(fn)``."""
    module = jax.jit(fn).lower(*args).compiler_ir("stablehlo")
    funcs = {str(op.attributes["sym_name"]).strip('"'): op for op in module.body.operations}
    counts: Counter[tuple[str, bool]] = Counter()

    def visit(block, nested: bool) -> None:
        for op in block.operations:
            name = op.operation.name
            if name == "func.call":
                callee = str(op.attributes["callee"]).lstrip("@")
                for callee_block in funcs[callee].regions[0].blocks:
                    visit(callee_block, nested)
                continue
            counts[(name, nested)] += 1
            for region in op.regions:
                for inner in region.blocks:
                    visit(inner, True)

    for block in funcs["main"].regions[0].blocks:
        visit(block, False)
    return counts


def _field(t, y, args):
    return jnp.stack([y[1], -y[0]])


def _solve(saveat):
    def fn(y0, ts):
        return diffeqsolve(
            ODETerm(_field), Tsit5(), 0.0, 1.0, None, y0, saveat=saveat(ts),
            stepsize_controller=PIDController(rtol=1e-6, atol=1e-6),
        ).ys  # fmt: skip

    return fn


_ARGS = (jnp.array([1.0, 0.0]), jnp.linspace(0.0, 1.0, 16))


def _top_level_writes(saveat) -> int:
    counts = _ops_by_depth(_solve(saveat), *_ARGS)
    return counts[("stablehlo.scatter", False)] + counts[("stablehlo.dynamic_update_slice", False)]


def test_saving_only_ts_writes_nothing_after_the_loop():
    # Every ts entry is written inside the loop and the unwritten rows are still `inf`:
    # finalising needs no write and no mask (each was a kernel of its own).
    assert _top_level_writes(lambda ts: SaveAt(ts=ts)) == 0
    # t1 does need one: the final state goes into the next free slot.
    assert _top_level_writes(lambda ts: SaveAt(ts=ts, t1=True)) == 1


def test_stage_loop_indices_are_constants():
    # An iota inside the step loop is loop-invariant: XLA hoists it out of the loop and
    # compiles it as a kernel of its own. The stage indices are NumPy constants instead.
    counts = _ops_by_depth(_solve(lambda ts: SaveAt(t1=True)), *_ARGS)
    assert counts[("stablehlo.iota", True)] == 0
    assert counts[("stablehlo.while", False)] == 1  # the step loop (the stage loop is inside)


def test_save_times_equal_to_t0_are_filled_at_allocation_in_either_direction():
    # The count of leading ts entries equal to t0 is a bisection now (one small loop, not a
    # compare and a sum over ts): the values must not change, forwards or backwards.
    y0 = jnp.array([1.0, 0.0])
    for t0, t1 in ((0.0, 1.0), (1.0, 0.0)):
        ts = jnp.array([t0, t0, t0, 0.5, t1])
        sol = diffeqsolve(
            ODETerm(_field), Tsit5(), t0, t1, None, y0, saveat=SaveAt(ts=ts),
            stepsize_controller=PIDController(rtol=1e-8, atol=1e-8),
        )  # fmt: skip
        assert bool(jnp.all(sol.ys[:3] == y0))
        expected = jnp.array([jnp.cos(0.5), -jnp.sin(0.5)])
        # y(t) = (cos t, -sin t) for y(0) = (1, 0); backwards from t0 = 1 with y(1) = (1, 0)
        # it is the same rotation by t - 1.
        expected = expected if t0 == 0.0 else jnp.array([jnp.cos(-0.5), -jnp.sin(-0.5)])
        assert bool(jnp.allclose(sol.ys[3], expected, atol=1e-6))
        assert int(sol.stats["num_steps"]) > 0


def test_counting_save_times_at_t0_takes_no_reduction_over_ts():
    counts = _ops_by_depth(_solve(lambda ts: SaveAt(ts=ts)), *_ARGS)
    with_ts = counts[("stablehlo.reduce", False)]
    counts = _ops_by_depth(_solve(lambda ts: SaveAt(t1=True)), *_ARGS)
    # The only top-level reduction over ts left is the check that ts is ordered.
    assert with_ts == counts[("stablehlo.reduce", False)] + 1


def test_starting_step_selection_takes_two_reductions():
    # dt0=None: the sizes of y0 and f(t0, y0) go through one batched norm, then the
    # difference quotient through another (three separate reductions were three kernels).
    def top_level_reductions(dt0) -> int:
        def fn(y0, ts):
            return diffeqsolve(
                ODETerm(_field), Tsit5(), 0.0, 1.0, dt0, y0,
                stepsize_controller=PIDController(rtol=1e-6, atol=1e-6),
            ).ys  # fmt: skip

        return _ops_by_depth(fn, *_ARGS)[("stablehlo.reduce", False)]

    assert top_level_reductions(None) - top_level_reductions(0.1) == 2
