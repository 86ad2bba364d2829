"""What a rule may ask about the file it visits: names, traced-ness, parents, positions.

A :class:`RuleContext` is built per file by the engine. Everything costly is lazy:

- qualified names come from the import table of the file's ``ast`` summary (already computed
  for the call graph), so no libcst scope analysis is run;
- parents are recorded by the engine's single traversal as it goes (a full parent map is
  built only if a rule asks about a node the traversal has not reached yet);
- positions (libcst's ``PositionProvider``, which re-renders the module) are resolved only
  when a finding is reported or a rule asks for one.

Traced-ness combines the project-wide call graph (:mod:`jaxlint.rules._callgraph`: which
functions are traced, and why) with one local case the graph cannot name: a ``lambda``
written directly in a transform's function slot (``lax.scan(lambda c, x: ..., ...)``).
"""

from __future__ import annotations

import builtins
from dataclasses import dataclass, field
from typing import Iterator, Mapping

import libcst as cst

from jaxlint.rules._callgraph import ModuleSummary, summarize_module, traced_functions, transform_slot

_BUILTINS = frozenset(dir(builtins))


@dataclass(frozen=True)
class FileFacts:
    """The per-file facts the context needs: imports and the traced functions of this file."""

    path: str
    module: str
    imports: Mapping[str, str]
    defined: frozenset[str]
    traced: Mapping[str, str] = field(default_factory=dict)  # function qualname -> reason
    transform_lambdas: bool = False  # a lambda sits in a transform's function slot
    statement_lines: tuple[int, ...] = ()  # first line of each top-level statement (ast)

    @classmethod
    def from_summary(
        cls, path: str, summary: ModuleSummary, traced: Mapping[str, str], transform_lambdas: bool | None = None
    ) -> "FileFacts":
        lambdas = summary.transform_lambdas if transform_lambdas is None else transform_lambdas
        return cls(path, summary.module, summary.imports, summary.defined, dict(traced), lambdas,
                   summary.statement_lines)

    @classmethod
    def for_single_file(cls, source: str, path: str, module: str | None = None) -> "FileFacts":
        """Facts for a file checked on its own (no project): its own call graph only."""
        module = module or path.rsplit("/", 1)[-1].removesuffix(".py") or "module"
        summary = summarize_module(source, module)
        return cls.from_summary(path, summary, traced_functions({path: summary})[path])


def dotted_chain(expr: cst.BaseExpression) -> tuple[str, ...] | None:
    """``jnp.linalg.norm`` -> ("jnp", "linalg", "norm"); None if not a plain dotted name."""
    names: list[str] = []
    while isinstance(expr, cst.Attribute):
        names.append(expr.attr.value)
        expr = expr.value
    if isinstance(expr, cst.Name):
        names.append(expr.value)
        return tuple(reversed(names))
    return None


class RuleContext:
    """Per-file services for rules (see the module docstring for what is lazy)."""

    def __init__(self, path: str, source: str, module: cst.Module, facts: FileFacts) -> None:
        self.path = path
        self.source = source
        self.module = module
        self.facts = facts
        self._parents: dict[cst.CSTNode, cst.CSTNode] = {}
        self._parents_complete = False
        self._parents_structural = False  # every non-formatting node's parent is recorded
        self._positions: Mapping[cst.CSTNode, object] | None = None
        self._statement_index: dict[int, int] | None = None
        self._statement_ranges: dict[int, dict] = {}
        self._statement_delta: dict[int, int] = {}

    # -- names --
    def qualified_name(self, expr: cst.CSTNode) -> str | None:
        """The fully-qualified name ``expr`` refers to, imports and aliases resolved.

        ``jnp.stack`` -> "jax.numpy.stack", ``lax.scan`` -> "jax.lax.scan", ``range`` ->
        "builtins.range". A name defined in this file is returned as written (``SaveAt`` after
        ``class SaveAt``); anything that is not a dotted name (a call, a subscript) -> None.
        """
        if isinstance(expr, cst.Decorator):
            expr = expr.decorator
        if not isinstance(expr, (cst.Name, cst.Attribute)):
            return None
        chain = dotted_chain(expr)
        if chain is None:
            return None
        head, rest = chain[0], chain[1:]
        target = self.facts.imports.get(head)
        if target is not None:
            return ".".join((target, *rest))
        if head in _BUILTINS and head not in self.facts.defined:
            return ".".join(("builtins", head, *rest))
        return ".".join(chain)

    # -- tree navigation --
    def record_parent(self, node: cst.CSTNode, parent: cst.CSTNode) -> None:
        """Called by the engine's traversal; rules need not call it."""
        self._parents[node] = parent

    def _complete_parents(self, include_whitespace: bool = False) -> None:
        """Record every parent (a rule asked about a node the traversal has not reached).
        Formatting nodes are added only when asked about one: they are a third of a tree."""
        if self._parents_complete:
            return
        from jaxlint.rules._walk import WHITESPACE_NODES, walk

        def noop(_: cst.CSTNode) -> None:
            return None

        walk(self.module, noop, noop, self._parents, frozenset() if include_whitespace else WHITESPACE_NODES)
        self._parents_complete = include_whitespace
        self._parents_structural = True

    def descendants(self, node: cst.CSTNode) -> list[cst.CSTNode]:
        """``node`` and every node below it, in source order. Much cheaper than running a
        libcst visitor with ``node.visit(...)`` (which rebuilds every node it passes)."""
        from jaxlint.rules._walk import iter_nodes

        return iter_nodes(node)

    def visit(self, node: cst.CSTNode, visitor: cst.CSTVisitor) -> None:
        """Run a read-only libcst visitor over ``node``: like ``node.visit(visitor)``, 2-3x faster
        (``visit_<Node>_<attribute>`` hooks excepted)."""
        from jaxlint.rules._walk import visit_fast

        if not visit_fast(node, visitor):
            node.visit(visitor)

    def parent(self, node: cst.CSTNode) -> cst.CSTNode | None:
        """The node's parent in the module (None for the module itself)."""
        if node is self.module:
            return None
        found = self._parents.get(node)
        if found is None and not self._parents_complete:
            self._complete_parents(include_whitespace=getattr(self, "_parents_structural", False))
            found = self._parents.get(node)
            if found is None and not self._parents_complete:
                self._complete_parents(include_whitespace=True)
                found = self._parents.get(node)
        return found

    def ancestors(self, node: cst.CSTNode) -> Iterator[cst.CSTNode]:
        """Parent, grandparent, ... up to the module."""
        current = self.parent(node)
        while current is not None:
            yield current
            current = self.parent(current)

    def enclosing_function(self, node: cst.CSTNode) -> cst.FunctionDef | None:
        """The innermost ``def`` strictly containing ``node`` (None at module level)."""
        for ancestor in self.ancestors(node):
            if isinstance(ancestor, cst.FunctionDef):
                return ancestor
        return None

    def function_qualname(self, function: cst.FunctionDef) -> str:
        """``Outer.method`` / ``f.<locals>.g``: the same names the call graph uses."""
        chain = [function, *(a for a in self.ancestors(function) if isinstance(a, (cst.FunctionDef, cst.ClassDef)))]
        qual = ""
        previous_is_function = False
        for scope in reversed(chain):
            name = scope.name.value
            qual = name if not qual else (f"{qual}.<locals>.{name}" if previous_is_function else f"{qual}.{name}")
            previous_is_function = isinstance(scope, cst.FunctionDef)
        return qual

    # -- traced context --
    def traced_reason(self, node: cst.CSTNode) -> str | None:
        """None when ``node`` runs as plain Python; otherwise why it is traced, e.g.
        "reached from `solve` (jitted at model.py:12)" or
        "`body` is the body of lax.scan at model.py:30"."""
        previous: cst.CSTNode = node
        for ancestor in self.ancestors(node):
            if isinstance(ancestor, cst.FunctionDef):
                # Decorators and default values run when the def runs, outside the body.
                if previous is ancestor.body:
                    reason = self.facts.traced.get(self.function_qualname(ancestor))
                    if reason is not None:
                        return reason
            elif isinstance(ancestor, cst.Lambda) and previous is ancestor.body:
                reason = self._lambda_role(ancestor)
                if reason is not None:
                    return reason
            previous = ancestor
        return None

    def is_traced(self, node: cst.CSTNode) -> bool:
        return self.traced_reason(node) is not None

    def _lambda_role(self, lam: cst.Lambda) -> str | None:
        """Why a lambda is traced, if it sits directly in a transform's function slot."""
        holder = self.parent(lam)
        if isinstance(holder, cst.Element):  # lax.switch(i, [lambda: ..., ...])
            holder = self.parent(self.parent(holder) or holder)
        if not isinstance(holder, cst.Arg):
            return None
        call = self.parent(holder)
        if not isinstance(call, cst.Call):
            return None
        qualified = self.qualified_name(call.func)
        keyword = holder.keyword.value if holder.keyword is not None else None
        position = None
        if keyword is None and not holder.star:
            position = [a for a in call.args if a.keyword is None and not a.star].index(holder)
        role = transform_slot(qualified, position, keyword)
        if role is None:
            return None
        line = self.position(call)[0]
        return f"the lambda is {role} at {self.path}:{line}"

    # -- positions --
    def position(self, node: cst.CSTNode) -> tuple[int, int, int, int]:
        """(line, column, end_line, end_column): 1-based lines, 0-based columns.

        Only the top-level statement holding ``node`` is rendered (with libcst's position
        tracking), and placed by that statement's line from the ``ast`` summary: a finding
        costs one statement's codegen, not the module's (libcst's PositionProvider renders and
        re-visits the whole module, seconds for a big file). Falls back to the provider when
        the statements cannot be matched one to one.
        """
        found = self._statement_position(node)
        if found is not None:
            return found
        if self._positions is None:
            from libcst.metadata import MetadataWrapper, PositionProvider

            # unsafe_skip_copy keeps node identity: the nodes rules hold are the keys here.
            wrapper = MetadataWrapper(self.module, unsafe_skip_copy=True)
            self._positions = wrapper.resolve(PositionProvider)
        code_range = self._positions[node]
        return (code_range.start.line, code_range.start.column, code_range.end.line, code_range.end.column)

    def statement_span(self, node: cst.CSTNode) -> tuple[cst.CSTNode, int] | None:
        """The top-level statement holding ``node`` and the 1-based line where its rendered
        text (leading comments included) starts; None if it cannot be placed cheaply."""
        if self._statement_position(node) is None:
            return None
        statement = node
        parent = self.parent(node)
        while parent is not None and parent is not self.module:
            statement, parent = parent, self.parent(parent)
        index = self._statement_index[id(statement)]  # type: ignore[index]
        return statement, 1 + self._statement_delta[index]

    def _statement_position(self, node: cst.CSTNode) -> tuple[int, int, int, int] | None:
        lines = self.facts.statement_lines
        body = self.module.body
        if not lines or len(lines) != len(body):
            return None
        statement = node
        parent = self.parent(node)
        while parent is not None and parent is not self.module:
            statement, parent = parent, self.parent(parent)
        if parent is None:
            return None  # the module itself, or a node that is not in this module
        if self._statement_index is None:
            self._statement_index = {id(s): i for i, s in enumerate(body)}
        index = self._statement_index.get(id(statement))
        if index is None:
            return None
        ranges = self._statement_ranges.get(index)
        if ranges is None:
            from libcst.metadata.position_provider import PositionProvidingCodegenState

            holder = _RangeHolder()
            state = PositionProvidingCodegenState(
                default_indent=self.module.default_indent, default_newline=self.module.default_newline, provider=holder
            )
            statement._codegen(state)
            ranges = holder._computed
            # The rendered statement starts with its leading blank/comment lines; the ast
            # line is where its own syntax starts (the `def`, not a decorator or a comment).
            self._statement_ranges[index] = ranges
            self._statement_delta[index] = lines[index] - ranges[statement].start.line
        code_range = ranges.get(node)
        if code_range is None:
            return None
        delta = self._statement_delta[index]
        return (code_range.start.line + delta, code_range.start.column, code_range.end.line + delta, code_range.end.column)


class _RangeHolder:
    """Stands in for a metadata provider: libcst's position codegen state writes here."""

    def __init__(self) -> None:
        self._computed: dict[cst.CSTNode, object] = {}
