"""JL005 static-cond-predicate: ``lax.cond``/``lax.switch`` on a value known at trace time (pitfall P5)."""

from __future__ import annotations

from typing import ClassVar

import libcst as cst

from jaxlint.rules._base import Invalid, LintRule, Valid
from jaxlint.rules._patterns import FileMemo, int_value
from jaxlint.rules._scopes import Scope, code_of

# Calls whose result is a Python bool whatever their arguments are.
_STATIC_PREDICATES = frozenset({"builtins.isinstance", "builtins.issubclass", "builtins.hasattr", "builtins.callable"})
# Array attributes known at trace time (shapes and types, never values).
_STATIC_ATTRIBUTES = frozenset({"shape", "ndim", "dtype", "size"})
# Expressions that need no parentheses where they replace the call.
_ATOMS = (cst.Name, cst.Attribute, cst.Call, cst.Subscript, cst.Integer, cst.Float, cst.SimpleString, cst.List, cst.Tuple)


class StaticCondPredicate(LintRule):
    CODE = "JL005"
    NAME = "static-cond-predicate"
    MESSAGE = (
        "`lax.cond` on a predicate known at trace time: both branches are traced and compiled; "
        "call the chosen branch directly (or use a Python `if`)"
    )
    WHY = """
        `lax.cond` (and `lax.switch`) trace and compile every branch, whatever the predicate:
        with a literal or otherwise static predicate (`True`, `x is None`, `x.ndim == 0`,
        `isinstance(...)`) the program carries a branch that can never run, and an expensive
        function in it (a solver step, a linear solve) doubles the program and the compile time
        (seen in diffrax PR #453 and #290). It also bit diffrax#606: the n-operand stack sat in a
        branch that rarely ran and still cost 12.7 s of compile at n = 3000. A Python `if` on a
        static predicate traces only the branch taken.

        Fix safety: calling the chosen branch directly is unsafe (applied with
        `--unsafe-fixes`). `lax.cond`/`lax.switch` convert the operands and the results to
        arrays (a Python `2` in gives an int32 array out, the branch alone gives `3`), and they
        trace every branch and raise a TypeError when the branches' output types differ or one
        fails to trace; the inlined branch does neither. What the other branches return is not
        known from the source, so no case of this rewrite is provably the same program.
    """
    PITFALL = "P5"
    REFERENCES = ("diffrax PR #453", "diffrax#290", "diffrax#606")
    TRACED_ONLY = False  # lax.cond traces its branches wherever it is called
    FIX_SAFETY = "unsafe"
    PREFILTER = ("cond", "switch")
    REQUIRES = ("jax.lax.cond", "jax.lax.switch")

    VALID: ClassVar[list[str | Valid]] = [
        """
import jax
from jax import lax

@jax.jit
def step(pred, x):
    return lax.cond(pred, lambda v: v + 1, lambda v: v - 1, x)
""",
        # A comparison on traced values is dynamic; so is a parameter.
        """
import jax
from jax import lax

@jax.jit
def clip(x, t, t1, flag):
    y = lax.cond(t < t1, lambda: x, lambda: -x)
    return lax.switch(flag, [lambda: y, lambda: 2 * y])
""",
        # A Python if on a static predicate is the recommended form.
        """
import jax

@jax.jit
def f(x, mask=None):
    if mask is None:
        return x
    return x * mask
""",
    ]

    INVALID: ClassVar[list[Invalid]] = [
        Invalid(
            """
import jax
from jax import lax

@jax.jit
def step(x):
    return lax.cond(True, lambda v: v + 1, lambda v: v - 1, x)
""",
            expected_replacement="""
import jax
from jax import lax

@jax.jit
def step(x):
    return (lambda v: v + 1)(x)
""",
            expected_message_contains="the fix is unsafe: `lax.cond` converts operands and results to arrays",
        ),
        Invalid(
            """
import jax

def solve(y, expensive, cheap):
    return 2 * jax.lax.cond(False, lambda: expensive(y), lambda: y + 1.0)
""",
            expected_replacement="""
import jax

def solve(y, expensive, cheap):
    return 2 * (y + 1.0)
""",
        ),
        Invalid(
            """
from jax import lax

def pick(x, first, second):
    return lax.switch(1, (first, second), x)
""",
            expected_replacement="""
from jax import lax

def pick(x, first, second):
    return second(x)
""",
        ),
        Invalid(
            """
import jax
from jax import lax

@jax.jit
def f(x, mask=None):
    return lax.cond(mask is None, lambda: x, lambda: x * mask)
""",
            expected_message_contains="`mask is None`",
        ),
        Invalid(
            """
import jax
from jax import lax

USE_FAST = False

def f(x, fast, slow):
    return lax.cond(USE_FAST or x.ndim == 0, fast, slow, x)
""",
            expected_message_contains="known at trace time",
        ),
    ]

    def __init__(self, context) -> None:
        super().__init__(context)
        self.memo = FileMemo(context)

    def visit_Call(self, node: cst.Call) -> None:
        qualified = self.context.qualified_name(node.func)
        if qualified not in ("jax.lax.cond", "jax.lax.switch") or len(node.args) < 2:
            return
        if any(a.star for a in node.args[:3]) or any(a.keyword is not None for a in node.args[:2]):
            return
        is_cond = qualified == "jax.lax.cond"
        if is_cond and (len(node.args) < 3 or node.args[2].keyword is not None):
            return
        predicate = node.args[0].value
        name = "cond" if is_cond else "switch"
        literal = _literal_value(predicate)
        if literal is not None:
            self._report_literal(node, is_cond, literal)
            return
        if self._is_static(predicate, node):
            self.report(
                node,
                f"`lax.{name}` on `{code_of(predicate)}`, known at trace time: every branch is traced and "
                "compiled though only one can run; use a Python `if` (or call the branch directly)",
            )

    def _report_literal(self, node: cst.Call, is_cond: bool, literal: int) -> None:
        operand_args = node.args[3:] if is_cond else node.args[2:]
        if is_cond:
            chosen: cst.BaseExpression | None = node.args[1 if literal else 2].value
        else:
            branches = node.args[1].value
            chosen = None
            if isinstance(branches, (cst.List, cst.Tuple)) and branches.elements and all(
                isinstance(e, cst.Element) for e in branches.elements
            ):
                index = min(max(literal, 0), len(branches.elements) - 1)  # lax.switch clamps
                chosen = branches.elements[index].value
        name = "cond" if is_cond else "switch"
        message = (
            f"`lax.{name}` with the literal predicate `{code_of(node.args[0].value)}`: every branch is traced "
            "and compiled though only one can run; call the chosen branch directly"
        )
        fix: dict = {}
        if chosen is not None and not any(a.star for a in operand_args):
            operands = [a.value for a in operand_args]
            if all(a.keyword is None or a.keyword.value == "operand" for a in operand_args):
                fix = {"replacement": _call_branch(chosen, operands), "unsafe": True}
                message += (
                    f" (the fix is unsafe: `lax.{name}` converts operands and results to arrays and raises if the "
                    "branches' output types differ; the branch called alone does neither)"
                )
        self.report(node, message, **fix)

    # -- static predicates --
    def _is_static(self, expr: cst.BaseExpression, at: cst.CSTNode, depth: int = 0) -> bool:
        """A Python value at trace time: literals, `is` tests, isinstance(), shapes/dtypes,
        module or local constants, and `and`/`or`/`not`/comparisons of these."""
        if depth > 10:
            return False
        if _literal_value(expr) is not None or isinstance(expr, (cst.SimpleString, cst.Float)):
            return True
        if isinstance(expr, cst.Name):
            return self._constant_name(expr.value, at)
        if isinstance(expr, cst.Attribute):
            return expr.attr.value in _STATIC_ATTRIBUTES
        if isinstance(expr, cst.Subscript):
            return isinstance(expr.value, cst.Attribute) and expr.value.attr.value == "shape"
        if isinstance(expr, cst.UnaryOperation) and isinstance(expr.operator, cst.Not):
            return self._is_static(expr.expression, at, depth + 1)
        if isinstance(expr, cst.BooleanOperation):
            # `USE_FAST or dynamic` is still dynamic when USE_FAST is False: ask both sides.
            return self._is_static(expr.left, at, depth + 1) and self._is_static(expr.right, at, depth + 1)
        if isinstance(expr, cst.Comparison):
            if all(isinstance(c.operator, (cst.Is, cst.IsNot)) for c in expr.comparisons):
                return True  # identity is a Python bool whatever the operands are
            operands = [expr.left, *(c.comparator for c in expr.comparisons)]
            return all(self._is_static(o, at, depth + 1) for o in operands)
        if isinstance(expr, cst.Call):
            qualified = self.context.qualified_name(expr.func)
            if qualified in _STATIC_PREDICATES:
                return True
            if qualified in ("builtins.len", "jax.numpy.ndim", "jax.numpy.shape", "numpy.ndim", "numpy.shape"):
                return True
        return False

    def _constant_name(self, name: str, at: cst.CSTNode) -> bool:
        """A name bound once to a literal, in the enclosing function or else at module level."""
        scope: Scope | None = self.memo.local_scope(at)
        if scope is not None and name in scope.bound:
            value = scope.single_values().get(name)
            return value is not None and _literal_value(value) is not None
        if name in ("True", "False"):
            return True
        value = self.memo.constants.get(name)
        return value is not None and _literal_value(value) is not None


def _literal_value(expr: cst.BaseExpression) -> int | None:
    """True/False/integer literals as ints (what `lax.cond` and `lax.switch` will see)."""
    if isinstance(expr, cst.Name) and expr.value in ("True", "False"):
        return int(expr.value == "True")
    return int_value(expr) if isinstance(expr, (cst.Integer, cst.UnaryOperation)) else None


def _parenthesized(expr: cst.BaseExpression) -> cst.BaseExpression:
    if isinstance(expr, _ATOMS) or expr.lpar:
        return expr
    return expr.with_changes(lpar=[cst.LeftParen()], rpar=[cst.RightParen()])


def _call_branch(branch: cst.BaseExpression, operands: list[cst.BaseExpression]) -> cst.BaseExpression:
    """``branch(*operands)``; a zero-argument lambda called with nothing is its body."""
    if isinstance(branch, cst.Lambda) and not operands and not _has_parameters(branch):
        return _parenthesized(branch.body)
    func = branch if isinstance(branch, (cst.Name, cst.Attribute, cst.Call, cst.Subscript)) else _parenthesized(branch)
    return cst.Call(func=func, args=[cst.Arg(value=o) for o in operands])


def _has_parameters(lam: cst.Lambda) -> bool:
    params = lam.params
    return bool(params.params or params.posonly_params or params.kwonly_params) or isinstance(
        params.star_arg, cst.Param
    ) or params.star_kwarg is not None
