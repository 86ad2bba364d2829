"""JL015 array-static: arrays in ``eqx.field(static=True)`` or jit static arguments (pitfall P15)."""

from __future__ import annotations

from typing import ClassVar

import libcst as cst

from jaxlint.rules._base import Invalid, LintRule, Valid
from jaxlint.rules._scopes import code_of, keyword_arg

_FIELDS = frozenset({"equinox.field", "equinox.static_field"})
_JAX_JIT = frozenset({"jax.jit", "jax.experimental.pjit.pjit"})
_PARTIALS = frozenset({"functools.partial"})
_ARRAY_TYPES = frozenset(
    {
        "jax.Array", "jax.numpy.ndarray", "jax.typing.ArrayLike", "numpy.ndarray", "numpy.typing.NDArray",
        "numpy.typing.ArrayLike", "jaxtyping.Array", "jaxtyping.ArrayLike", "jaxtyping.Shaped",
        "jaxtyping.Float", "jaxtyping.Int", "jaxtyping.Bool", "jaxtyping.Real", "jaxtyping.Complex",
        "jaxtyping.Inexact", "jaxtyping.Integer", "jaxtyping.Num", "jaxtyping.UInt",
        "jax.interpreters.xla.DeviceArray",
    }
)
_ARRAY_MAKERS = frozenset(
    {
        "array", "asarray", "zeros", "ones", "empty", "full", "arange", "linspace", "logspace", "eye",
        "identity", "zeros_like", "ones_like", "full_like", "empty_like", "load", "loadtxt", "stack",
        "concatenate", "diag", "tile", "meshgrid",
    }
)


class ArrayStatic(LintRule):
    CODE = "JL015"
    NAME = "array-static"
    MESSAGE = (
        "an array is marked static (`eqx.field(static=True)` or a jit static argument): it is hashed "
        "into the compilation cache key; make it a dynamic field / argument"
    )
    WHY = """
        Static fields and static arguments are part of the compilation cache key: they must be
        hashable and are compared by value on every call. An array there either fails (jax arrays
        are unhashable), or is hashed by identity (so every new array recompiles), or is baked into
        the program as a constant (its size adds to the program, and it is constant-folded). The
        compile count grows with the number of distinct arrays passed, and program size with their
        size. Arrays belong in ordinary (dynamic) fields and arguments; static is for shapes, flags,
        functions and other hashable Python values (equinox#746, jax#11018).
    """
    PITFALL = "P15"
    REFERENCES = ("equinox#746", "jax#11018")
    TRACED_ONLY = False
    FIX_SAFETY = "none"
    PREFILTER = ("static",)
    REQUIRES = ("equinox.field", "equinox.static_field", "keyword:static_argnums", "keyword:static_argnames")

    VALID: ClassVar[list[str | Valid]] = [
        """
import equinox as eqx
import jax

class Model(eqx.Module):
    weight: jax.Array
    activation: callable = eqx.field(static=True)
    width: int = eqx.field(static=True, default=16)
""",
        """
import jax
from functools import partial

@partial(jax.jit, static_argnames=("n", "method"))
def solve(y0: jax.Array, n: int = 10, method: str = "tsit5"):
    return y0 * n

out = solve(jax.numpy.ones(3), n=4)
""",
        # A dynamic (non-static) array field with a default.
        """
import equinox as eqx
import jax.numpy as jnp

class Tableau(eqx.Module):
    c: jnp.ndarray = eqx.field(default_factory=lambda: jnp.zeros(3))
""",
        # A static function whose signature mentions arrays is a function, not an array.
        """
import jax
from functools import partial
from typing import Callable, Optional

@partial(jax.jit, static_argnames=("matvec", "shape"))
def solve(b, matvec: Callable[[jax.Array], jax.Array], shape: Optional[tuple] = None):
    return matvec(b)
""",
    ]

    INVALID: ClassVar[list[Invalid]] = [
        Invalid(
            """
import equinox as eqx
import jax

class Model(eqx.Module):
    mask: jax.Array = eqx.field(static=True)
""",
            expected_message_contains="`mask`",
        ),
        Invalid(
            """
import equinox as eqx
import numpy as np

class Grid(eqx.Module):
    points: object = eqx.field(static=True, converter=np.asarray)
    weights: object = eqx.static_field(default=np.ones(100))
""",
            expected_message_contains="`points`",
        ),
        Invalid(
            """
import jax
from jaxtyping import Array, Float

def integrate(y0, ts: Float[Array, " n"]):
    return y0 * ts

fast = jax.jit(integrate, static_argnums=(1,))
""",
            expected_message_contains="`ts`",
        ),
        Invalid(
            """
import jax
import jax.numpy as jnp
from functools import partial

@partial(jax.jit, static_argnames="table")
def lookup(i, table):
    return table[i]

value = lookup(2, table=jnp.arange(10))
""",
            expected_message_contains="jnp.arange(10)",
        ),
    ]

    # -- eqx.field(static=True) --
    def visit_AnnAssign(self, node: cst.AnnAssign) -> None:
        value = node.value
        if not isinstance(value, cst.Call) or not isinstance(node.target, cst.Name):
            return
        qualified = self.context.qualified_name(value.func)
        if qualified not in _FIELDS:
            return
        static = keyword_arg(value, "static")
        if qualified == "equinox.field" and (static is None or not _is_true(static.value)):
            return
        reasons: list[str] = []
        if self._is_array_type(node.annotation.annotation):
            reasons.append(f"annotated `{code_of(node.annotation.annotation)}`")
        default = keyword_arg(value, "default")
        if default is not None and self._makes_array(default.value):
            reasons.append(f"defaults to `{code_of(default.value)}`")
        converter = keyword_arg(value, "converter")
        if converter is not None and self._is_array_maker(converter.value):
            reasons.append(f"converted by `{code_of(converter.value)}`")
        if reasons:
            self.report(
                node,
                f"static field `{node.target.value}` is {' and '.join(reasons)}: an array in a static field is "
                "hashed into the compilation cache key (recompiles per array, or fails to hash) and baked in "
                "as a constant; make it an ordinary field",
            )

    # -- jax.jit static_argnums / static_argnames --
    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        for decorator in node.decorators:
            options = self._jit_options(decorator.decorator)
            if options is not None:
                self._check_static(node, options, node.name.value)

    def visit_Assign(self, node: cst.Assign) -> None:
        # fast = jax.jit(f, static_argnums=...)
        value = node.value
        if not isinstance(value, cst.Call) or self.context.qualified_name(value.func) not in _JAX_JIT:
            return
        if not value.args or not isinstance(value.args[0].value, cst.Name):
            return
        definition = self._module_def(value.args[0].value.value)
        if definition is None:
            return
        alias = node.targets[0].target.value if len(node.targets) == 1 and isinstance(node.targets[0].target, cst.Name) else None
        self._check_static(definition, list(value.args[1:]), alias)

    def _jit_options(self, decorator: cst.BaseExpression) -> list[cst.Arg] | None:
        if not isinstance(decorator, cst.Call):
            return None
        inner = self.context.qualified_name(decorator.func)
        if inner in _PARTIALS and decorator.args and self.context.qualified_name(decorator.args[0].value) in _JAX_JIT:
            return list(decorator.args[1:])
        if inner in _JAX_JIT and all(a.keyword is not None for a in decorator.args):
            return list(decorator.args)  # @jax.jit(static_argnums=...)
        return None

    def _check_static(self, definition: cst.FunctionDef, options: list[cst.Arg], name: str | None) -> None:
        params = definition.params
        ordered = [*params.posonly_params, *params.params]
        by_name = {p.name.value: p for p in (*ordered, *params.kwonly_params)}
        static: dict[str, cst.Arg] = {}
        for option in options:
            if option.keyword is None:
                continue
            for item in _literal_items(option.value):
                if option.keyword.value == "static_argnums" and isinstance(item, int) and -len(ordered) <= item < len(ordered):
                    static[ordered[item].name.value] = option
                elif option.keyword.value == "static_argnames" and isinstance(item, str) and item in by_name:
                    static[item] = option
        for parameter, option in static.items():
            param = by_name[parameter]
            reasons: list[str] = []
            if param.annotation is not None and self._is_array_type(param.annotation.annotation):
                reasons.append(f"annotated `{code_of(param.annotation.annotation)}`")
            if param.default is not None and self._makes_array(param.default):
                reasons.append(f"defaults to `{code_of(param.default)}`")
            if reasons:
                self.report(
                    option,
                    f"static argument `{parameter}` of `{definition.name.value}` is {' and '.join(reasons)}: arrays "
                    "as static arguments are hashed into the cache key (unhashable jax arrays fail; others "
                    "recompile per value) and baked in as constants; make it a traced argument",
                )
        if name is not None and static:
            self._check_calls(name, definition, static)

    def _check_calls(self, name: str, definition: cst.FunctionDef, static: dict[str, cst.Arg]) -> None:
        """Calls of the jitted function in this module that pass an array to a static parameter."""
        ordered = [p.name.value for p in (*definition.params.posonly_params, *definition.params.params)]

        class _Calls(cst.CSTVisitor):
            def __init__(self) -> None:
                super().__init__()
                self.calls: list[cst.Call] = []

            def visit_Call(self, node: cst.Call) -> None:
                if isinstance(node.func, cst.Name) and node.func.value == name:
                    self.calls.append(node)

        finder = _Calls()
        self.context.module.visit(finder)
        for call in finder.calls:
            position = 0
            for arg in call.args:
                if arg.star:
                    break
                if arg.keyword is None:
                    parameter = ordered[position] if position < len(ordered) else None
                    position += 1
                else:
                    parameter = arg.keyword.value
                if parameter in static and self._makes_array(arg.value):
                    self.report(
                        arg.value,
                        f"`{code_of(arg.value)}` is passed as the static argument `{parameter}` of `{name}`: an array "
                        "as a static argument is hashed into the cache key (jax arrays fail to hash; others "
                        "recompile per value) and baked in as a constant; make it a traced argument",
                    )

    # -- helpers --
    def _is_array_type(self, annotation: cst.BaseExpression) -> bool:
        """The annotation's value is an array: `jax.Array`, `Float[Array, "n"]`, `NDArray[...]`,
        or an Optional/Union/`|` with one. Not `Callable[[Array], Array]` or `tuple[Array, ...]`:
        those hold functions or containers."""
        if isinstance(annotation, (cst.Name, cst.Attribute)):
            return self.context.qualified_name(annotation) in _ARRAY_TYPES
        if isinstance(annotation, cst.BinaryOperation) and isinstance(annotation.operator, cst.BitOr):
            return self._is_array_type(annotation.left) or self._is_array_type(annotation.right)
        if isinstance(annotation, cst.Subscript):
            head = self.context.qualified_name(annotation.value)
            if head in _ARRAY_TYPES:
                return True
            items = [
                e.slice.value for e in annotation.slice if isinstance(e.slice, cst.Index)
            ]
            if head in ("typing.Optional", "typing.Union", "typing_extensions.Optional", "typing_extensions.Union"):
                return any(self._is_array_type(item) for item in items)
            if head in ("typing.Annotated", "typing_extensions.Annotated") and items:
                return self._is_array_type(items[0])
        return False

    def _is_array_maker(self, expr: cst.BaseExpression) -> bool:
        qualified = self.context.qualified_name(expr) or ""
        if qualified.startswith("jax.random."):
            return True
        for root in ("jax.numpy.", "numpy."):
            if qualified.startswith(root):
                return qualified[len(root):] in _ARRAY_MAKERS or qualified[len(root):].startswith("random.")
        return False

    def _makes_array(self, expr: cst.BaseExpression) -> bool:
        return isinstance(expr, cst.Call) and self._is_array_maker(expr.func)

    def _module_def(self, name: str) -> cst.FunctionDef | None:
        for statement in self.context.module.body:
            if isinstance(statement, cst.FunctionDef) and statement.name.value == name:
                return statement
        return None


def _is_true(expr: cst.BaseExpression) -> bool:
    return isinstance(expr, cst.Name) and expr.value == "True"


def _literal_items(expr: cst.BaseExpression) -> list[int | str]:
    """``1`` / ``(0, -1)`` / ``"n"`` / ``("n", "m")`` -> the literal items."""
    items = [e.value for e in expr.elements] if isinstance(expr, (cst.Tuple, cst.List)) else [expr]
    found: list[int | str] = []
    for item in items:
        if isinstance(item, cst.Integer):
            found.append(int(item.evaluated_value))
        elif isinstance(item, cst.UnaryOperation) and isinstance(item.expression, cst.Integer):
            found.append(-int(item.expression.evaluated_value))
        elif isinstance(item, cst.SimpleString):
            found.append(str(item.evaluated_value))
    return found
