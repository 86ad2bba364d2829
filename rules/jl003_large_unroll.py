"""JL003 large-unroll: ``lax.scan``/``fori_loop`` with ``unroll=True`` or a large unroll (pitfall P3)."""

from __future__ import annotations

from typing import ClassVar

import libcst as cst

from jaxlint.rules._base import Invalid, LintRule, Valid
from jaxlint.rules._patterns import SMALL_LOOP_MAX, FileMemo, int_value
from jaxlint.rules._scopes import bind_arguments, code_of, is_true

# Loop primitives with an `unroll` argument, and their parameters in call order.
_LOOPS: dict[str, tuple[str, ...]] = {
    "jax.lax.scan": ("f", "init", "xs", "length", "reverse", "unroll"),
    "jax.lax.fori_loop": ("lower", "upper", "body_fun", "init_val"),
}


class LargeUnroll(LintRule):
    CODE = "JL003"
    NAME = "large-unroll"
    MESSAGE = (
        "`unroll=True` (or a large unroll) copies the loop body into the program once per unrolled "
        "step; keep `unroll` small (≤ 8–16) and measure"
    )
    WHY = """
        `lax.scan(..., unroll=k)` emits k copies of the body inside the loop, and `unroll=True`
        emits one copy per step: the StableHLO program grows linearly in k (or in the number of
        steps), and XLA compile time with it. A 512-step scan lowers to 39 / 64 / 232 / 1,559
        HLO lines at unroll 1 / 8 / 64 / 512. Small unrolls (2–8) can speed the loop up on
        accelerators; beyond ~16 the compile cost dominates.
    """
    PITFALL = "P3"
    REFERENCES = ("jax#2777", "diffrax#94")
    TRACED_ONLY = False  # a scan is traced wherever it is written
    FIX_SAFETY = "unsafe"
    PREFILTER = ("unroll",)
    REQUIRES = ("keyword:unroll",)

    VALID: ClassVar[list[str | Valid]] = [
        """
import jax

def run(body, c, xs):
    return jax.lax.scan(body, c, xs, unroll=8)
""",
        """
from jax import lax

UNROLL = 4

def run(body, c):
    a = lax.fori_loop(0, 1000, body, c, unroll=UNROLL)
    return lax.scan(body, a, None, length=1000, unroll=1)
""",
        # Not a JAX loop: an unrelated function's `unroll` argument.
        """
def unroll(x, unroll=True):
    return x

def run(x):
    return unroll(x, unroll=True)
""",
    ]

    INVALID: ClassVar[list[Invalid]] = [
        Invalid(
            """
import jax

def run(body, c, xs):
    return jax.lax.scan(body, c, xs, unroll=True)
""",
            expected_replacement="""
import jax

def run(body, c, xs):
    return jax.lax.scan(body, c, xs)
""",
            expected_message_contains="unroll=True",
        ),
        Invalid(
            """
from jax import lax

def run(body, c):
    return lax.fori_loop(0, 100, body, c, unroll=True,)
""",
            expected_replacement="""
from jax import lax

def run(body, c):
    return lax.fori_loop(0, 100, body, c,)
""",
        ),
        Invalid(
            """
from jax import lax

def run(body, c, xs):
    return lax.scan(body, c, xs, unroll=512)
""",
            expected_message_contains="unroll=512",
        ),
        Invalid(
            """
from jax import lax

def run(body, c, xs):
    return lax.scan(body, c, xs, unroll=xs.shape[0])
""",
            expected_message_contains="every step",
        ),
    ]

    def __init__(self, context) -> None:
        super().__init__(context)
        self.memo = FileMemo(context)

    def visit_Call(self, node: cst.Call) -> None:
        qualified = self.context.qualified_name(node.func)
        parameters = _LOOPS.get(qualified or "")
        if parameters is None:
            return
        bound = bind_arguments(node, parameters)
        if bound is None or "unroll" not in bound:
            return
        unroll = bound["unroll"]
        value = unroll.value
        name = qualified.rpartition(".")[2]
        if is_true(value):
            self.report(
                node,
                f"`lax.{name}(..., unroll=True)` copies the body into the program once per step: the program "
                "grows with the trip count; drop it (or use a small unroll such as 4–8, measured)",
                replacement=_without(node, unroll),
                unsafe=True,  # meaning is kept; run-time speed may change
            )
            return
        literal = int_value(value, self.memo.constants)
        if literal is not None:
            if literal > SMALL_LOOP_MAX:
                self.report(
                    node,
                    f"`lax.{name}(..., unroll={code_of(value)})` copies the body {literal} times into the "
                    f"program; keep unroll ≤ {SMALL_LOOP_MAX} (4–8 is typical) and measure",
                )
            return
        if self.memo.classifier(node).is_size(value) and _is_trip_count(value, bound):
            self.report(
                node,
                f"`lax.{name}(..., unroll={code_of(value)})` unrolls every step of the loop: the program grows "
                "with the trip count; use a small constant unroll (4–8, measured)",
            )


def _is_trip_count(value: cst.BaseExpression, bound: dict[str, cst.Arg]) -> bool:
    """`unroll=len(xs)`, `unroll=xs.shape[0]`, `unroll=length`, `unroll=upper`: the whole loop."""
    if isinstance(value, cst.Subscript) or (isinstance(value, cst.Call) and code_of(value.func) == "len"):
        return True
    return any(
        key in bound and bound[key].value.deep_equals(value) for key in ("length", "upper")
    )


def _without(call: cst.Call, removed: cst.Arg) -> cst.Call:
    """``call`` without one argument; the new last argument keeps the old trailing comma."""
    args = [a for a in call.args if a is not removed]
    if args and call.args[-1] is removed:
        args[-1] = args[-1].with_changes(comma=removed.comma)
    return call.with_changes(args=args)
