"""JL013 max-steps-buffers: buffers sized by a huge (or unbounded) ``max_steps`` (pitfall P13)."""

from __future__ import annotations

from typing import ClassVar

import libcst as cst

from jaxlint.rules._base import Invalid, LintRule, Valid
from jaxlint.rules._patterns import FileMemo, int_value
from jaxlint.rules._scopes import code_of, keyword_arg

_SOLVER_PACKAGES = ("diffrax.", "jaxlint.solver.")
# A max_steps at least this large makes per-step buffers worth a look (the default is 4096).
LARGE_MAX_STEPS = 100_000


class MaxStepsBuffers(LintRule):
    CODE = "JL013"
    NAME = "max-steps-buffers"
    MESSAGE = (
        "`SaveAt(steps=True)` / `SaveAt(dense=True)` / `DirectAdjoint()` with a huge or unbounded "
        "`max_steps`: buffers and loop bounds have max_steps entries; set a tight `max_steps`"
    )
    WHY = """
        Saving every step (`SaveAt(steps=True)`), keeping the dense interpolant (`dense=True`), or
        differentiating with `DirectAdjoint` allocates buffers with one row per *possible* step:
        memory and the work spent initialising, carrying and reading them grow linearly with
        `max_steps`, not with the steps actually taken. `max_steps=1_000_000` with steps=True
        allocates a million rows even if the solve takes fifty steps, and `max_steps=None` is
        refused outright for these modes (there is no bound to size them). The default 4096, or
        a bound close to the expected step count, keeps them small (diffrax#549, PR #546).
    """
    PITFALL = "P13"
    REFERENCES = ("diffrax#549", "diffrax PR #546")
    TRACED_ONLY = False
    FIX_SAFETY = "none"
    PREFILTER = ("max_steps",)
    REQUIRES = ("keyword:max_steps",)

    VALID: ClassVar[list[str | Valid]] = [
        # The default max_steps (4096), and a large max_steps when saving only at ts.
        """
import diffrax

def solve(term, solver, y0, ts):
    a = diffrax.diffeqsolve(term, solver, 0.0, 1.0, 0.01, y0, saveat=diffrax.SaveAt(steps=True))
    b = diffrax.diffeqsolve(term, solver, 0.0, 1.0, 0.01, y0, saveat=diffrax.SaveAt(ts=ts), max_steps=None)
    return a, b
""",
        """
import diffrax

SAVEAT = diffrax.SaveAt(dense=True)

def solve(term, solver, y0):
    return diffrax.diffeqsolve(term, solver, 0.0, 1.0, None, y0, saveat=SAVEAT, max_steps=10_000)
""",
        """
from diffrax import SaveAt, diffeqsolve

def solve(term, solver, y0):
    return diffeqsolve(term, solver, 0.0, 1.0, 0.1, y0, saveat=SaveAt(steps=False, t1=True), max_steps=10**7)
""",
    ]

    INVALID: ClassVar[list[Invalid]] = [
        Invalid(
            """
import diffrax

def solve(term, solver, y0):
    saveat = diffrax.SaveAt(steps=True)
    return diffrax.diffeqsolve(term, solver, 0.0, 1.0, 0.01, y0, saveat=saveat, max_steps=1_000_000)
""",
            expected_message_contains="1,000,000",
        ),
        Invalid(
            """
from diffrax import SaveAt, diffeqsolve

def solve(term, solver, y0):
    return diffeqsolve(term, solver, 0.0, 1.0, 0.1, y0, saveat=SaveAt(dense=True), max_steps=None)
""",
            expected_message_contains="max_steps=None",
        ),
        Invalid(
            """
import diffrax

def grad_solve(term, solver, y0):
    return diffrax.diffeqsolve(
        term, solver, 0.0, 1.0, 0.01, y0, adjoint=diffrax.DirectAdjoint(), max_steps=int(1e6)
    )
""",
            expected_message_contains="DirectAdjoint",
        ),
        Invalid(
            """
from jaxlint.solver import DirectAdjoint, diffeqsolve

def solve(term, solver, y0):
    return diffeqsolve(term, solver, 0.0, 1.0, 0.01, y0, adjoint=DirectAdjoint(), max_steps=None)
""",
            expected_message_contains="`DirectAdjoint()` with `max_steps=None`",
        ),
    ]

    def __init__(self, context) -> None:
        super().__init__(context)
        self.memo = FileMemo(context)

    def visit_Call(self, node: cst.Call) -> None:
        if not self._is(node.func, "diffeqsolve"):
            return
        max_steps = keyword_arg(node, "max_steps")
        if max_steps is None:
            return  # the default, 4096
        value = max_steps.value
        unbounded = isinstance(value, cst.Name) and value.value == "None"
        count = None if unbounded else int_value(value, self.memo.constants)
        if not unbounded and (count is None or count < LARGE_MAX_STEPS):
            return
        modes = self._step_sized_modes(node)
        if not modes:
            return
        what = " and ".join(modes)
        if unbounded:
            message = (
                f"{what} with `max_steps=None`: these buffers are sized by max_steps, so there is nothing to "
                "size them by (diffrax refuses it); give a finite `max_steps` close to the expected step count"
            )
        else:
            message = (
                f"{what} with `max_steps={code_of(value)}` ({count:,}): buffers get one row per possible step, "
                "so memory and the work to fill and carry them grow with max_steps, not with the steps taken; "
                "set a tight `max_steps` (or save at `ts`)"
            )
        self.report(max_steps, message)

    def _is(self, func: cst.BaseExpression, name: str) -> bool:
        qualified = self.context.qualified_name(func) or ""
        return qualified.startswith(_SOLVER_PACKAGES) and qualified.rpartition(".")[2] == name

    def _step_sized_modes(self, call: cst.Call) -> list[str]:
        """Which of the call's options allocate per-step buffers."""
        modes: list[str] = []
        saveat = keyword_arg(call, "saveat")
        if saveat is not None:
            found = self._resolve(saveat.value, call)
            if isinstance(found, cst.Call) and self._is(found.func, "SaveAt"):
                for option in self._per_step_options(found):
                    modes.append(f"`SaveAt({option})`")
        adjoint = keyword_arg(call, "adjoint")
        if adjoint is not None:
            found = self._resolve(adjoint.value, call)
            if isinstance(found, cst.Call) and self._is(found.func, "DirectAdjoint"):
                modes.append("`DirectAdjoint()`")
        return modes

    def _per_step_options(self, saveat: cst.Call) -> list[str]:
        options: list[str] = []
        for arg in saveat.args:
            if arg.keyword is None:
                continue
            key = arg.keyword.value
            if key in ("steps", "dense") and _truthy(arg.value):
                options.append(f"{key}={code_of(arg.value)}")
            elif key == "subs":
                subs = arg.value
                items = [e.value for e in subs.elements] if isinstance(subs, (cst.List, cst.Tuple)) else [subs]
                for item in items:
                    if isinstance(item, cst.Call) and self._is(item.func, "SubSaveAt"):
                        step = keyword_arg(item, "steps")
                        if step is not None and _truthy(step.value):
                            options.append(f"subs=[SubSaveAt(steps={code_of(step.value)})]")
        return options

    def _resolve(self, expr: cst.BaseExpression, at: cst.CSTNode) -> cst.BaseExpression:
        """A name bound once (in the function, else at module level) -> its value."""
        if isinstance(expr, cst.Name):
            scope = self.memo.local_scope(at)
            if scope is not None and expr.value in scope.bound:
                return scope.single_values().get(expr.value, expr)
            return self.memo.constants.get(expr.value, expr)
        return expr


def _truthy(expr: cst.BaseExpression) -> bool:
    if isinstance(expr, cst.Name):
        return expr.value == "True"
    value = int_value(expr)
    return value is not None and value != 0
