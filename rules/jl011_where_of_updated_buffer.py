"""JL011 where-of-updated-buffer: ``jnp.where(p, buf, buf.at[i].set(x))`` (pitfall P11)."""

from __future__ import annotations

from typing import ClassVar

import libcst as cst

from jaxlint.rules._base import Invalid, LintRule, Valid
from jaxlint.rules._patterns import FileMemo
from jaxlint.rules._scopes import code_of

_WHERE = frozenset({"jax.numpy.where"})
# Reductions whose result is a scalar when called without an axis.
_SCALAR_REDUCTIONS = frozenset(
    {"jax.numpy.all", "jax.numpy.any", "jax.numpy.array_equal", "jax.numpy.allclose", "jax.numpy.array_equiv"}
)
_SCALAR_COMBINERS = frozenset({"jax.numpy.logical_and", "jax.numpy.logical_or", "jax.numpy.logical_not", "jax.numpy.logical_xor"})


def _evaluated_once(part: cst.BaseSlice) -> bool:
    """An index part that can be written twice: names, attributes, integer literals, slices."""
    if isinstance(part, cst.Slice):
        return all(b is None or _plain(b) for b in (part.lower, part.upper, part.step))
    return _plain(part.value) if isinstance(part, cst.Index) else False


def _plain(expr: cst.BaseExpression) -> bool:
    if isinstance(expr, cst.UnaryOperation) and isinstance(expr.operator, cst.Minus):
        return _plain(expr.expression)
    if isinstance(expr, cst.Attribute):
        return _plain(expr.value)
    if isinstance(expr, cst.Tuple):
        return all(isinstance(e, cst.Element) and _plain(e.value) for e in expr.elements)
    return isinstance(expr, (cst.Name, cst.Integer, cst.Ellipsis))


def _at_set(expr: cst.BaseExpression) -> tuple[cst.BaseExpression, cst.Subscript, cst.Call] | None:
    """``buf.at[i].set(x)`` -> (buf, the ``.at[i]`` subscript, the ``set`` call)."""
    if not (isinstance(expr, cst.Call) and isinstance(expr.func, cst.Attribute) and expr.func.attr.value == "set"):
        return None
    indexed = expr.func.value
    if not (isinstance(indexed, cst.Subscript) and isinstance(indexed.value, cst.Attribute) and indexed.value.attr.value == "at"):
        return None
    positional = [a for a in expr.args if a.keyword is None]
    if len(positional) != 1 or positional[0].star or expr.args[0] is not positional[0]:
        return None
    return indexed.value.value, indexed, expr


class WhereOfUpdatedBuffer(LintRule):
    CODE = "JL011"
    NAME = "where-of-updated-buffer"
    MESSAGE = (
        "`jnp.where(p, buf, buf.at[i].set(x))` selects between two whole buffers and may copy all of it; "
        "select the element instead: `buf.at[i].set(jnp.where(p, buf[i], x))`"
    )
    WHY = """
        `jnp.where(p, buf, buf.at[i].set(x))` asks for two full versions of the buffer, the old and
        the updated one, and a select over every element: unless XLA proves it can update in
        place, each call copies the whole buffer, so run time and memory traffic grow with the
        buffer size (a save buffer of n points updated every step: O(n) work per step where an
        O(1) update was meant). Selecting the element first keeps a single in-place scatter. XLA
        sometimes removes the copy, hence a warning (diffrax PR #484 review).

        Fix safety: the rewrite is exact when `p` is a scalar (then both forms broadcast the same
        way). It is marked safe only when the rule can see `p` is a scalar (a literal, `jnp.all(...)`
        / `jnp.any(...)` without an axis, `.all()` / `.any()`, or comparisons and logical
        combinations of those); for any other predicate it is unsafe: an array-valued `p` would
        need `p[i]` in the rewrite. The rewrite also writes the index twice (`buf[i]` and
        `.at[i]`), so it is unsafe unless the index is names, attributes, literals or slices of
        them (`buf.at[next_slot()]` would call `next_slot` twice).
    """
    PITFALL = "P11"
    REFERENCES = ("diffrax PR #484",)
    TRACED_ONLY = False  # eager mode copies the buffer too
    FIX_SAFETY = "safe"
    PREFILTER = (".at[",)
    REQUIRES = ("jax.numpy.where",)

    VALID: ClassVar[list[str | Valid]] = [
        """
import jax.numpy as jnp

def save(p, buf, i, x):
    return buf.at[i].set(jnp.where(p, buf[i], x))
""",
        # Different buffers: a genuine select between two arrays.
        """
import jax.numpy as jnp

def pick(p, a, b, i, x):
    return jnp.where(p, a, b.at[i].set(x))
""",
        # `.add` is not `.set`: not this rewrite.
        """
import jax.numpy as jnp

def acc(p, buf, i, x):
    return jnp.where(p, buf, buf.at[i].add(x))
""",
    ]

    INVALID: ClassVar[list[Invalid]] = [
        Invalid(
            """
import jax.numpy as jnp

def save(ys, i, y, accept):
    ok = jnp.all(accept)
    return jnp.where(ok, ys.at[i].set(y), ys)
""",
            expected_replacement="""
import jax.numpy as jnp

def save(ys, i, y, accept):
    ok = jnp.all(accept)
    return ys.at[i].set(jnp.where(ok, y, ys[i]))
""",
        ),
        Invalid(
            """
import jax.numpy as jnp

def save(state, p, i, x):
    return jnp.where(p, state.ys, state.ys.at[i, :].set(x, mode="drop"))
""",
            expected_replacement="""
import jax.numpy as jnp

def save(state, p, i, x):
    return state.ys.at[i, :].set(jnp.where(p, state.ys[i, :], x), mode="drop")
""",
            expected_message_contains="unsafe unless `p` is a scalar",
        ),
        Invalid(
            """
from jax import numpy as np

def save(ts, t, i, done):
    return np.where(done.any() & (t > 0.0), ts, ts.at[i].set(t))
""",
            expected_replacement="""
from jax import numpy as np

def save(ts, t, i, done):
    return ts.at[i].set(np.where(done.any() & (t > 0.0), ts[i], t))
""",
        ),
    ]

    def __init__(self, context) -> None:
        super().__init__(context)
        self.memo = FileMemo(context)

    def visit_Call(self, node: cst.Call) -> None:
        if self.context.qualified_name(node.func) not in _WHERE:
            return
        if len(node.args) != 3 or any(a.keyword is not None or a.star for a in node.args):
            return
        predicate, if_true, if_false = (a.value for a in node.args)
        for updated, kept, update_when_true in ((if_false, if_true, False), (if_true, if_false, True)):
            found = _at_set(updated)
            if found is None:
                continue
            buffer, indexed, set_call = found
            if not buffer.deep_equals(kept) or not isinstance(buffer, (cst.Name, cst.Attribute)):
                continue
            element = cst.Subscript(value=buffer, slice=indexed.slice)
            new_value = set_call.args[0].value
            choices = (new_value, element) if update_when_true else (element, new_value)
            selected = cst.Call(
                func=node.func,
                args=[cst.Arg(predicate), cst.Arg(choices[0]), cst.Arg(choices[1])],
            )
            replacement = set_call.with_changes(
                args=[set_call.args[0].with_changes(value=selected), *set_call.args[1:]]
            )
            scalar = self._is_scalar(predicate, node)
            caveat = "" if scalar else " (the fix is unsafe unless `p` is a scalar: an array `p` would need `p[i]`)"
            # The rewrite names the index twice (`buf[i]`, `.at[i]`): a call there would run twice.
            repeated = [e.slice for e in indexed.slice if not _evaluated_once(e.slice)]
            index_once = not repeated
            if repeated:
                caveat += f" (the fix is unsafe: it evaluates the index `{code_of(repeated[0])}` twice)"
            self.report(
                node,
                f"`jnp.where` between `{code_of(buffer)}` and its `.at[...].set(...)` may copy the whole buffer; "
                f"select the element instead: `{code_of(replacement)}`{caveat}",
                replacement=replacement,
                unsafe=not (scalar and index_once),
            )
            return

    def _is_scalar(self, expr: cst.BaseExpression, at: cst.CSTNode, depth: int = 0) -> bool:
        """Provably a scalar predicate (see the rule's WHY for the list)."""
        if depth > 8:
            return False
        if isinstance(expr, (cst.Integer, cst.Float)) or (isinstance(expr, cst.Name) and expr.value in ("True", "False")):
            return True
        if isinstance(expr, cst.Name):
            scope = self.memo.local_scope(at)
            value = scope.single_values().get(expr.value) if scope is not None else None
            return value is not None and self._is_scalar(value, at, depth + 1)
        if isinstance(expr, cst.Call):
            qualified = self.context.qualified_name(expr.func)
            no_axis = all(a.keyword is None or a.keyword.value not in ("axis", "keepdims") for a in expr.args)
            if qualified in _SCALAR_REDUCTIONS:
                return no_axis and sum(1 for a in expr.args if a.keyword is None) <= (1 if qualified in ("jax.numpy.all", "jax.numpy.any") else 2)
            if qualified in _SCALAR_COMBINERS:
                return all(self._is_scalar(a.value, at, depth + 1) for a in expr.args)
            if isinstance(expr.func, cst.Attribute) and expr.func.attr.value in ("all", "any"):
                return not expr.args
            return False
        if isinstance(expr, cst.BinaryOperation) and isinstance(expr.operator, (cst.BitAnd, cst.BitOr, cst.BitXor)):
            return self._is_scalar(expr.left, at, depth + 1) and self._is_scalar(expr.right, at, depth + 1)
        if isinstance(expr, cst.UnaryOperation) and isinstance(expr.operator, (cst.BitInvert, cst.Not)):
            return self._is_scalar(expr.expression, at, depth + 1)
        if isinstance(expr, cst.Comparison):
            operands = [expr.left, *(c.comparator for c in expr.comparisons)]
            return all(self._is_scalar(o, at, depth + 1) for o in operands)
        return False
