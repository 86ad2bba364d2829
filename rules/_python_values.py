"""Does a loop body emit JAX ops, or only build Python values? From syntax alone.

A Python loop in traced code costs program size only when each iteration emits ops: a loop
that builds an einsum string, a list of indices, a dict of names or a few lines of HTML
unrolls into nothing. :class:`PythonValues` answers "surely Python only" for a statement block
or an expression and errs towards "may emit ops" (then the rules keep firing).

What emits nothing:
- values that are surely Python: literals, strings and f-strings, `len(...)`, `str(...)`,
  `int(...)`, `chr`/`ord`, `x.shape`/`x.ndim`/`x.dtype`/`x.size` (static under tracing),
  containers, comprehensions and arithmetic of those, and names bound only to them (a fixpoint
  over the enclosing function; `for i in range(...)` and `enumerate`'s counter are ints);
- calls of Python-only builtins (`len`, `isinstance`, `next`, ...) and of container/string
  methods (`append`, `extend`, `join`, `format`, ...; not `x.at[i].add`);
- the test of an `if`/`while`/conditional expression and `assert`: they call `bool()`, which
  fails on a traced value, so in working code they are concrete and emit nothing.
What may emit: any other call (a jnp function, a user function, an unknown method), and
arithmetic, comparisons or indexing on anything not surely Python.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import libcst as cst

if TYPE_CHECKING:  # pragma: no cover
    from jaxlint.rules._context import RuleContext

# Builtins whose result is a Python value whatever their arguments (or an error on a tracer).
_PY_RESULT = frozenset(
    {"len", "str", "repr", "int", "bool", "chr", "ord", "range", "isinstance", "issubclass", "hasattr",
     "callable", "type", "id", "hash", "format", "ascii", "bin", "hex", "oct"}
)
# Builtins whose result is Python when their arguments are.
_PY_CONTAINERS = frozenset({"list", "tuple", "set", "frozenset", "dict", "sorted", "reversed", "enumerate", "zip", "min", "max"})
# Builtins that emit no op when called (they may return anything they are given).
_PY_CALLS = _PY_RESULT | _PY_CONTAINERS | {"next", "iter", "print", "getattr", "setattr", "any", "all", "vars", "super"}
# Methods of list/dict/set/str: no op (their arguments are checked on their own).
_CONTAINER_METHODS = frozenset(
    {"append", "extend", "insert", "pop", "remove", "clear", "add", "discard", "update", "setdefault", "get",
     "items", "keys", "values", "join", "format", "split", "rsplit", "strip", "lstrip", "rstrip", "replace",
     "lower", "upper", "startswith", "endswith", "index", "count", "copy"}
)
# Methods returning a Python value on a Python receiver.
_PY_METHODS = _CONTAINER_METHODS - {"append", "extend", "insert", "remove", "clear", "add", "discard", "update"}
_STATIC_ATTRIBUTES = frozenset({"shape", "ndim", "dtype", "size"})
_LITERALS = (cst.Integer, cst.Float, cst.Imaginary, cst.SimpleString, cst.ConcatenatedString, cst.FormattedString)
_UNKNOWN = cst.Name("__unknown__")
_INT = cst.Integer("0")


def _builtin(context: "RuleContext", func: cst.BaseExpression) -> str | None:
    qualified = context.qualified_name(func)
    if qualified is not None and qualified.startswith("builtins."):
        return qualified[len("builtins."):]
    return None


def _is_at_update(func: cst.Attribute) -> bool:
    """``x.at[i].add`` / ``.set`` / ``.get``: a jax indexed update, not a container method."""
    receiver = func.value
    return isinstance(receiver, cst.Subscript) and isinstance(receiver.value, cst.Attribute) and receiver.value.attr.value == "at"


class _Bindings(cst.CSTVisitor):
    """What each name of a function is bound to (not looking into nested functions)."""

    def __init__(self, context: "RuleContext") -> None:
        super().__init__()
        self.context = context
        self.values: dict[str, list[cst.BaseExpression]] = {}

    def _add(self, target: cst.BaseExpression, value: cst.BaseExpression) -> None:
        if isinstance(target, cst.Name):
            self.values.setdefault(target.value, []).append(value)
        elif isinstance(target, (cst.Tuple, cst.List)):
            for element in target.elements:
                self._add(element.value, _UNKNOWN)
        elif isinstance(target, cst.StarredElement):
            self._add(target.value, _UNKNOWN)

    def _loop_target(self, target: cst.BaseExpression, iterable: cst.BaseExpression) -> None:
        name = _builtin(self.context, iterable.func) if isinstance(iterable, cst.Call) else None
        if name == "range":
            self._add(target, _INT)
        elif name == "enumerate" and isinstance(target, cst.Tuple) and target.elements:
            self._add(target.elements[0].value, _INT)
            for element in target.elements[1:]:
                self._add(element.value, _UNKNOWN)
        else:
            self._add(target, _UNKNOWN)

    def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
        self._add(node.name, _UNKNOWN)
        return False

    def visit_ClassDef(self, node: cst.ClassDef) -> bool:
        return False

    def visit_Lambda(self, node: cst.Lambda) -> bool:
        return False

    def visit_Param(self, node: cst.Param) -> None:
        self._add(node.name, _UNKNOWN)

    def visit_Assign(self, node: cst.Assign) -> None:
        for target in node.targets:
            self._add(target.target, node.value if len(node.targets) == 1 else _UNKNOWN)

    def visit_AnnAssign(self, node: cst.AnnAssign) -> None:
        self._add(node.target, node.value if node.value is not None else _UNKNOWN)

    def visit_AugAssign(self, node: cst.AugAssign) -> None:
        # `s += "x"` keeps s Python when both sides are; the fixpoint checks the operand
        self._add(node.target, node.value)

    def visit_NamedExpr(self, node: cst.NamedExpr) -> None:
        self._add(node.target, node.value)

    def visit_For(self, node: cst.For) -> None:
        self._loop_target(node.target, node.iter)

    def visit_CompFor(self, node: cst.CompFor) -> None:
        self._loop_target(node.target, node.iter)

    def visit_WithItem(self, node: cst.WithItem) -> None:
        if node.asname is not None:
            self._add(node.asname.name, _UNKNOWN)

    def visit_ExceptHandler(self, node: cst.ExceptHandler) -> None:
        if node.name is not None:
            self._add(node.name.name, _UNKNOWN)


class PythonValues:
    """Which names of one function hold only Python values, and whether code emits ops."""

    def __init__(self, context: "RuleContext", function: cst.FunctionDef | None) -> None:
        self.context = context
        self.names: set[str] = set()
        if function is None:
            return
        bindings = _Bindings(context)
        function.params.visit(bindings)
        function.body.visit(bindings)
        changed = True
        while changed:  # a fixpoint: `s = ""` then `s += chr(...)`
            changed = False
            for name, values in bindings.values.items():
                if name not in self.names and all(self.is_python(v) for v in values):
                    self.names.add(name)
                    changed = True

    # -- values --
    def is_python(self, expr: cst.BaseExpression) -> bool:
        """``expr`` surely evaluates to a Python value (never a traced array)."""
        if isinstance(expr, _LITERALS):
            return True
        if isinstance(expr, cst.Name):
            return expr.value in self.names or expr.value in ("True", "False", "None")
        if isinstance(expr, (cst.List, cst.Tuple, cst.Set)):
            return all(isinstance(e, cst.Element) and self.is_python(e.value) for e in expr.elements)
        if isinstance(expr, cst.Dict):
            return all(
                isinstance(e, cst.DictElement) and self.is_python(e.key) and self.is_python(e.value)
                for e in expr.elements
            )
        if isinstance(expr, (cst.ListComp, cst.SetComp, cst.GeneratorExp)):
            return self.is_python(expr.elt)
        if isinstance(expr, cst.DictComp):
            return self.is_python(expr.key) and self.is_python(expr.value)
        if isinstance(expr, cst.BinaryOperation):
            if isinstance(expr.operator, (cst.Multiply, cst.Add)) and any(
                isinstance(side, (cst.List, cst.Tuple, cst.ListComp)) for side in (expr.left, expr.right)
            ):
                return True  # `[None] * n`, `[x] + rest`: a list (whatever its items)
            return self.is_python(expr.left) and self.is_python(expr.right)
        if isinstance(expr, cst.UnaryOperation):
            return isinstance(expr.operator, cst.Not) or self.is_python(expr.expression)
        if isinstance(expr, cst.BooleanOperation):
            return self.is_python(expr.left) and self.is_python(expr.right)
        if isinstance(expr, cst.Comparison):
            return self.is_python(expr.left) and all(self.is_python(c.comparator) for c in expr.comparisons)
        if isinstance(expr, cst.IfExp):
            return self.is_python(expr.body) and self.is_python(expr.orelse)
        if isinstance(expr, cst.Subscript):
            return self.is_python(expr.value)
        if isinstance(expr, cst.Attribute):
            return expr.attr.value in _STATIC_ATTRIBUTES
        if isinstance(expr, cst.Call):
            name = _builtin(self.context, expr.func)
            if name in _PY_RESULT:
                return True
            if name in _PY_CONTAINERS:
                return all(self.is_python(a.value) for a in expr.args)
            if isinstance(expr.func, cst.Attribute) and expr.func.attr.value in _PY_METHODS:
                return self.is_python(expr.func.value)
        return False

    # -- ops --
    def emits_ops(self, node: cst.CSTNode) -> bool:
        """``node`` (a block or an expression) may emit a JAX op when run."""
        finder = _OpFinder(self)
        node.visit(finder)
        return finder.found


class _OpFinder(cst.CSTVisitor):
    def __init__(self, values: PythonValues) -> None:
        super().__init__()
        self.values = values
        self.found = False

    def _visit_all(self, *nodes: cst.CSTNode | None) -> None:
        for node in nodes:
            if node is not None and not self.found:
                node.visit(self)

    # Nested functions run later (a call of them is an unknown call, which counts).
    def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
        return False

    def visit_Lambda(self, node: cst.Lambda) -> bool:
        return False

    def visit_ClassDef(self, node: cst.ClassDef) -> bool:
        return False

    # Tests call bool(): concrete in working traced code.
    def visit_If(self, node: cst.If) -> bool:
        self._visit_all(node.body, node.orelse)
        return False

    def visit_While(self, node: cst.While) -> bool:
        self._visit_all(node.body, node.orelse)
        return False

    def visit_IfExp(self, node: cst.IfExp) -> bool:
        self._visit_all(node.body, node.orelse)
        return False

    def visit_Assert(self, node: cst.Assert) -> bool:
        return False

    def visit_CompIf(self, node: cst.CompIf) -> bool:
        return False

    # Assignment targets: a store into a list/dict emits nothing (jax arrays are immutable).
    def visit_AssignTarget(self, node: cst.AssignTarget) -> bool:
        target = node.target
        if isinstance(target, cst.Subscript):
            self._visit_all(*(e.slice for e in target.slice))
            return False
        return True

    def visit_Call(self, node: cst.Call) -> bool:
        name = _builtin(self.values.context, node.func)
        if name in _PY_CALLS:
            return True
        func = node.func
        if isinstance(func, cst.Attribute) and func.attr.value in _CONTAINER_METHODS and not _is_at_update(func):
            return True
        self.found = True
        return False

    def _check(self, expr: cst.BaseExpression) -> bool:
        if not self.values.is_python(expr):
            self.found = True
            return False
        return True

    def visit_BinaryOperation(self, node: cst.BinaryOperation) -> bool:
        return self._check(node)

    def visit_UnaryOperation(self, node: cst.UnaryOperation) -> bool:
        return isinstance(node.operator, cst.Not) or self._check(node)

    def visit_Comparison(self, node: cst.Comparison) -> bool:
        if all(isinstance(c.operator, (cst.Is, cst.IsNot)) for c in node.comparisons):
            return True  # identity: no op
        return self._check(node)

    def visit_AugAssign(self, node: cst.AugAssign) -> bool:
        if isinstance(node.target, cst.Name) and node.target.value in self.values.names:
            return self._check(node.value)
        self.found = True
        return False

    def visit_Subscript(self, node: cst.Subscript) -> bool:
        return self._check(node.value)


def stores_into_arrays(values: PythonValues, body: cst.CSTNode) -> bool:
    """``body`` assigns into an item of something that is not surely a Python container
    (``out[i] = ...``, ``x[a:b] += ...``): impossible on a JAX array, so this is NumPy code
    (run on the host, or in a callback), not a traced loop."""
    found = False

    class _Stores(cst.CSTVisitor):
        def _target(self, target: cst.BaseExpression) -> None:
            nonlocal found
            if isinstance(target, cst.Subscript):
                base = target.value
                if not (isinstance(base, cst.Name) and base.value in values.names):
                    found = True

        def visit_AssignTarget(self, node: cst.AssignTarget) -> None:
            self._target(node.target)

        def visit_AugAssign(self, node: cst.AugAssign) -> None:
            self._target(node.target)

        def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
            return False

    body.visit(_Stores())
    return found
