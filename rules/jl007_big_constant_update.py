"""JL007 big-constant-update: a big constant made in traced code, then ``.at[...]`` updated (pitfall P7)."""

from __future__ import annotations

from typing import ClassVar

import libcst as cst

from jaxlint.rules._base import Invalid, LintRule, Valid
from jaxlint.rules._patterns import LARGE_ARRAY_ELEMENTS, FileMemo, array_elements
from jaxlint.rules._scopes import code_of

_CONSTANT_MAKERS = frozenset({"jax.numpy.zeros", "jax.numpy.ones", "jax.numpy.full", "jax.numpy.empty"})


class _AtUses(cst.CSTVisitor):
    """Does a body use ``name.at[...]`` (outside nested defs, which have their own scope)?"""

    def __init__(self, name: str) -> None:
        super().__init__()
        self.name = name
        self.found = False

    def visit_Attribute(self, node: cst.Attribute) -> None:
        if node.attr.value == "at" and isinstance(node.value, cst.Name) and node.value.value == self.name:
            self.found = True

    def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
        return False


class BigConstantUpdate(LintRule):
    CODE = "JL007"
    NAME = "big-constant-update"
    MESSAGE = (
        "a big constant array made in traced code is updated with `.at[...]`: XLA materialises and "
        "constant-folds it; derive it from an input (`jnp.zeros_like(arg)`) or pass the buffer in"
    )
    WHY = """
        `jnp.ones((500, 500, 500)).at[i].set(v)` inside jit builds a constant whose shape is fixed
        at trace time; XLA's constant folding then materialises the 125M-element constant and
        evaluates the scatter on it at compile time. Compile time and compile memory grow with the
        constant's size (jax#12789). A buffer derived from an input (`jnp.zeros_like(y)`, or one
        passed in as an argument) is not a constant, so nothing is folded. Fires for literal shapes
        (or module constants) of at least 10,000 elements.
    """
    PITFALL = "P7"
    REFERENCES = ("jax#12789",)
    TRACED_ONLY = True
    FIX_SAFETY = "none"
    PREFILTER = (".at[",)
    REQUIRES = ("at-update",)  # in traced code (TRACED_ONLY)

    VALID: ClassVar[list[str | Valid]] = [
        """
import jax
import jax.numpy as jnp

@jax.jit
def scatter(buf, i, v):
    out = jnp.zeros_like(buf)
    return out.at[i].set(v)
""",
        # Small constants, big constants that are not updated, and untraced code.
        """
import jax
import jax.numpy as jnp

@jax.jit
def f(i, v):
    small = jnp.zeros((3, 3)).at[i].set(v)
    big = jnp.zeros((1000, 1000))
    return small, big + v

def host(i, v):
    return jnp.ones((500, 500, 500)).at[i].set(v)
""",
        # A different buffer is updated.
        """
import jax
import jax.numpy as jnp

@jax.jit
def f(buf, i, v):
    grid = jnp.zeros((1000, 1000))
    return grid + buf.at[i].set(v)
""",
    ]

    INVALID: ClassVar[list[Invalid]] = [
        Invalid(
            """
import jax
import jax.numpy as jnp

@jax.jit
def f(i, v):
    return jnp.ones((500, 500, 500)).at[i].set(v)
""",
            expected_message_contains="125,000,000 elements",
        ),
        Invalid(
            """
import jax
import jax.numpy as jnp

MAX_STEPS = 4096

def body(carry, x):
    i, ys = carry
    return (i + 1, ys.at[i].set(x)), None

@jax.jit
def save_all(xs):
    ys = jnp.full((MAX_STEPS, 3), jnp.nan)
    (_, ys), _ = jax.lax.scan(body, (0, ys), xs)
    return ys.at[0].set(0.0)
""",
            expected_message_contains="`jnp.full((MAX_STEPS, 3), jnp.nan)`",
        ),
        Invalid(
            """
import equinox as eqx
from jax import numpy as np

@eqx.filter_jit
def grid(idx, values):
    g = np.empty(shape=(200, 200))
    g = g.at[idx].add(values)
    return g
""",
        ),
    ]

    def __init__(self, context) -> None:
        super().__init__(context)
        self.memo = FileMemo(context)

    def visit_Call(self, node: cst.Call) -> None:
        if self.context.qualified_name(node.func) not in _CONSTANT_MAKERS:
            return
        found = array_elements(node, self.context, self.memo.constants)
        if found is None or found[0] < LARGE_ARRAY_ELEMENTS:
            return
        if not self._updated(node):
            return
        reason = self.context.traced_reason(node)
        if reason is None:
            return
        self.report(
            node,
            f"`{code_of(node)}` ({found[0]:,} elements) is a constant made in traced code ({reason}) and then "
            "updated with `.at[...]`: XLA materialises and constant-folds it at compile time; derive it from an "
            "input (`jnp.zeros_like(arg)`) or pass the buffer in as an argument",
        )

    def _updated(self, call: cst.Call) -> bool:
        """``jnp.zeros(s).at[...]`` directly, or ``buf = jnp.zeros(s)`` and ``buf.at[...]`` later
        in the same function."""
        parent = self.context.parent(call)
        if isinstance(parent, cst.Attribute) and parent.value is call and parent.attr.value == "at":
            return True
        if not isinstance(parent, cst.Assign) or len(parent.targets) != 1:
            return False
        target = parent.targets[0].target
        function = self.context.enclosing_function(call)
        if not isinstance(target, cst.Name) or function is None:
            return False
        finder = _AtUses(target.value)
        function.body.visit(finder)
        return finder.found
