"""JL004 checkpoint-per-segment: a Python loop of ``jax.checkpoint`` segments (pitfall P4)."""

from __future__ import annotations

from typing import ClassVar

import libcst as cst

from jaxlint.rules._base import Invalid, LintRule, Valid
from jaxlint.rules._patterns import FileMemo
from jaxlint.rules._scopes import calls_when_run, code_of

CHECKPOINTS = frozenset(
    {"jax.checkpoint", "jax.remat", "jax.ad_checkpoint.checkpoint", "jax.ad_checkpoint.remat", "equinox.filter_checkpoint"}
)
_PARTIALS = frozenset({"functools.partial", "equinox.Partial"})


class CheckpointPerSegment(LintRule):
    CODE = "JL004"
    NAME = "checkpoint-per-segment"
    MESSAGE = (
        "a checkpointed segment called in a Python loop: the program holds one copy of the segment per "
        "iteration; checkpoint one body inside `lax.scan`, or use `RecursiveCheckpointAdjoint(checkpoints=k)`"
    )
    WHY = """
        Hand-rolled checkpointing, `for seg in range(k): y = jax.checkpoint(segment)(y)` inside
        differentiated code, runs the Python loop at trace time: the forward and the rematerialised
        backward program each gain one copy of the segment per checkpoint, so program size and
        compile time grow linearly in the number of checkpoints (jaxley#55: 33 s to ~30 min of
        compile with ~50 checkpoints). One checkpointed body inside a loop primitive
        (`lax.scan(jax.checkpoint(step), ...)`, or diffrax's `RecursiveCheckpointAdjoint(checkpoints=k)`)
        is traced and compiled once whatever k is.
    """
    PITFALL = "P4"
    REFERENCES = ("jaxley#55", "jwave PR #123", "jax#2139")
    TRACED_ONLY = True
    FIX_SAFETY = "none"
    PREFILTER = ("checkpoint", "remat")
    REQUIRES = ("jax.checkpoint", "jax.remat", "jax.ad_checkpoint", "equinox.filter_checkpoint")

    VALID: ClassVar[list[str | Valid]] = [
        # One checkpointed body inside a scan: traced once.
        """
import jax

def segment(y, _):
    return y * 0.99, None

@jax.grad
def loss(y0):
    y, _ = jax.lax.scan(jax.checkpoint(segment), y0, None, length=1000)
    return y
""",
        # Plain Python: nothing here is traced.
        """
import jax

def rollout(y, segment, k):
    for _ in range(k):
        y = jax.checkpoint(segment)(y)
    return y
""",
        # Checkpointing a function defined in the loop is not calling it in the loop.
        """
import jax

@jax.jit
def build(fs, y):
    wrapped = []
    for f in fs:
        wrapped.append(jax.checkpoint(f))
    return wrapped[0](y)
""",
    ]

    INVALID: ClassVar[list[Invalid]] = [
        Invalid(
            """
import jax

def segment(y):
    return y * 0.99

@jax.grad
def loss(y, num_checkpoints=50):
    for _ in range(num_checkpoints):
        y = jax.checkpoint(segment)(y)
    return y
""",
            expected_message_contains="`loss` is differentiated at example.py:",
        ),
        Invalid(
            """
import equinox as eqx
import jax

@eqx.filter_checkpoint
def segment(y):
    return y * 0.99

@eqx.filter_jit
def run(y, k):
    i = 0
    while i < k:
        y = segment(y)
        i += 1
    return y
""",
            expected_message_contains="`segment`",
        ),
        Invalid(
            """
import jax
from functools import partial

def make_step():
    return lambda y: y * 0.5

@jax.jit
def run(y, segments):
    step = jax.remat(make_step(), policy=None)
    for _ in segments:
        y = step(y)
    return y
""",
        ),
    ]

    def __init__(self, context) -> None:
        super().__init__(context)
        self.memo = FileMemo(context)
        self.claimed: set[cst.Call] = set()  # calls already reported by an outer loop

    def visit_For(self, node: cst.For) -> None:
        count = self.memo.classifier(node).literal_count(node.iter)
        if count is None or count >= 2:
            self._check(node)

    def visit_While(self, node: cst.While) -> None:
        self._check(node)

    def _check(self, loop: cst.For | cst.While) -> None:
        reason = self.context.traced_reason(loop)
        if reason is None:
            return
        for call in calls_when_run(loop.body):
            if call in self.claimed:
                continue
            what = self._checkpointed(call, loop)
            if what is not None:
                self.claimed.add(call)
                self.report(
                    call,
                    f"{what} is called in a Python loop in traced code ({reason}): the program gets one copy "
                    "of the segment per iteration; checkpoint one body inside `lax.scan` "
                    "(`lax.scan(jax.checkpoint(step), ...)`) or use `RecursiveCheckpointAdjoint(checkpoints=k)`",
                )
                return

    def _checkpointed(self, call: cst.Call, loop: cst.CSTNode) -> str | None:
        """How ``call`` runs a checkpointed function, or None: ``jax.checkpoint(f)(y)`` or a
        name bound to a checkpoint (assignment or decorator)."""
        func = call.func
        if isinstance(func, cst.Call) and self._is_checkpoint_call(func):
            return f"`{code_of(func)}`"
        if isinstance(func, cst.Name):
            scope = self.memo.local_scope(loop)
            if scope is not None and func.value in scope.bound:
                value = scope.single_values().get(func.value)
                if isinstance(value, cst.Call) and self._is_checkpoint_call(value):
                    return f"`{func.value}` (= `{code_of(value.func)}(...)`)"
                return None
            definition = self._module_def(func.value)
            if definition is not None and any(self._is_checkpoint_decorator(d.decorator) for d in definition.decorators):
                return f"`{func.value}` (a checkpointed function)"
            value = self.memo.constants.get(func.value)
            if isinstance(value, cst.Call) and self._is_checkpoint_call(value):
                return f"`{func.value}` (= `{code_of(value.func)}(...)`)"
        return None

    def _is_checkpoint_call(self, call: cst.Call) -> bool:
        """``jax.checkpoint(f, ...)`` or ``partial(jax.checkpoint, ...)(f)``."""
        if self.context.qualified_name(call.func) in CHECKPOINTS:
            return bool(call.args)
        return isinstance(call.func, cst.Call) and self._is_checkpoint_decorator(call.func)

    def _is_checkpoint_decorator(self, decorator: cst.BaseExpression) -> bool:
        if self.context.qualified_name(decorator) in CHECKPOINTS:
            return True
        if isinstance(decorator, cst.Call):
            qualified = self.context.qualified_name(decorator.func)
            if qualified in _PARTIALS and decorator.args:
                return self.context.qualified_name(decorator.args[0].value) in CHECKPOINTS
        return False

    def _module_def(self, name: str) -> cst.FunctionDef | None:
        for statement in self.context.module.body:
            if isinstance(statement, cst.FunctionDef) and statement.name.value == name:
                return statement
        return None
