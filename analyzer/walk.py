"""Stage 2 — walk: every op of a StableHLO module, through the MLIR Python bindings.

We walk the IR objects rather than regex the text: the text hides ``call @f`` inside
bodies, prints some reductions in a compact form, and has attribute names that look like
ops. The walk records, per ``func.func``, what later stages need and nothing more:
op kinds, call sites, each op's location string, constant bytes and nesting depth, and
the ops in order with the block each sits in (for unrolled runs, see ``runs``).
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

CALL_OP = "func.call"
BRANCH_OPS = frozenset({"stablehlo.case", "stablehlo.if"})
LOOP_OPS = frozenset({"stablehlo.while"})
CUSTOM_CALL_OP = "stablehlo.custom_call"
CONSTANT_OP = "stablehlo.constant"


@dataclass(frozen=True)
class CallSite:
    """One ``func.call``: which function it calls, from where, at which region depth."""

    callee: str
    location: str
    depth: int


@dataclass
class FunctionBody:
    """What one ``func.func`` holds itself (callees are counted separately)."""

    name: str
    op_counts: Counter[str] = field(default_factory=Counter)
    calls: list[CallSite] = field(default_factory=list)
    # (location string, op name) -> count, for every op except func.call (calls are
    # attributed through their callee's ops).
    located_ops: Counter[tuple[str, str]] = field(default_factory=Counter)
    custom_call_targets: Counter[str] = field(default_factory=Counter)
    constant_bytes: int = 0
    # Constants apart: (own location, first user's location or "", dense bytes) -> count.
    # A constant jax hoisted out of the user's code carries only the jit's own frame; the
    # op that uses it says which line it belongs to (see attribute).
    constants: Counter[tuple[str, str, int]] = field(default_factory=Counter)
    max_depth: int = 0
    # Every op in walk order as (block number within this function, op name, the op).
    # The live op objects are kept so that only ops inside candidate runs ever pay for a
    # full signature (types and attributes cost ~20 µs per op through the bindings).
    sequence: list[tuple[int, str, Any]] = field(default_factory=list)


@dataclass
class ProgramWalk:
    """All functions of one module; ``entry`` is the public function jit made (``main``)."""

    functions: dict[str, FunctionBody]
    entry: str


_WIDTH = re.compile(r"^[a-z]*?(\d+)")


def element_bytes(element_type: str) -> int:
    """Bytes per element of an MLIR element type string: f32 -> 4, i1 -> 1, complex<f64> -> 16."""
    if element_type.startswith("complex<"):
        return 2 * element_bytes(element_type[len("complex<") : -1])
    match = _WIDTH.match(element_type)
    if match is None:  # index and other exotic types: count as 8 bytes
        return 8
    return max(1, (int(match.group(1)) + 7) // 8)


def _dense_constant_bytes(op: Any) -> int:
    """Bytes a non-splat dense constant carries in the program (0 for splats)."""
    from jaxlib.mlir import ir

    value = op.attributes["value"]
    if not isinstance(value, ir.DenseElementsAttr):  # e.g. dense_resource blobs
        return 0
    if value.is_splat:
        return 0
    shaped = ir.ShapedType(value.type)
    count = 1
    for dim in shaped.shape:
        count *= dim
    return count * element_bytes(str(shaped.element_type))


def _callee_name(op: Any) -> str:
    # The `callee` attribute prints as a symbol reference: @name
    return str(op.attributes["callee"]).lstrip("@").strip('"')


def _custom_call_target(op: Any) -> str:
    return str(op.attributes["call_target_name"]).strip('"')


_TERMINATOR_BY_NAME: dict[str, bool] = {}
_HOLDS_REGIONS: dict[str, bool] = {}  # op kind -> whether its ops carry regions


def _is_terminator(op: Any, name: str) -> bool:
    """Whether ``op`` ends its block (cached per op name: the trait is a property of the kind)."""
    known = _TERMINATOR_BY_NAME.get(name)
    if known is None:
        try:
            from jaxlib.mlir import ir

            known = bool(op.has_trait(ir.IsTerminatorTrait))
        except (AttributeError, ImportError):  # older bindings: StableHLO/func terminators by name
            known = name.endswith((".return", ".yield"))
        _TERMINATOR_BY_NAME[name] = known
    return known


def _region_depth(op: Any, func_op: Any) -> int:
    """How many region-holding ops enclose ``op`` inside its function (0 at the top)."""
    depth = 0
    parent = op.parent
    while parent is not None and parent != func_op:
        depth += 1
        parent = parent.parent
    return depth


def _walk_function(body: FunctionBody, func_op: Any) -> None:
    """Record every op nested in ``func_op``.

    ``Operation.walk`` hands us plain Operations (no per-op OpView construction), and
    locations are keyed by their uniqued attribute, printed once per distinct location:
    together ~5x faster than recursing through Python region/block iterators.
    """
    from jaxlib.mlir import ir

    located: dict[tuple[Any, str], int] = {}
    constants: dict[tuple[Any, Any, int], int] = {}
    calls: list[tuple[Any, Any]] = []  # (call op, location attribute)
    sequence = body.sequence
    # Block tracking without asking each op for its block (as costly as the whole walk):
    # pre-order visits a region-holding op, then each of its blocks in turn, and every
    # block ends with a terminator. Each entry: [enclosing block, blocks still to visit].
    open_regions: list[list[int]] = []
    block = [0, 1]  # [current block number, next unused number]
    first = [True]  # pre-order: the first op visited is func_op itself
    advance = ir.WalkResult.ADVANCE

    # The per-op callback is the hot path (one call per op of a possibly 30k-op module):
    # per-kind facts (holds regions, is a terminator) are cached by op name, and op counts
    # are summed from `located` afterwards rather than counted here.
    def visit(op: Any) -> Any:
        if first[0]:
            first[0] = False
            return advance
        name = op.name
        sequence.append((block[0], name, op))
        holds_regions = _HOLDS_REGIONS.get(name)
        if holds_regions is None:
            holds_regions = _HOLDS_REGIONS[name] = len(op.regions) > 0
        if holds_regions:
            blocks = sum(len(region.blocks) for region in op.regions)
            if blocks:
                open_regions.append([block[0], blocks])
                block[0], block[1] = block[1], block[1] + 1
            body.max_depth = max(body.max_depth, _region_depth(op, func_op) + 1)
        elif open_regions and _is_terminator(op, name):
            top = open_regions[-1]
            top[1] -= 1
            if top[1] == 0:
                block[0] = top[0]
                open_regions.pop()
            else:
                block[0], block[1] = block[1], block[1] + 1
        location = op.location.attr
        if name == CALL_OP:
            calls.append((op, location))
            return advance
        if name == CONSTANT_OP:
            size = _dense_constant_bytes(op)
            body.constant_bytes += size
            user = next(iter(op.result.uses), None)
            constant_key = (location, user.owner.location.attr if user is not None else None, size)
            constants[constant_key] = constants.get(constant_key, 0) + 1
            return advance
        key = (location, name)
        located[key] = located.get(key, 0) + 1
        if name == CUSTOM_CALL_OP:
            body.custom_call_targets[_custom_call_target(op)] += 1
        return advance

    func_op.walk(visit, ir.WalkOrder.PRE_ORDER)
    printed: dict[Any, str] = {}

    def text(location: Any) -> str:
        if location not in printed:
            printed[location] = str(location)
        return printed[location]

    for (location, name), count in located.items():
        body.located_ops[(text(location), name)] += count
        body.op_counts[name] += count
    for (location, user, size), count in constants.items():
        body.constants[(text(location), text(user) if user is not None else "", size)] += count
        body.op_counts[CONSTANT_OP] += count
    if calls:
        body.op_counts[CALL_OP] += len(calls)
    body.calls.extend(
        CallSite(_callee_name(op), text(location), _region_depth(op, func_op)) for op, location in calls
    )


def walk_module(module: Any) -> ProgramWalk:
    """Walk a ``jaxlib.mlir.ir.Module`` produced by ``Lowered.compiler_ir("stablehlo")``."""
    functions: dict[str, FunctionBody] = {}
    entry: str | None = None
    for func_op in module.body.operations:
        operation = func_op.operation
        if operation.name != "func.func":
            continue
        name = str(operation.attributes["sym_name"]).strip('"')
        body = FunctionBody(name)
        _walk_function(body, operation)
        functions[name] = body
        visibility = operation.attributes["sym_visibility"] if "sym_visibility" in operation.attributes else None
        if entry is None and (name == "main" or (visibility is not None and str(visibility).strip('"') == "public")):
            entry = name
    if entry is None:
        if not functions:
            raise ValueError("the StableHLO module has no func.func")
        entry = next(iter(functions))
    return ProgramWalk(functions=functions, entry=entry)
