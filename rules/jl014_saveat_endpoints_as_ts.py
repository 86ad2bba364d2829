"""JL014 saveat-endpoints-as-ts: ``SaveAt(ts=[t0, t1])`` where ``SaveAt(t0=True, t1=True)`` does (pitfall P14)."""

from __future__ import annotations

from typing import ClassVar

import libcst as cst

from jaxlint.rules._base import Invalid, LintRule, Valid
from jaxlint.rules._patterns import FileMemo
from jaxlint.rules._scopes import bind_arguments, code_of, keyword_arg

_SOLVER_PACKAGES = ("diffrax.", "jaxlint.solver.")
_ARRAY_WRAPPERS = frozenset({"jax.numpy.array", "jax.numpy.asarray", "numpy.array", "numpy.asarray"})
_SOLVE_PARAMETERS = ("terms", "solver", "t0", "t1", "dt0", "y0", "args")


class _SolveCalls(cst.CSTVisitor):
    def __init__(self) -> None:
        super().__init__()
        self.calls: list[cst.Call] = []

    def visit_Call(self, node: cst.Call) -> None:
        self.calls.append(node)

    def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
        return False


class SaveatEndpointsAsTs(LintRule):
    CODE = "JL014"
    NAME = "saveat-endpoints-as-ts"
    MESSAGE = (
        "`SaveAt(ts=[t0, t1])` saves the endpoints through the interpolation machinery; "
        "`SaveAt(t0=True, t1=True)` does it directly"
    )
    WHY = """
        Saving at `ts` adds an inner loop to the solve that interpolates each requested time from
        the dense output of the step it falls in. When the only times are the interval's endpoints,
        the flags `t0=True, t1=True` save the same two values without that machinery: the program
        is smaller (1,095 vs 1,363 HLO lines for the same solve) and compiles faster.

        Fix safety: offered when the two times are written exactly as the `t0` and `t1` of the
        enclosing `diffeqsolve` call and `SaveAt` has no other option than `fn`, and unsafe
        (applied with `--unsafe-fixes`). The saved times and the shape of `ys` are the same, but
        the value at t1 comes from the final step instead of from evaluating the interpolant at
        the step's end point: they agree only up to rounding. Measured in float32 (diffrax
        0.7.2): 1.2e-7 to 3.6e-7 apart with Tsit5 and a PID controller, and with constant steps
        Heun differs in 29 of 30 random solves (up to 1.3e-7 relative); only Euler's linear
        interpolant matched. Which solver and controller a solve uses is not known in general.
    """
    PITFALL = "P14"
    REFERENCES = ("diffrax FAQ (saving at the endpoints)",)
    TRACED_ONLY = False
    FIX_SAFETY = "unsafe"
    PREFILTER = ("SaveAt",)
    REQUIRES = ("diffrax.SaveAt", "jaxlint.solver.SaveAt")

    VALID: ClassVar[list[str | Valid]] = [
        """
import diffrax

def solve(term, solver, y0):
    return diffrax.diffeqsolve(term, solver, 0.0, 1.0, 0.1, y0, saveat=diffrax.SaveAt(t0=True, t1=True))
""",
        # Times inside the interval, and three save points: genuine `ts`.
        """
import diffrax
import jax.numpy as jnp

def solve(term, solver, y0, t0, t1):
    mid = diffrax.SaveAt(ts=[0.25, 0.75])
    a = diffrax.diffeqsolve(term, solver, 0.0, 1.0, 0.1, y0, saveat=mid)
    b = diffrax.diffeqsolve(term, solver, t0, t1, 0.1, y0, saveat=diffrax.SaveAt(ts=jnp.array([t0, 0.5, t1])))
    return a, b
""",
        # Inline, but the times are not the solve's endpoints.
        """
from diffrax import SaveAt, diffeqsolve

def solve(term, solver, y0, t0, t1, t_mid):
    return diffeqsolve(term, solver, t0, t1, 0.1, y0, saveat=SaveAt(ts=[t_mid, t1]))
""",
    ]

    INVALID: ClassVar[list[Invalid]] = [
        Invalid(
            """
import diffrax
import jax.numpy as jnp

def solve(term, solver, y0, t0, t1):
    return diffrax.diffeqsolve(term, solver, t0, t1, 0.1, y0, saveat=diffrax.SaveAt(ts=jnp.array([t0, t1])))
""",
            expected_replacement="""
import diffrax
import jax.numpy as jnp

def solve(term, solver, y0, t0, t1):
    return diffrax.diffeqsolve(term, solver, t0, t1, 0.1, y0, saveat=diffrax.SaveAt(t0=True, t1=True))
""",
            expected_message_contains="the fix is unsafe: the value at t1 then comes from the final step",
        ),
        Invalid(
            """
from diffrax import SaveAt, diffeqsolve

def solve(term, solver, y0, fn):
    return diffeqsolve(
        term, solver, t0=0.0, t1=10.0, dt0=0.1, y0=y0, saveat=SaveAt(ts=[0.0, 10.0], fn=fn)
    )
""",
            expected_replacement="""
from diffrax import SaveAt, diffeqsolve

def solve(term, solver, y0, fn):
    return diffeqsolve(
        term, solver, t0=0.0, t1=10.0, dt0=0.1, y0=y0, saveat=SaveAt(t0=True, t1=True, fn=fn)
    )
""",
        ),
        Invalid(
            """
import diffrax

SAVE_ENDS = diffrax.SaveAt(ts=[0.0, 1.0])
""",
            expected_message_contains="if these are the solve's t0 and t1",
        ),
        Invalid(
            """
import diffrax

def solve(term, solver, y0, T):
    saveat = diffrax.SaveAt(ts=(0.0, T))
    return diffrax.diffeqsolve(term, solver, 0.0, T, 0.1, y0, saveat=saveat)
""",
            expected_message_contains="the `t0` and `t1` of the `diffeqsolve` call",
        ),
    ]

    def __init__(self, context) -> None:
        super().__init__(context)
        self.memo = FileMemo(context)

    def _is(self, func: cst.BaseExpression, name: str) -> bool:
        qualified = self.context.qualified_name(func) or ""
        return qualified.startswith(_SOLVER_PACKAGES) and qualified.rpartition(".")[2] == name

    def visit_Call(self, node: cst.Call) -> None:
        if not self._is(node.func, "SaveAt"):
            return
        ts = keyword_arg(node, "ts")
        if ts is None:
            return
        pair = self._two_times(ts.value)
        if pair is None:
            return
        solve = self._enclosing_solve(node)
        if solve is not None:
            endpoints = self._endpoints(solve)
            if endpoints is None or not (pair[0].deep_equals(endpoints[0]) and pair[1].deep_equals(endpoints[1])):
                return  # other times (or unknown endpoints): a genuine `ts`
            others = [a for a in node.args if a is not ts]
            fixable = all(a.keyword is not None and a.keyword.value == "fn" for a in others)
            fix = {"replacement": _with_flags(node, ts), "unsafe": True} if fixable else {}
            caveat = (
                " (the fix is unsafe: the value at t1 then comes from the final step, not the interpolant, "
                "equal only up to rounding)" if fixable else ""
            )
            self.report(
                node,
                f"`SaveAt(ts={code_of(ts.value)})` lists the `t0` and `t1` of the `diffeqsolve` call: this adds an "
                "interpolating save loop to the program; use `SaveAt(t0=True, t1=True)`" + caveat,
                **fix,
            )
            return
        solve = self._solve_using_name(node)
        if solve is not None:
            endpoints = self._endpoints(solve)
            if endpoints is not None and pair[0].deep_equals(endpoints[0]) and pair[1].deep_equals(endpoints[1]):
                self.report(
                    node,
                    f"`SaveAt(ts={code_of(ts.value)})` lists the `t0` and `t1` of the `diffeqsolve` call at line "
                    f"{self.context.position(solve)[0]}: this adds an interpolating save loop to the program; "
                    "use `SaveAt(t0=True, t1=True)`",
                )
            return
        self.report(
            node,
            f"`SaveAt(ts={code_of(ts.value)})` with two times: if these are the solve's t0 and t1, "
            "`SaveAt(t0=True, t1=True)` saves them without the interpolating save loop",
        )

    def _two_times(self, expr: cst.BaseExpression) -> tuple[cst.BaseExpression, cst.BaseExpression] | None:
        """``[a, b]``, ``(a, b)``, ``jnp.array([a, b])`` -> (a, b)."""
        if isinstance(expr, cst.Call) and self.context.qualified_name(expr.func) in _ARRAY_WRAPPERS:
            if len(expr.args) != 1 or expr.args[0].keyword is not None:
                return None  # a dtype may change the saved times' type
            expr = expr.args[0].value
        if isinstance(expr, (cst.List, cst.Tuple)) and len(expr.elements) == 2:
            if all(isinstance(e, cst.Element) for e in expr.elements):
                return expr.elements[0].value, expr.elements[1].value
        return None

    def _enclosing_solve(self, saveat: cst.Call) -> cst.Call | None:
        holder = self.context.parent(saveat)
        if isinstance(holder, cst.Arg) and holder.keyword is not None and holder.keyword.value == "saveat":
            call = self.context.parent(holder)
            if isinstance(call, cst.Call) and self._is(call.func, "diffeqsolve"):
                return call
        return None

    def _solve_using_name(self, saveat: cst.Call) -> cst.Call | None:
        """``saveat = SaveAt(...)`` then ``diffeqsolve(..., saveat=saveat)`` in the same function."""
        assignment = self.context.parent(saveat)
        if not (isinstance(assignment, cst.Assign) and len(assignment.targets) == 1):
            return None
        target = assignment.targets[0].target
        function = self.context.enclosing_function(saveat)
        if not isinstance(target, cst.Name) or function is None:
            return None
        calls = _SolveCalls()
        function.body.visit(calls)
        for call in calls.calls:
            if self._is(call.func, "diffeqsolve"):
                used = keyword_arg(call, "saveat")
                if used is not None and isinstance(used.value, cst.Name) and used.value.value == target.value:
                    return call
        return None

    def _endpoints(self, solve: cst.Call) -> tuple[cst.BaseExpression, cst.BaseExpression] | None:
        bound = bind_arguments(solve, _SOLVE_PARAMETERS)
        if bound is None or "t0" not in bound or "t1" not in bound:
            return None
        return bound["t0"].value, bound["t1"].value


def _with_flags(saveat: cst.Call, ts: cst.Arg) -> cst.Call:
    """``SaveAt(ts=..., fn=f)`` -> ``SaveAt(t0=True, t1=True, fn=f)`` (keeping the layout)."""
    tight = cst.AssignEqual(whitespace_before=cst.SimpleWhitespace(""), whitespace_after=cst.SimpleWhitespace(""))
    comma = cst.Comma(whitespace_after=cst.SimpleWhitespace(" "))
    first = cst.Arg(keyword=cst.Name("t0"), value=cst.Name("True"), equal=tight, comma=comma)
    second = cst.Arg(keyword=cst.Name("t1"), value=cst.Name("True"), equal=tight, comma=ts.comma)
    args: list[cst.Arg] = []
    for arg in saveat.args:
        args.extend((first, second) if arg is ts else (arg,))
    return saveat.with_changes(args=args)
