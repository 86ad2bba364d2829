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
  fails on a traced value, so in working code they are concrete and emit nothing;
- values that cannot be traced: names passed to `range()` (it needs a concrete int; a name
  bound once is then an int everywhere in the function), membership tests `a in b` (they call
  `bool()` on every comparison), dict keys (`for k, v in d.items()`: a traced array is not
  hashable), results of NumPy and `math` functions (host values; NumPy raises on a tracer) and
  methods of any surely-Python value, and the elements of a surely-Python iterable
  (`for b in bits`, `n, dim = x.shape`).
What may emit: any other call (a jnp function, a user function, an unknown method), and
arithmetic, comparisons or indexing on anything not surely Python.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import libcst as cst

from jaxlint.rules._scopes import RunsNowVisitor

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
# Modules whose functions return host values (NumPy arrays, Python numbers) and emit no JAX op:
# NumPy raises on a tracer, so in working traced code their arguments are concrete too.
_HOST_MODULES = ("numpy.", "math.")
# NumPy functions that read only an array's metadata: they accept a tracer.
_NUMPY_METADATA = frozenset(
    {"shape", "ndim", "size", "result_type", "dtype", "iscomplexobj", "isrealobj", "isscalar", "issubdtype",
     "promote_types", "can_cast", "iinfo", "finfo"}
)
_LITERALS = (cst.Integer, cst.Float, cst.Imaginary, cst.SimpleString, cst.ConcatenatedString, cst.FormattedString)
_UNKNOWN = cst.Name("__unknown__")
_INT = cst.Integer("0")
_ZERO_INDEX = [cst.SubscriptElement(cst.Index(cst.Integer("0")))]


def _item(iterable: cst.BaseExpression) -> cst.BaseExpression:
    """An expression standing for one element of ``iterable``: surely Python exactly when the
    iterable is (``is_python`` of a subscript asks about its container)."""
    return cst.Subscript(value=iterable, slice=_ZERO_INDEX)


def _builtin(context: "RuleContext", func: cst.BaseExpression) -> str | None:
    qualified = context.qualified_name(func)
    if qualified is not None and qualified.startswith("builtins."):
        return qualified[len("builtins."):]
    return None


def _is_host_call(context: "RuleContext", func: cst.BaseExpression) -> bool:
    """A NumPy or ``math`` function: a host value, no JAX op."""
    qualified = context.qualified_name(func)
    return qualified is not None and qualified.startswith(_HOST_MODULES)


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
            # `a, b = (1, 2)` pairwise; `n, dim = x.shape`: elements of a Python value are Python
            pairwise = (
                isinstance(value, (cst.Tuple, cst.List))
                and len(value.elements) == len(target.elements)
                and not any(isinstance(e, cst.StarredElement) for e in (*value.elements, *target.elements))
            )
            for index, element in enumerate(target.elements):
                self._add(element.value, value.elements[index].value if pairwise else _item(value))  # type: ignore[union-attr]
        elif isinstance(target, cst.StarredElement):
            self._add(target.value, _UNKNOWN)

    def _loop_target(self, target: cst.BaseExpression, iterable: cst.BaseExpression) -> None:
        unpacked = isinstance(target, (cst.Tuple, cst.List)) and not any(
            isinstance(e, cst.StarredElement) for e in target.elements
        )
        if isinstance(iterable, cst.Call):
            name = _builtin(self.context, iterable.func)
            args = [a.value for a in iterable.args if not a.star and a.keyword is None]
            if name == "range":
                self._add(target, _INT)
                return
            if name == "enumerate" and unpacked and len(target.elements) == 2 and args:  # type: ignore[union-attr]
                self._add(target.elements[0].value, _INT)  # type: ignore[union-attr]
                self._loop_target(target.elements[1].value, args[0])  # type: ignore[union-attr]
                return
            if name == "zip" and unpacked and len(args) == len(iterable.args) == len(target.elements):  # type: ignore[union-attr]
                for element, arg in zip(target.elements, args):  # type: ignore[union-attr]
                    self._loop_target(element.value, arg)
                return
            func = iterable.func
            if isinstance(func, cst.Attribute) and not iterable.args and func.attr.value in ("keys", "items"):
                # dict keys are hashable: never a traced array (tracers cannot be hashed)
                if func.attr.value == "keys":
                    self._add(target, _INT)
                    return
                if unpacked and len(target.elements) == 2:  # type: ignore[union-attr]
                    self._add(target.elements[0].value, _INT)  # type: ignore[union-attr]
                    self._add(target.elements[1].value, _item(func.value))  # type: ignore[union-attr]
                    return
        self._add(target, _item(iterable))

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
        self.host_arrays: set[str] = set()
        if function is None:
            return
        bindings = _Bindings(context)
        function.params.visit(bindings)
        function.body.visit(bindings)
        # `range(n)` needs a concrete int: a name bound at most once that is passed to range()
        # is an int wherever the function uses it.
        for name in _range_arguments(context, function.body):
            if len(bindings.values.get(name, ())) <= 1:
                self.names.add(name)
        # names holding a NumPy result: Python for arithmetic, but an item store into them is
        # NumPy code (see stores_into_arrays)
        self.host_arrays = {
            name for name, values in bindings.values.items()
            if any(isinstance(v, cst.Call) and _is_host_call(context, v.func) for v in values)
        }
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
            if _membership(expr):
                return True  # `in` calls bool() on each element comparison: a Python bool
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
            if _is_host_call(self.context, expr.func):
                return True
            if isinstance(expr.func, cst.Attribute) and not _is_at_update(expr.func):
                # a method of a Python value (`bits.astype(int)`, `s.join(...)`) returns one
                return self.is_python(expr.func.value)
        return False

    # -- ops --
    def emits_ops(self, node: cst.CSTNode) -> bool:
        """``node`` (a block or an expression) may emit a JAX op when run."""
        finder = _OpFinder(self)
        node.visit(finder)
        return finder.found


class _OpFinder(RunsNowVisitor):
    """Whether a body may emit a JAX op when it runs. Nested functions, lambdas and classes
    are not entered: they run later (a call of them is an unknown call, which counts)."""

    def __init__(self, values: PythonValues) -> None:
        super().__init__()
        self.values = values
        self.found = False

    def _visit_all(self, *nodes: cst.CSTNode | None) -> None:
        for node in nodes:
            if node is not None and not self.found:
                node.visit(self)

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
        if _is_host_call(self.values.context, func):
            return True  # NumPy / math: host work (its arguments are checked on their own)
        if isinstance(func, cst.Attribute) and not _is_at_update(func) and self.values.is_python(func.value):
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
        if all(isinstance(c.operator, (cst.Is, cst.IsNot)) for c in node.comparisons) or _membership(node):
            return True  # identity, membership: no op
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
                if not (isinstance(base, cst.Name) and base.value in values.names) or (
                    isinstance(base, cst.Name) and base.value in values.host_arrays
                ):
                    found = True

        def visit_AssignTarget(self, node: cst.AssignTarget) -> None:
            self._target(node.target)

        def visit_AugAssign(self, node: cst.AugAssign) -> None:
            self._target(node.target)

        def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
            return False

    body.visit(_Stores())
    return found


def _membership(comparison: cst.Comparison) -> bool:
    return all(isinstance(c.operator, (cst.In, cst.NotIn)) for c in comparison.comparisons)


def _range_arguments(context: "RuleContext", body: cst.CSTNode) -> set[str]:
    """Names passed directly to ``range(...)`` in ``body`` (not in nested functions)."""
    found: set[str] = set()

    class _Ranges(cst.CSTVisitor):
        def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
            return False

        def visit_Lambda(self, node: cst.Lambda) -> bool:
            return False

        def visit_Call(self, node: cst.Call) -> None:
            if _builtin(context, node.func) == "range":
                found.update(a.value.value for a in node.args if isinstance(a.value, cst.Name) and not a.star)

    body.visit(_Ranges())
    return found


def host_only(values: PythonValues, body: cst.CSTNode) -> bool:
    """``body`` (a loop body) does with a value it computes what only a host value allows: it
    exits the loop on it (``cond = cond_fun(val)`` / ``if not cond: break``) or hands it to
    NumPy (``np.copy(log_prob)``). Under tracing both raise (``bool()`` of a tracer, NumPy
    conversion of a tracer), so this loop runs eagerly: a non-jit path or NumPy code reached
    through the call graph's over-approximation, not an unrolled trace.

    A computed value: a name the body binds to a call of a function (not a builtin, container
    method or NumPy) that receives something not surely Python."""
    context = values.context
    computed: set[str] = set()

    def _opaque_call(expr: cst.CSTNode) -> bool:
        found = False

        class _Calls(cst.CSTVisitor):
            def visit_Call(self, node: cst.Call) -> None:
                nonlocal found
                func = node.func
                if _builtin(context, func) is not None or _is_host_call(context, func):
                    return
                if isinstance(func, cst.Attribute) and func.attr.value in _CONTAINER_METHODS:
                    return
                if any(not values.is_python(a.value) for a in node.args):
                    found = True

            def visit_Lambda(self, node: cst.Lambda) -> bool:
                return False

        expr.visit(_Calls())
        return found

    class _Computed(cst.CSTVisitor):
        def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
            return False

        def visit_Assign(self, node: cst.Assign) -> None:
            if _opaque_call(node.value):
                for target in node.targets:
                    computed.update(_target_names(target.target))

    body.visit(_Computed())
    host_use = False

    class _HostUse(cst.CSTVisitor):
        def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
            return False

        def visit_Lambda(self, node: cst.Lambda) -> bool:
            return False

        def visit_If(self, node: cst.If) -> None:
            nonlocal host_use
            test = _value_parts(context, node.test)
            depends = any(bool(_names_in(part, context) & computed) or _opaque_call(part) for part in test)
            if depends and _exits(node.body):
                host_use = True

        def visit_Call(self, node: cst.Call) -> None:
            nonlocal host_use
            converts = _is_host_call(context, node.func) and (
                (context.qualified_name(node.func) or "").rsplit(".", 1)[-1] not in _NUMPY_METADATA
            )
            if converts and any(_names_in(a.value, context) & computed for a in node.args):
                host_use = True

    body.visit(_HostUse())
    return host_use


def _value_parts(context: "RuleContext", test: cst.BaseExpression) -> list[cst.BaseExpression]:
    """The parts of a condition whose truth needs a concrete value: not identity tests
    (`err is None`), `isinstance`/`len`/`hasattr`... (fine on a tracer)."""
    if isinstance(test, cst.BooleanOperation):
        return _value_parts(context, test.left) + _value_parts(context, test.right)
    if isinstance(test, cst.UnaryOperation) and isinstance(test.operator, cst.Not):
        return _value_parts(context, test.expression)
    if isinstance(test, cst.Comparison) and all(isinstance(c.operator, (cst.Is, cst.IsNot)) for c in test.comparisons):
        return []
    if isinstance(test, cst.Call) and _builtin(context, test.func) in _PY_RESULT:
        return []
    return [test]


def _target_names(target: cst.BaseExpression) -> set[str]:
    """Names bound by an assignment target (``a``, ``a, (b, c)``; not ``self.x`` or ``d[k]``)."""
    if isinstance(target, cst.Name):
        return {target.value}
    if isinstance(target, (cst.Tuple, cst.List)):
        return set().union(*(_target_names(e.value) for e in target.elements))
    if isinstance(target, cst.StarredElement):
        return _target_names(target.value)
    return set()


def _names_in(node: cst.CSTNode, context: "RuleContext") -> set[str]:
    """Plain names whose values ``node`` reads (``x``, the ``x`` of ``x.real``; not attribute
    names, nor ``x`` of ``x.shape`` / ``np.shape(x)`` / ``len(x)``: static metadata)."""
    found: set[str] = set()

    class _Names(cst.CSTVisitor):
        def visit_Name(self, inner: cst.Name) -> None:
            found.add(inner.value)

        def visit_Attribute(self, inner: cst.Attribute) -> bool:
            if inner.attr.value not in _STATIC_ATTRIBUTES:
                inner.value.visit(self)
            return False

        def visit_Call(self, inner: cst.Call) -> bool:
            qualified = context.qualified_name(inner.func) or ""
            if qualified.startswith(("numpy.", "jax.numpy.")) and qualified.rsplit(".", 1)[-1] in _NUMPY_METADATA:
                return False
            return _builtin(context, inner.func) not in _PY_RESULT

    node.visit(_Names())
    return found


def _exits(block: cst.CSTNode) -> bool:
    """``block`` leaves the loop: a ``break`` or ``return`` (not in a nested loop or function)."""
    found = False

    class _Exits(cst.CSTVisitor):
        def visit_Break(self, node: cst.Break) -> None:
            nonlocal found
            found = True

        def visit_Return(self, node: cst.Return) -> None:
            nonlocal found
            found = True

        def visit_For(self, node: cst.For) -> bool:
            return False

        def visit_While(self, node: cst.While) -> bool:
            return False

        def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
            return False

    block.visit(_Exits())
    return found
