"""Stage 3 — figures: the numbers that describe one program's size.

Inlined figures count what XLA will really compile: a function called from k sites is
compiled k times after inlining, so each call site counts its callee's whole body.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from functools import lru_cache

from .runs import Run, find_runs, longest_run
from .walk import BRANCH_OPS, CALL_OP, CUSTOM_CALL_OP, LOOP_OPS, ProgramWalk

# Figures that describe the program's structure. Save points (or any size that should only
# change shapes) must leave these unchanged: the verdict flags them when they grow at all.
STRUCTURAL_FIGURES = ("ops", "ops_inlined", "branches", "loops", "calls", "longest_run")

FIGURE_UNITS = {
    "ops": "ops",
    "ops_inlined": "ops",
    "branches": "branches",
    "loops": "loops",
    "calls": "calls",
    "custom_calls": "custom calls",
    "constant_bytes": "bytes",
    "max_depth": "levels",
    "longest_run": "repeats",
    "trace_seconds": "s",
    "lower_seconds": "s",
    # with --compile (see compile.py)
    "compile_seconds": "s",
    "compile_cpu_seconds": "s",
    "compiled_temp_bytes": "bytes",
    "compiled_argument_bytes": "bytes",
    "compiled_output_bytes": "bytes",
    "compiled_code_bytes": "bytes",
}


@dataclass
class ProgramFigures:
    """Size figures of one program, plus inlined op counts by op name."""

    figures: dict[str, float]
    ops_by_name: dict[str, int]
    custom_call_targets: dict[str, int]
    runs: list[Run] = field(default_factory=list)  # unrolled runs, most repeats first


def compute_figures(walk: ProgramWalk) -> ProgramFigures:
    functions = walk.functions

    @lru_cache(maxsize=None)
    def inlined_counts(name: str) -> tuple[tuple[str, int], ...]:
        body = functions[name]
        counts = Counter(body.op_counts)
        del counts[CALL_OP]
        for site in body.calls:
            if site.callee in functions:
                counts.update(dict(inlined_counts(site.callee)))
            else:  # an external declaration: the call itself is all we can count
                counts[CALL_OP] += 1
        return tuple(sorted(counts.items()))

    @lru_cache(maxsize=None)
    def inlined_custom_calls(name: str) -> tuple[tuple[str, int], ...]:
        body = functions[name]
        targets = Counter(body.custom_call_targets)
        for site in body.calls:
            if site.callee in functions:
                targets.update(dict(inlined_custom_calls(site.callee)))
        return tuple(sorted(targets.items()))

    @lru_cache(maxsize=None)
    def inlined_depth(name: str) -> int:
        body = functions[name]
        depth = body.max_depth
        for site in body.calls:
            if site.callee in functions:
                depth = max(depth, site.depth + inlined_depth(site.callee))
        return depth

    ops_by_name = dict(inlined_counts(walk.entry))
    targets = dict(inlined_custom_calls(walk.entry))
    figures: dict[str, float] = {
        "ops": sum(sum(body.op_counts.values()) for body in functions.values()),
        "ops_inlined": sum(ops_by_name.values()),
        "branches": sum(count for name, count in ops_by_name.items() if name in BRANCH_OPS),
        "loops": sum(count for name, count in ops_by_name.items() if name in LOOP_OPS),
        "calls": sum(body.op_counts[CALL_OP] for body in functions.values()),
        "custom_calls": ops_by_name.get(CUSTOM_CALL_OP, 0),
        "constant_bytes": sum(body.constant_bytes for body in functions.values()),
        "max_depth": inlined_depth(walk.entry),
    }
    runs = find_runs(walk)
    figures["longest_run"] = longest_run(runs)
    return ProgramFigures(figures=figures, ops_by_name=ops_by_name, custom_call_targets=targets, runs=runs)
