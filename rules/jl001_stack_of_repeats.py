"""JL001 stack-of-repeats: ``jnp.stack([x] * n)`` and friends (pitfall P1)."""

from __future__ import annotations

from typing import ClassVar

import libcst as cst

from jaxlint.rules._base import Invalid, LintRule, Valid
from jaxlint.rules._patterns import FileMemo, is_python_scalar
from jaxlint.rules._scopes import code_of

_BUILDERS = {
    "jax.numpy.stack": "stack",
    "jax.numpy.concatenate": "concatenate",
    "jax.numpy.array": "array",
    "jax.numpy.asarray": "asarray",
    "jax.numpy.vstack": "vstack",
    "jax.numpy.hstack": "hstack",
}
# Builders that convert a list of Python scalars on the host: one constant, not n operands.
_HOST_CONVERTING = frozenset({"array", "asarray"})
_NUMBER_TYPES = frozenset({"int", "float", "bool", "complex"})

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
        for its save buffer: +1.07 StableHLO ops per save point, 3.2 s / 109 s / > 13 min compile
        at 1k / 10k / 30k save points on a 2-core CPU (diffrax 0.7.2: ~1 s at each). `jnp.broadcast_to` is one op at any n.

        When it fires: the repeat count (anywhere) or the comprehension's trip count (in traced
        code: eagerly, a comprehension gathers n results already computed) is a problem size
        (`len(ts)`, `max_steps`, `out_size`, `x.shape[0]`, a helper's result computed from
        one, a literal above 16; see JL002 for what counts as a size). Not reported: counts
        fixed by structure (`num_layers`, `len(devices)`, spatial dimensions, pytree leaves), and
        `jnp.array`/`jnp.asarray` of Python scalars (`jnp.array([0.5] * dim)`,
        `[1 / k for _ in range(k)]`, or a name inside `if isinstance(x, (int, float)):`): NumPy
        converts the list on the host into ONE constant.
        `jnp.stack` of scalars still makes one operand each and is reported.

        Fix safety: `jnp.broadcast_to(x, (n, *jnp.shape(x)))` equals `jnp.stack([x] * n)`
        (values, dtype, weak type) when n >= 1 and `x` is an array or a number. It is safe only
        when that is known from the source: a number literal repeated a positive integer literal
        number of times (`jnp.stack([0.0] * 1000)`). Otherwise it is unsafe, and the message
        says why: a count such as `len(ts)` may be 0 (stack raises, broadcast_to returns an
        empty array; n < 0 raises another error); a name may hold a list or a ragged nest
        (converted differently, and `jnp.shape` of a list is deprecated); a call element
        (`[make()] * n`) would be evaluated twice; `jnp.array` types Python scalars strongly
        where `broadcast_to` keeps them weak.
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
        # Python scalars in jnp.array are converted on the host into one constant; counts fixed
        # by structure (spatial dimensions, layers) are a fixed program.
        """
import jax
import jax.numpy as jnp

@jax.jit
def gains(x, dim, act_size, num_steps, period, num_layers):
    scale = jnp.array([0.5] * dim)
    gear = jnp.array([20.0] * act_size)
    flags = jnp.array([(0, False)] * num_steps)
    weights = jnp.array([1 / period for _ in range(period)])
    per_layer = jnp.stack([x] * num_layers)
    return scale, gear, flags, weights, per_layer

def lengthscales(ell, dim, scale):
    if isinstance(ell, (int, float)):
        ell = jnp.array([ell] * dim)
    if isinstance(scale, float) | isinstance(scale, int):
        scale = jnp.array([scale] * dim)
    return ell, scale
""",
        # Eager code gathering n computed results: one stack over data already computed.
        """
import jax.numpy as jnp

def collect(samples, num_simulations):
    return jnp.stack([samples[i] for i in range(num_simulations)])
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
import jax
import jax.numpy as jnp

@jax.jit
def save(f, ts):
    return jnp.stack([f(i) for i in range(len(ts))])
""",
            expected_message_contains="comprehension",
        ),
        # The element is a call: the rewrite would evaluate it twice, so the fix is unsafe.
        Invalid(
            """
import jax.numpy as jnp

def init(make, ts):
    return jnp.stack([make()] * len(ts))
""",
            expected_replacement="""
import jax.numpy as jnp

def init(make, ts):
    return jnp.broadcast_to(make(), (len(ts), *jnp.shape(make())))
""",
            expected_message_contains="unsafe: it evaluates `make()` twice; if `len(ts)` is 0 `jnp.stack` raises",
        ),
        # Python scalars stacked one by one, and traced values in jnp.array: one operand each.
        Invalid(
            """
import jax.numpy as jnp

def weights(x, num_steps):
    return jnp.stack([0.5] * num_steps), jnp.array([x * k for k in range(num_steps)])
""",
        ),
        Invalid(
            """
import jax.numpy as jnp

def tile(x, max_steps):
    return jnp.concatenate([x] * max_steps)
""",
        ),
        # A number repeated a positive literal count: the only fix that is safe.
        Invalid(
            """
import jax.numpy as jnp

def zeros():
    return jnp.stack([0.0] * 1000)
""",
            expected_replacement="""
import jax.numpy as jnp

def zeros():
    return jnp.broadcast_to(0.0, (1000, *jnp.shape(0.0)))
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

    def __init__(self, context) -> None:
        super().__init__(context)
        self.memo = FileMemo(context)

    def visit_Call(self, node: cst.Call) -> None:
        qualified = self.context.qualified_name(node.func)
        kind = _BUILDERS.get(qualified or "")
        if kind is None or not node.args or node.args[0].keyword is not None or node.args[0].star:
            return
        argument = node.args[0].value
        repeated, count = self._repeat(argument, node)
        traced = self.context.traced_reason(node)
        where = f" ({traced})" if traced else ""
        if repeated is not None and count is not None:
            if kind in _HOST_CONVERTING and (is_python_scalar(repeated) or self._narrowed_to_number(repeated, node)):
                return  # `jnp.array([0.5] * n)`: one host-side constant
            rewrite = "jnp.broadcast_to(x, (n, *jnp.shape(x)))"
            if kind in ("concatenate", "vstack", "hstack"):
                rewrite = f"`jnp.tile(x, reps)` (or {rewrite} reshaped)"
            else:
                rewrite = f"`{rewrite}`"
            message = (
                f"`jnp.{kind}` of `[x] * n`: one operand per element, the program grows with n; "
                f"use {rewrite} (for a save buffer: `jnp.where(ts == t0, y0, jnp.inf)`){where}"
            )
            fix = self._fix(node, kind, repeated, count)
            self.report(node, message + fix.pop("why", ""), **fix)
            return
        # The comprehension form only in traced code: run eagerly it gathers n computed results
        # (one stack op over data already on the device), not a program that grows.
        if traced and self._comprehension_grows(argument, node, kind):
            self.report(
                node,
                f"`jnp.{kind}` of a comprehension over `range(n)`: one operand per element, the program "
                f"grows with n; build the array at once (`jax.vmap`, `jnp.broadcast_to`, or for a save "
                f"buffer `jnp.where(ts == t0, y0, jnp.inf)`){where}",
            )

    def _narrowed_to_number(self, expr: cst.BaseExpression, at: cst.CSTNode) -> bool:
        """``expr`` is a name inside ``if isinstance(name, (int, float)):``: a Python number."""
        if not isinstance(expr, cst.Name):
            return False
        previous: cst.CSTNode = at
        for ancestor in self.context.ancestors(at):
            if isinstance(ancestor, (cst.FunctionDef, cst.Lambda)):
                return False
            if isinstance(ancestor, cst.If) and previous is ancestor.body:
                return self._number_test(ancestor.test, expr.value)
            previous = ancestor
        return False

    def _number_test(self, test: cst.BaseExpression, name: str) -> bool:
        """``isinstance(name, (int, float))``, also or-ed (`isinstance(x, float) | isinstance(x, int)`)."""
        if isinstance(test, cst.BooleanOperation) and isinstance(test.operator, cst.Or):
            return self._number_test(test.left, name) and self._number_test(test.right, name)
        if isinstance(test, cst.BinaryOperation) and isinstance(test.operator, cst.BitOr):
            return self._number_test(test.left, name) and self._number_test(test.right, name)
        if (
            isinstance(test, cst.Call)
            and self.context.qualified_name(test.func) == "builtins.isinstance"
            and len(test.args) == 2
            and isinstance(test.args[0].value, cst.Name)
            and test.args[0].value.value == name
        ):
            kinds = test.args[1].value
            names = [e.value for e in kinds.elements] if isinstance(kinds, cst.Tuple) else [kinds]
            return all(isinstance(n, cst.Name) and n.value in _NUMBER_TYPES for n in names)
        return False

    def _repeat(
        self, expr: cst.BaseExpression, at: cst.CSTNode
    ) -> tuple[cst.BaseExpression | None, cst.BaseExpression | None]:
        """``[x] * n`` / ``n * [x]`` with n a problem size -> (x, n)."""
        if not isinstance(expr, cst.BinaryOperation) or not isinstance(expr.operator, cst.Multiply):
            return None, None
        for sequence, count in ((expr.left, expr.right), (expr.right, expr.left)):
            element = _single_element(sequence)
            if element is not None and not isinstance(count, (cst.List, cst.Tuple)):
                return (element, count) if self.memo.classifier(at).is_size(count) else (None, None)
        return None, None

    def _comprehension_grows(self, expr: cst.BaseExpression, at: cst.CSTNode, kind: str) -> bool:
        """A comprehension over ``range(size)`` (one ``for``, no filter: its length is the trip
        count), unless ``jnp.array`` converts the Python scalars it makes on the host."""
        if not isinstance(expr, (cst.ListComp, cst.GeneratorExp)):
            return False
        iterable = expr.for_in.iter
        if not isinstance(iterable, cst.Call) or self.context.qualified_name(iterable.func) != "builtins.range":
            return False
        if self.memo.classifier(at).loop_size(iterable) is None:
            return False  # range(4), range(num_layers): a fixed, small program
        # The target and range's bounds are Python ints (range rejects tracers).
        ints = _target_names(expr.for_in.target).union(
            a.value.value for a in iterable.args if isinstance(a.value, cst.Name)
        )
        if kind in _HOST_CONVERTING and is_python_scalar(expr.elt, ints):
            return False  # `jnp.array([1 / k for _ in range(k)])`: one constant
        return True

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
        reasons = _unsafe_reasons(kind, repeated, count)
        why = f" (the fix is unsafe: {'; '.join(reasons)})" if reasons else ""
        return {"replacement": replacement, "unsafe": bool(reasons), "why": why}


def _unsafe_reasons(kind: str, repeated: cst.BaseExpression, count: cst.BaseExpression) -> list[str]:
    """Why ``broadcast_to(x, (n, *shape(x)))`` may not behave as ``jnp.stack([x] * n)``.

    Measured (jax 0.10): with n == 0 stack raises and broadcast_to returns an empty array;
    n < 0 raises ValueError vs TypeError; an element that is not an array or a number (a
    list: jnp.shape of it is deprecated; a ragged nest: TypeError vs ValueError) converts
    differently. Equal (value, dtype, weak type) only for n >= 1 and an array or number
    element, and a name's type is unknown statically: so safe is a number literal repeated
    a positive integer literal number of times."""
    reasons: list[str] = []
    if kind != "stack":
        # jnp.array([1.0] * n) is strongly typed; broadcast_to keeps a Python scalar weak.
        reasons.append(f"`jnp.{kind}` types Python scalars strongly, `broadcast_to` keeps them weak")
    if not (isinstance(repeated, (cst.Name, cst.Attribute)) or is_python_scalar(repeated)):
        reasons.append(f"it evaluates `{code_of(repeated)}` twice")
    if not (isinstance(count, cst.Integer) and int(count.evaluated_value) > 0):
        reasons.append(
            f"if `{code_of(count)}` is 0 `jnp.stack` raises where `broadcast_to` returns an empty array"
        )
    if not _number_literal(repeated):
        reasons.append(
            f"`{code_of(repeated)}` may not be an array (a list or ragged nest converts differently)"
        )
    return reasons


def _number_literal(expr: cst.BaseExpression) -> bool:
    """``1.5``, ``-2``, ``True``: a Python number (a list or tuple of them is not)."""
    if isinstance(expr, cst.UnaryOperation) and isinstance(expr.operator, (cst.Minus, cst.Plus)):
        return _number_literal(expr.expression)
    if isinstance(expr, cst.Name):
        return expr.value in ("True", "False")
    return isinstance(expr, (cst.Integer, cst.Float, cst.Imaginary))


def _target_names(target: cst.BaseExpression) -> frozenset[str]:
    """Names a comprehension target binds (``i``, ``(i, j)``)."""
    if isinstance(target, cst.Name):
        return frozenset({target.value})
    if isinstance(target, (cst.Tuple, cst.List)):
        return frozenset().union(*(_target_names(e.value) for e in target.elements))
    return frozenset()
