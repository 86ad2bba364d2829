"""JL001 stack-of-repeats: ``jnp.stack([x] * n)`` and friends (pitfall P1)."""

from __future__ import annotations

from typing import ClassVar

import libcst as cst

from jaxlint.rules._base import Invalid, LintRule, Valid

_BUILDERS = {
    "jax.numpy.stack": "stack",
    "jax.numpy.concatenate": "concatenate",
    "jax.numpy.array": "array",
    "jax.numpy.asarray": "asarray",
    "jax.numpy.vstack": "vstack",
    "jax.numpy.hstack": "hstack",
}
# A literal count up to this is a fixed, small program; the pattern costs when the count
# is a trace-time size (len(ts), max_steps, out_size) or a large literal.
SMALL_LITERAL_MAX = 16


def _small_literal(expr: cst.BaseExpression) -> bool:
    if isinstance(expr, cst.Integer):
        return int(expr.evaluated_value) <= SMALL_LITERAL_MAX
    return False


def _single_element(seq: cst.BaseExpression) -> cst.BaseExpression | None:
    """``[x]`` or ``(x,)`` -> x (not a starred element)."""
    if isinstance(seq, (cst.List, cst.Tuple)) and len(seq.elements) == 1:
        element = seq.elements[0]
        if isinstance(element, cst.Element):
            return element.value
    return None


class StackOfRepeats(LintRule):
    CODE = "JL001"
    NAME = "stack-of-repeats"
    MESSAGE = (
        "`jnp.stack` of a list repeated n times: one operand per element, the program grows with n; "
        "use `jnp.broadcast_to(x, (n, *jnp.shape(x)))` (for a save buffer: `jnp.where(ts == t0, y0, jnp.inf)`)"
    )
    WHY = """
        `jnp.stack([x] * n)` (or `concatenate`/`array`/`vstack`/`hstack`, or a comprehension
        over `range(n)`) is traced as an n-operand concatenate: the StableHLO program gains one
        op per element, and XLA's compile time grows super-linearly in n. diffrax 0.6.1 did this
        for its save buffer: +1.07 StableHLO ops per save point, 2.3 s / 94 s / >15 min compile
        at 1k / 10k / 30k save points. `jnp.broadcast_to` is one op at any n.
    """
    PITFALL = "P1"
    REFERENCES = ("diffrax#606", "diffrax PR #494 (introduced)", "diffrax PR #618 (fixed)")
    TRACED_ONLY = False  # eager jnp.stack compiles an n-operand program too
    FIX_SAFETY = "safe"
    PREFILTER = ("stack", "concatenate", "array")
    REQUIRES = tuple(_BUILDERS)

    VALID: ClassVar[list[str | Valid]] = [
        # A list of pytree leaves of fixed size: not a repeat.
        """
import jax
import jax.numpy as jnp

@jax.jit
def flatten(tree):
    leaves = jax.tree_util.tree_leaves(tree)
    return jnp.stack(leaves)
""",
        """
import jax
import jax.numpy as jnp

@jax.jit
def three(a, b, c):
    return jnp.stack([a, b, c])
""",
        """
import jax
import jax.numpy as jnp

@jax.jit
def small(x):
    return jnp.stack([x] * 3) + jnp.concatenate([x for _ in range(4)])
""",
        # numpy (not jax.numpy) on host data is not traced program size.
        """
import numpy as np

def host(x, n):
    return np.stack([x] * n)
""",
    ]

    INVALID: ClassVar[list[Invalid]] = [
        Invalid(
            """
import jax
import jax.numpy as jnp

@jax.jit
def init(y0, ts):
    return jnp.stack([y0] * len(ts))
""",
            expected_replacement="""
import jax
import jax.numpy as jnp

@jax.jit
def init(y0, ts):
    return jnp.broadcast_to(y0, (len(ts), *jnp.shape(y0)))
""",
            expected_message_contains="`init` is jitted at",
        ),
        Invalid(
            """
import equinox as eqx
from jax import numpy as np

@eqx.filter_jit
def buffers(out, out_size):
    return np.stack(out_size * [out])
""",
            expected_replacement="""
import equinox as eqx
from jax import numpy as np

@eqx.filter_jit
def buffers(out, out_size):
    return np.broadcast_to(out, (out_size, *np.shape(out)))
""",
        ),
        Invalid(
            """
import jax.numpy as jnp

def save(f, ts):
    return jnp.stack([f(i) for i in range(len(ts))])
""",
            expected_message_contains="comprehension",
        ),
        Invalid(
            """
import jax.numpy as jnp

def tile(x, max_steps):
    return jnp.concatenate([x] * max_steps)
""",
        ),
        Invalid(
            """
import jax.numpy as jnp

def big(x):
    return jnp.array([x] * 1000)
""",
            expected_replacement="""
import jax.numpy as jnp

def big(x):
    return jnp.broadcast_to(x, (1000, *jnp.shape(x)))
""",
        ),
    ]

    def visit_Call(self, node: cst.Call) -> None:
        qualified = self.context.qualified_name(node.func)
        kind = _BUILDERS.get(qualified or "")
        if kind is None or not node.args or node.args[0].keyword is not None or node.args[0].star:
            return
        argument = node.args[0].value
        repeated, count = self._repeat(argument)
        traced = self.context.traced_reason(node)
        where = f" ({traced})" if traced else ""
        if repeated is not None and count is not None:
            rewrite = "jnp.broadcast_to(x, (n, *jnp.shape(x)))"
            if kind in ("concatenate", "vstack", "hstack"):
                rewrite = f"`jnp.tile(x, reps)` (or {rewrite} reshaped)"
            else:
                rewrite = f"`{rewrite}`"
            message = (
                f"`jnp.{kind}` of `[x] * n`: one operand per element, the program grows with n; "
                f"use {rewrite} (for a save buffer: `jnp.where(ts == t0, y0, jnp.inf)`){where}"
            )
            self.report(node, message, **self._fix(node, kind, repeated, count))
            return
        size = self._comprehension_size(argument)
        if size is not None:
            self.report(
                node,
                f"`jnp.{kind}` of a comprehension over `range(n)`: one operand per element, the program "
                f"grows with n; build the array at once (`jax.vmap`, `jnp.broadcast_to`, or for a save "
                f"buffer `jnp.where(ts == t0, y0, jnp.inf)`){where}",
            )

    @staticmethod
    def _repeat(expr: cst.BaseExpression) -> tuple[cst.BaseExpression | None, cst.BaseExpression | None]:
        """``[x] * n`` / ``n * [x]`` with n not a small literal -> (x, n)."""
        if not isinstance(expr, cst.BinaryOperation) or not isinstance(expr.operator, cst.Multiply):
            return None, None
        for sequence, count in ((expr.left, expr.right), (expr.right, expr.left)):
            element = _single_element(sequence)
            if element is not None and not isinstance(count, (cst.List, cst.Tuple)):
                return (None, None) if _small_literal(count) else (element, count)
        return None, None

    def _comprehension_size(self, expr: cst.BaseExpression) -> cst.BaseExpression | None:
        if not isinstance(expr, (cst.ListComp, cst.GeneratorExp)):
            return None
        iterable = expr.for_in.iter
        if not isinstance(iterable, cst.Call) or self.context.qualified_name(iterable.func) != "builtins.range":
            return None
        bounds = [a.value for a in iterable.args]
        if not bounds or any(a.keyword is not None or a.star for a in iterable.args):
            return None
        if all(isinstance(b, cst.Integer) for b in bounds[:2]) and _small_literal(bounds[min(len(bounds), 2) - 1]):
            return None  # range(4), range(1, 4): a fixed, small program
        return bounds[0] if len(bounds) == 1 else bounds[1]

    def _fix(self, node: cst.Call, kind: str, repeated: cst.BaseExpression, count: cst.BaseExpression) -> dict:
        """broadcast_to is exactly `stack` along axis 0 (and `array` of arrays, unsafe for
        Python scalars' dtype); concatenate/vstack/hstack have other shapes: no fix."""
        if kind not in ("stack", "array", "asarray") or len(node.args) > 1:
            return {}  # an axis or dtype argument changes the result's layout or type
        namespace = node.func.value if isinstance(node.func, cst.Attribute) else None
        if namespace is None:
            return {}

        def attr(name: str) -> cst.Attribute:
            return cst.Attribute(value=namespace, attr=cst.Name(name))

        shape = cst.Tuple(
            [
                cst.Element(count),
                cst.StarredElement(cst.Call(attr("shape"), [cst.Arg(repeated)])),
            ]
        )
        replacement = cst.Call(attr("broadcast_to"), [cst.Arg(repeated), cst.Arg(shape)])
        # jnp.array([1.0] * n) is a strongly-typed float32; broadcast_to keeps a Python
        # scalar weakly typed: a dtype-promotion difference, so the array form is unsafe.
        return {"replacement": replacement, "unsafe": kind != "stack"}
