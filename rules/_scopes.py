"""Names, scopes and call arguments, from syntax alone: what the JL rules need to know about
where a name comes from.

- module-level single assignments (:func:`module_assignments`, :func:`single_values`): the
  constants other helpers look through (``N = 1000``; ``np.zeros((N, N))``);
- which names a function or lambda binds itself (:func:`bound_names`) and which scope a name
  at a node refers to (:func:`defining_scope`), so a rule can tell a closed-over global from
  a local, a parameter from a nested ``def``;
- which argument of a call fills which parameter (:func:`bind_arguments`), and how this file
  spells a module (:func:`namespace_alias`).

No libcst metadata providers are used (the engine keeps them off the fast path): scopes are
recomputed per def on demand and memoised per file (:class:`ScopeCache`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Iterator, Sequence

import libcst as cst

if TYPE_CHECKING:  # pragma: no cover
    from jaxlint.rules._context import RuleContext


def code_of(node: cst.CSTNode) -> str:
    """Source text of a node (for messages)."""
    return cst.Module(body=[]).code_for_node(node)


# --- module-level bindings ------------------------------------------------------------------
# Stand-ins for bindings without a plain value (parameters, loop targets, defs).
_PLACEHOLDERS = frozenset({"__param__", "__unknown__", "__def__", "__class__"})


def module_assignments(module: cst.Module) -> dict[str, list[cst.BaseExpression]]:
    """Module-level ``NAME = value`` statements: name -> the values assigned, in order.

    Only plain single-target assignments are recorded; a name bound any other way at module
    level (``for``, ``import``, ``def``, augmented or tuple assignment) gets an empty list,
    which helpers read as "not a constant".
    """
    found: dict[str, list[cst.BaseExpression]] = {}
    for statement in module.body:
        if isinstance(statement, cst.SimpleStatementLine):
            for small in statement.body:
                if isinstance(small, cst.Assign):
                    if len(small.targets) == 1 and isinstance(small.targets[0].target, cst.Name):
                        found.setdefault(small.targets[0].target.value, []).append(small.value)
                    else:
                        for target in small.targets:
                            for name in _target_names(target.target):
                                found[name] = []
                elif isinstance(small, cst.AnnAssign) and isinstance(small.target, cst.Name):
                    if small.value is not None:
                        found.setdefault(small.target.value, []).append(small.value)
                elif isinstance(small, cst.AugAssign) and isinstance(small.target, cst.Name):
                    # keeps the earlier values (`t = 0.0` then `t += dt`), but is no constant
                    found.setdefault(small.target.value, []).append(cst.Name("__unknown__"))
        elif isinstance(statement, (cst.FunctionDef, cst.ClassDef)):
            found[statement.name.value] = []
        elif isinstance(statement, cst.For):
            for name in _target_names(statement.target):
                found[name] = []
    return found


def single_values(assignments: dict[str, list[cst.BaseExpression]]) -> dict[str, cst.BaseExpression]:
    """Names assigned exactly once (and bound no other way): name -> value."""
    return {
        name: values[0]
        for name, values in assignments.items()
        if len(values) == 1 and not (isinstance(values[0], cst.Name) and values[0].value in _PLACEHOLDERS)
    }


def _target_names(target: cst.BaseExpression) -> Iterator[str]:
    if isinstance(target, cst.Name):
        yield target.value
    elif isinstance(target, (cst.Tuple, cst.List)):
        for element in target.elements:
            yield from _target_names(element.value)
    elif isinstance(target, cst.StarredElement):
        yield from _target_names(target.value)


# --- scopes --------------------------------------------------------------------------------------
def parameter_names(params: cst.Parameters) -> list[str]:
    names = [p.name.value for p in (*params.posonly_params, *params.params, *params.kwonly_params)]
    for star in (params.star_arg, params.star_kwarg):
        if isinstance(star, cst.Param):
            names.append(star.name.value)
    return names


class _Binder(cst.CSTVisitor):
    """Names a function body binds in its own scope (not inside nested defs/lambdas/classes)."""

    def __init__(self) -> None:
        super().__init__()
        self.bound: set[str] = set()
        self.declared_outer: set[str] = set()
        self.values: dict[str, list[cst.BaseExpression]] = {}

    def _bind(self, target: cst.BaseExpression, value: cst.BaseExpression | None = None) -> None:
        for name in _target_names(target):
            self.bound.add(name)
            if value is not None and isinstance(target, cst.Name):
                self.values.setdefault(name, []).append(value)
            else:
                self.values.setdefault(name, []).append(cst.Name("__unknown__"))

    def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
        self.bound.add(node.name.value)
        self.values.setdefault(node.name.value, []).append(cst.Name("__def__"))
        return False

    def visit_ClassDef(self, node: cst.ClassDef) -> bool:
        self.bound.add(node.name.value)
        self.values.setdefault(node.name.value, []).append(cst.Name("__class__"))
        return False

    def visit_Lambda(self, node: cst.Lambda) -> bool:
        return False

    def visit_ListComp(self, node: cst.ListComp) -> bool:
        return False

    def visit_SetComp(self, node: cst.SetComp) -> bool:
        return False

    def visit_DictComp(self, node: cst.DictComp) -> bool:
        return False

    def visit_GeneratorExp(self, node: cst.GeneratorExp) -> bool:
        return False

    def visit_Assign(self, node: cst.Assign) -> None:
        for target in node.targets:
            self._bind(target.target, node.value if len(node.targets) == 1 else None)

    def visit_AnnAssign(self, node: cst.AnnAssign) -> None:
        self._bind(node.target, node.value)

    def visit_AugAssign(self, node: cst.AugAssign) -> None:
        self._bind(node.target)

    def visit_NamedExpr(self, node: cst.NamedExpr) -> None:
        self._bind(node.target, node.value)

    def visit_For(self, node: cst.For) -> None:
        self._bind(node.target)

    def visit_WithItem(self, node: cst.WithItem) -> None:
        if node.asname is not None:
            self._bind(node.asname.name)

    def visit_ExceptHandler(self, node: cst.ExceptHandler) -> None:
        if node.name is not None:
            self._bind(node.name.name)

    def visit_Import(self, node: cst.Import) -> None:
        for alias in node.names:
            if alias.asname is not None:
                self._bind(alias.asname.name)
            else:
                self.bound.add(code_of(alias.name).split(".")[0])

    def visit_ImportFrom(self, node: cst.ImportFrom) -> None:
        if isinstance(node.names, cst.ImportStar):
            return
        for alias in node.names:
            name = alias.asname.name if alias.asname is not None else alias.name
            self._bind(name)

    def visit_Global(self, node: cst.Global) -> None:
        self.declared_outer.update(n.name.value for n in node.names)

    def visit_Nonlocal(self, node: cst.Nonlocal) -> None:
        self.declared_outer.update(n.name.value for n in node.names)


@dataclass
class Scope:
    """What one function or lambda binds: parameters and body bindings (with their values)."""

    bound: frozenset[str]
    values: dict[str, list[cst.BaseExpression]]

    def single_values(self) -> dict[str, cst.BaseExpression]:
        """Names bound exactly once, by a plain assignment: name -> assigned value."""
        return {
            name: vs[0]
            for name, vs in self.values.items()
            if len(vs) == 1 and not (isinstance(vs[0], cst.Name) and vs[0].value in _PLACEHOLDERS)
        }

    def _marked(self, name: str, marker: str) -> bool:
        return any(isinstance(v, cst.Name) and v.value == marker for v in self.values.get(name, ()))

    def is_parameter(self, name: str) -> bool:
        return self._marked(name, "__param__")

    def is_def(self, name: str) -> bool:
        """Bound (only) by a nested ``def``."""
        found = self.values.get(name, ())
        return bool(found) and all(isinstance(v, cst.Name) and v.value == "__def__" for v in found)


def bound_names(node: cst.FunctionDef | cst.Lambda) -> Scope:
    """Names a def or lambda binds locally (parameters, assignments, loop targets, imports,
    nested defs); ``global``/``nonlocal`` names are left out."""
    params = parameter_names(node.params)
    if isinstance(node, cst.Lambda):
        return Scope(frozenset(params), {p: [cst.Name("__param__")] for p in params})
    binder = _Binder()
    node.body.visit(binder)
    values: dict[str, list[cst.BaseExpression]] = {p: [cst.Name("__param__")] for p in params}
    for name, found in binder.values.items():
        values.setdefault(name, []).extend(found)
    bound = (set(params) | binder.bound) - binder.declared_outer
    return Scope(frozenset(bound), {k: v for k, v in values.items() if k in bound})


class ScopeCache:
    """Memoised :func:`bound_names` per def/lambda node (a rule keeps one per file)."""

    def __init__(self) -> None:
        self._scopes: dict[cst.CSTNode, Scope] = {}

    def __call__(self, node: cst.FunctionDef | cst.Lambda) -> Scope:
        scope = self._scopes.get(node)
        if scope is None:
            scope = self._scopes[node] = bound_names(node)
        return scope


def defining_scope(
    name: str, node: cst.CSTNode, context: "RuleContext", scopes: ScopeCache
) -> cst.FunctionDef | cst.Lambda | cst.Module | None:
    """The def/lambda (or the module) whose binding ``name`` at ``node`` refers to.

    Class bodies are skipped (they do not enclose their methods' names), as Python does.
    None when no enclosing function binds it and it is a builtin-like unknown (module
    bindings are checked by the caller).
    """
    previous: cst.CSTNode = node
    for ancestor in context.ancestors(node):
        if isinstance(ancestor, cst.FunctionDef) and previous is ancestor.body:
            if name in scopes(ancestor).bound:
                return ancestor
        elif isinstance(ancestor, cst.Lambda) and previous is ancestor.body:
            if name in scopes(ancestor).bound:
                return ancestor
        previous = ancestor
    return context.module


# --- calls ---------------------------------------------------------------------------------------
class RunsNowVisitor(cst.CSTVisitor):
    """Visits what a body runs when it runs: nested defs, lambdas and classes are not entered
    (they run later, if at all). Subclass it and add ``visit_*`` methods."""

    def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
        return False

    def visit_Lambda(self, node: cst.Lambda) -> bool:
        return False

    def visit_ClassDef(self, node: cst.ClassDef) -> bool:
        return False


class CallsWhenRun(RunsNowVisitor):
    """Collects the calls a body makes when it runs, skipping nested defs, lambdas and classes
    (they run later, if at all). Subclass it to collect more of the same body."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[cst.Call] = []

    def visit_Call(self, node: cst.Call) -> None:
        self.calls.append(node)


def calls_when_run(node: cst.CSTNode) -> list[cst.Call]:
    """The calls ``node`` makes when it runs: not those inside nested defs, lambdas or classes
    (they run later, if at all)."""
    collector = CallsWhenRun()
    node.visit(collector)
    return collector.calls


def bind_arguments(call: cst.Call, parameters: Sequence[str]) -> dict[str, cst.Arg] | None:
    """Map ``call``'s arguments to ``parameters`` (positional order, then keywords).

    None if the call uses ``*args``/``**kwargs`` (we cannot tell what fills what).
    Extra positional arguments are ignored.
    """
    bound: dict[str, cst.Arg] = {}
    position = 0
    for arg in call.args:
        if arg.star:
            return None
        if arg.keyword is None:
            if position < len(parameters):
                bound[parameters[position]] = arg
            position += 1
        else:
            bound[arg.keyword.value] = arg
    return bound


def keyword_arg(call: cst.Call, name: str) -> cst.Arg | None:
    for arg in call.args:
        if arg.keyword is not None and arg.keyword.value == name:
            return arg
    return None


def is_true(expr: cst.BaseExpression) -> bool:
    return isinstance(expr, cst.Name) and expr.value == "True"


def namespace_alias(module: cst.Module, qualified: str) -> cst.BaseExpression | None:
    """An expression that names module ``qualified`` in this file, from its imports:
    ``jax.numpy`` -> ``jnp`` after ``import jax.numpy as jnp`` (or ``jax.numpy`` after
    ``import jax``); None if the file has no import that reaches it."""
    parent, _, leaf = qualified.rpartition(".")
    fallback: cst.BaseExpression | None = None
    for statement in module.body:
        if not isinstance(statement, cst.SimpleStatementLine):
            continue
        for small in statement.body:
            if isinstance(small, cst.Import):
                for alias in small.names:
                    imported = code_of(alias.name)
                    if alias.asname is not None and imported == qualified:
                        return cst.Name(alias.asname.name.value)  # type: ignore[union-attr]
                    if alias.asname is None and (qualified == imported or qualified.startswith(imported + ".")):
                        fallback = fallback or cst.parse_expression(qualified)
            elif isinstance(small, cst.ImportFrom) and not isinstance(small.names, cst.ImportStar) and small.module:
                if small.relative:
                    continue
                if code_of(small.module) == parent:
                    for alias in small.names:
                        if code_of(alias.name) == leaf:
                            local = alias.asname.name if alias.asname is not None else alias.name
                            return cst.Name(local.value)  # type: ignore[union-attr]
    return fallback
