"""Unrolled runs: the same op pattern repeated k times in a row inside one block.

A Python loop over save points or steps, ``jnp.stack([x] * n)`` or ``scan(unroll=n)`` leave
the same op (or a short group of ops) k times back to back in the StableHLO, with k growing
with n. The program's op count says *that* it grows; a run says *how*: one pattern, k
repeats, at one source line.

Two ops match when they have the same signature: op name, operand types, result types and
attributes (SSA names and locations never enter it). A run is a maximal stretch of a
block where every op matches the op ``period`` places before it, with a primitive unit
(``ABAB`` is reported as period 2, not 4) of at most :data:`MAX_PERIOD` ops.

Linear time. Full signatures are the expensive part (~13 µs per op through the MLIR
bindings: operand and result types, attributes), so runs are found in two passes:
1. on op *names* only (numpy over the block): runs by name; a stretch that repeats by
   signature repeats by name too, so no run is missed;
2. full signatures checked on a sample of each run: every op of its first three units,
   then ~:data:`SAMPLED_OPS` ops spread evenly over the rest (every op of a run shorter than
   that). If any sampled op differs from its counterpart one period back, the stretch is
   redone on full signatures for every op, exactly.
So a run of fewer than ~256 ops is always exact; a longer one is exact unless its odd ops
fall between the sample points. On a 32k-op stack this costs 0.01 s instead of 0.4 s.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterator, Sequence

import numpy as np

from .attribute import SourceLine, UNKNOWN_LINE, parse_location
from .walk import ProgramWalk

MAX_PERIOD = 16  # longest repeated group looked for, in ops (a small step function unrolled)
MIN_REPEATS = 3  # shorter repetitions are everyday code (two constants in a row), not unrolling
RUNS_KEPT = 10  # runs kept per program for the report (the longest)
SAMPLED_OPS = 256  # full signatures checked per run beyond its first units


@dataclass(frozen=True)
class Run:
    """``repeats`` copies of ``pattern`` (op names of one unit) back to back in one block."""

    function: str
    line: SourceLine  # where the run's first op comes from
    pattern: tuple[str, ...]
    repeats: int
    start: int  # index of the first op in the function's walk order

    @property
    def ops(self) -> int:
        return self.repeats * len(self.pattern)

    def describe(self) -> str:
        unit = " ".join(name.removeprefix("stablehlo.") for name in self.pattern)
        return f"{self.repeats} × [{unit}]"

    def to_json(self) -> dict[str, Any]:
        return {"path": self.line.path, "line": self.line.line, "pattern": list(self.pattern), "repeats": self.repeats}


def _stretches(codes: np.ndarray, period: int, min_repeats: int) -> Iterator[tuple[int, int]]:
    """Maximal [start, stop) where ``codes[i] == codes[i - period]`` and that hold ≥ min_repeats units."""
    if len(codes) < period * min_repeats:
        return
    same = codes[period:] == codes[:-period]
    # Edges of the True stretches in `same`; index j of `same` is position j + period.
    padded = np.concatenate(([False], same, [False]))
    edges = np.flatnonzero(padded[1:] != padded[:-1])
    for begin, end in zip(edges[::2], edges[1::2]):
        length = int(end - begin) + period  # the matched positions plus the first unit
        if length // period >= min_repeats:
            yield int(begin), int(begin) + length


def _primitive(unit: Sequence[int]) -> bool:
    """False when the unit is itself a repetition (ABAB = 2 × AB)."""
    size = len(unit)
    for shorter in range(1, size):
        if size % shorter == 0 and all(unit[i] == unit[i + shorter] for i in range(size - shorter)):
            return False
    return True


def _signature(op: Any) -> tuple[Any, ...]:
    """Name, operand types, result types, attributes: MLIR types and attributes are uniqued
    per context, so the objects themselves hash and compare by value, with no printing."""
    attributes = op.attributes
    return (
        op.name,
        tuple([value.type for value in op.operands]),
        tuple([result.type for result in op.results]),
        tuple([(attributes[i].name, attributes[i].attr) for i in range(len(attributes))]),
    )


def _sample_agrees(ops: Sequence[Any], start: int, stop: int, period: int) -> bool:
    """Full signatures of sampled ops equal those one period earlier, within [start, stop)."""
    head = range(start + period, min(stop, start + 3 * period))
    stride = max(1, (stop - start) // SAMPLED_OPS)
    sample = [*head, *range(start + 3 * period, stop, stride), stop - 1]
    return all(_signature(ops[i]) == _signature(ops[i - period]) for i in sample if i - period >= start)


def _runs_by(codes: np.ndarray, max_period: int, min_repeats: int) -> Iterator[tuple[int, int, int]]:
    for period in range(1, max_period + 1):
        for start, stop in _stretches(codes, period, min_repeats):
            if _primitive(codes[start : start + period].tolist()):
                yield start, period, (stop - start) // period


def _merge(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for start, stop in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], stop))
        else:
            merged.append((start, stop))
    return merged


def _block_runs(
    ops: Sequence[Any], names: Sequence[str], interned: dict[Any, int], max_period: int, min_repeats: int
) -> Iterator[tuple[int, int, int]]:
    """(start, period, repeats) of every primitive run in one block's ops."""
    name_codes = np.array([interned.setdefault(("name", name), len(interned)) for name in names], dtype=np.int64)
    candidates = _merge(
        [span for period in range(1, max_period + 1) for span in _stretches(name_codes, period, min_repeats)]
    )
    for begin, end in candidates:
        stretch = ops[begin:end]
        for start, period, repeats in _runs_by(name_codes[begin:end], max_period, min_repeats):
            stop = start + period * repeats
            if _sample_agrees(stretch, start, stop, period):
                yield begin + start, period, repeats
                continue
            # Some op of this run differs in types or attributes: redo just this run exactly.
            codes = np.array(
                [interned.setdefault(_signature(op), len(interned)) for op in stretch[start:stop]], dtype=np.int64
            )
            for inner, inner_period, inner_repeats in _runs_by(codes, max_period, min_repeats):
                yield begin + start + inner, inner_period, inner_repeats


def _function_lines(walk: ProgramWalk) -> dict[str, SourceLine | None]:
    """For each function, the user line of its first call site (for ops whose own frames are
    all internal: a nested jit's ops only carry frames up to its boundary)."""
    lines: dict[str, SourceLine | None] = {walk.entry: None}
    queue = [walk.entry]
    while queue:
        caller = queue.pop(0)
        for site in walk.functions[caller].calls:
            if site.callee in walk.functions and site.callee not in lines:
                lines[site.callee] = parse_location(site.location).blamed or lines[caller]
                queue.append(site.callee)
    return lines


def find_runs(
    walk: ProgramWalk, *, max_period: int = MAX_PERIOD, min_repeats: int = MIN_REPEATS
) -> list[Run]:
    """Every unrolled run in the program, longest (most repeats) first.

    A function called from several sites is searched once (its runs are the same at each).
    """
    interned: dict[Any, int] = {}
    borrowed = _function_lines(walk)
    runs: list[Run] = []
    for name, body in walk.functions.items():
        by_block: dict[int, list[int]] = {}
        for index, (block, _, _) in enumerate(body.sequence):
            by_block.setdefault(block, []).append(index)
        for indices in by_block.values():
            if len(indices) < min_repeats:
                continue
            ops = [body.sequence[i][2] for i in indices]
            names = [body.sequence[i][1] for i in indices]
            for start, period, repeats in _block_runs(ops, names, interned, max_period, min_repeats):
                first = ops[start]
                line = parse_location(str(first.location)).blamed or borrowed.get(name) or UNKNOWN_LINE
                runs.append(Run(name, line, tuple(names[start : start + period]), repeats, indices[start]))
    runs.sort(key=lambda run: (-run.repeats, -run.ops, run.line, run.start))
    return runs


def longest_run(runs: Sequence[Run]) -> int:
    """The ``longest_run`` figure: most repeats of one pattern (1 when nothing repeats ≥ MIN_REPEATS times)."""
    return max((run.repeats for run in runs), default=1)
