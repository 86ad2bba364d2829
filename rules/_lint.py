"""Lint one module's source: one libcst parse, all rules in one traversal, noqa, fixes.

This is the per-file core the project engine (:mod:`jaxlint.rules._engine`) runs in worker
processes; it knows nothing about files on disk, caches or configuration beyond the rule
classes it is given.
"""

from __future__ import annotations

import re
from functools import lru_cache
from dataclasses import dataclass, field
from typing import Callable, Sequence

import libcst as cst

from jaxlint.rules._base import SYNTAX_ERROR_CODE, SYNTAX_ERROR_NAME, Finding, LintRule
from jaxlint.rules._context import FileFacts, RuleContext
from jaxlint.rules._files import line_starts as _line_starts, split_lines
from jaxlint.rules._fix import fix_for_replacement
from jaxlint.rules._walk import (  # noqa: F401 (re-export)
    fast_visits, iter_nodes, parse_module_unvalidated, skippable, visit_fast, walk,
)

# The separator between codes is written so that no two quantifiers can share a character:
# `\s*[,\s]\s*` backtracked quadratically over a long run of trailing spaces.
_NOQA = re.compile(r"#\s*noqa(?::\s*(?P<codes>[A-Za-z]+[0-9]+(?:(?:\s*,\s*|\s+)[A-Za-z]+[0-9]+)*))?", re.IGNORECASE)
_IGNORE = re.compile(r"#\s*jaxlint:\s*ignore(?:\[(?P<codes>[^\]]*)\])?", re.IGNORECASE)


@dataclass
class ModuleResult:
    """Findings of one module (one file, or one notebook's concatenated cells)."""

    findings: list[Finding] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # rule crashes: reported, never fatal


def suppressed_codes(line: str) -> frozenset[str] | None:
    """Codes a line's comment suppresses: None = nothing, empty set = everything."""
    if "#" not in line:
        return None
    codes: set[str] = set()
    matched = False
    for pattern in (_NOQA, _IGNORE):
        for match in pattern.finditer(line):
            matched = True
            if match.group("codes") is None:
                return frozenset()
            codes.update(c.upper() for c in re.split(r"[,\s]+", match.group("codes").strip()) if c)
    return frozenset(codes) if matched else None


def is_suppressed(lines: Sequence[str], finding: Finding) -> bool:
    """``# noqa`` / ``# jaxlint: ignore[...]`` on the finding's first or last line."""
    for number in {finding.line, finding.end_line}:
        if 1 <= number <= len(lines):
            codes = suppressed_codes(lines[number - 1])
            if codes is not None and (not codes or finding.code in codes):
                return True
    return False


_BASE_METHODS = frozenset(name for name in dir(LintRule) if name.startswith(("visit_", "leave_")))


@lru_cache(maxsize=None)
def _handler_names(rule_class: type[LintRule]) -> list[tuple[str, str, str]]:
    """(kind, node key, method name) for each visit_*/leave_* the rule class defines itself.

    libcst's visitor base defines a no-op for every node type: those must not be dispatched
    (they would multiply the per-node cost by the number of rules).
    """
    found = []
    for name in dir(rule_class):
        if not name.startswith(("visit_", "leave_")):
            continue
        if name in _BASE_METHODS and getattr(rule_class, name) is getattr(LintRule, name):
            continue
        found.append((name[:5], name[6:], name))
    return found


class _Dispatcher(cst.CSTVisitor):
    """Calls every rule's ``visit_*``/``leave_*`` for each node: one traversal for all rules.

    Also records each node's parent for the context, which is nearly free here. A rule that
    raises is reported once and dropped for the rest of the file.
    """

    def __init__(self, rules: Sequence[LintRule], context: RuleContext, on_error: Callable[[LintRule, BaseException], None]) -> None:
        super().__init__()
        self.rules = list(rules)
        self.context = context
        self.on_error = on_error
        self.visits: dict[str, list[tuple[LintRule, Callable]]] = {}
        self.leaves: dict[str, list[tuple[LintRule, Callable]]] = {}
        self._build_tables()

    def _build_tables(self) -> None:
        self.visits.clear()
        self.leaves.clear()
        for rule in self.rules:
            for kind, key, name in _handler_names(type(rule)):
                table = self.visits if kind == "visit" else self.leaves
                table.setdefault(key, []).append((rule, getattr(rule, name)))

    @property
    def uses_attributes(self) -> bool:
        return any("_" in key for key in (*self.visits, *self.leaves))

    def _call(self, handlers: list[tuple[LintRule, Callable]], node: cst.CSTNode) -> None:
        for rule, handler in handlers:
            try:
                handler(node)
            except Exception as error:  # a broken rule must not take the file down
                self.rules = [r for r in self.rules if r is not rule]
                self._build_tables()
                self.on_error(rule, error)
                return

    def on_visit(self, node: cst.CSTNode) -> bool:
        handlers = self.visits.get(type(node).__name__)
        if handlers:
            self._call(handlers, node)
        return True

    def on_leave(self, original_node: cst.CSTNode) -> None:
        handlers = self.leaves.get(type(original_node).__name__)
        if handlers:
            self._call(handlers, original_node)

    # libcst calls these around every child attribute; the base class's version does a
    # getattr with a formatted name each time. Without attribute handlers: do nothing.
    def on_visit_attribute(self, node: cst.CSTNode, attribute: str) -> None:
        return None

    def on_leave_attribute(self, original_node: cst.CSTNode, attribute: str) -> None:
        return None


class _AttributeDispatcher(_Dispatcher):
    """The dispatcher for rule sets that use ``visit_<Node>_<attribute>`` handlers: it runs
    under libcst's own (slower) traversal, which calls the attribute hooks."""

    def on_visit(self, node: cst.CSTNode) -> bool:
        stack = self.__dict__.setdefault("_stack", [])
        if stack:
            self.context._parents[node] = stack[-1]
        stack.append(node)
        return super().on_visit(node)

    def on_leave(self, original_node: cst.CSTNode) -> None:
        self.__dict__["_stack"].pop()
        super().on_leave(original_node)

    def on_visit_attribute(self, node: cst.CSTNode, attribute: str) -> None:
        handlers = self.visits.get(f"{type(node).__name__}_{attribute}")
        if handlers:
            self._call(handlers, node)

    def on_leave_attribute(self, original_node: cst.CSTNode, attribute: str) -> None:
        handlers = self.leaves.get(f"{type(original_node).__name__}_{attribute}")
        if handlers:
            self._call(handlers, original_node)


def syntax_error_finding(path: str, error: Exception) -> Finding:
    """A JL000 finding for a file that does not parse, at the error's line and column."""
    line = getattr(error, "raw_line", None) or getattr(error, "lineno", None) or 1
    column = getattr(error, "raw_column", None)
    if column is None:
        offset = getattr(error, "offset", None)
        column = max((offset or 1) - 1, 0)
    message = getattr(error, "message", None) or getattr(error, "msg", None) or str(error)
    message = str(message).strip().splitlines()[0] if str(message).strip() else "invalid syntax"
    return Finding(path, int(line), int(column), int(line), int(column), SYNTAX_ERROR_CODE, SYNTAX_ERROR_NAME,
                   f"SyntaxError: {message}")


def lint_module(
    source: str,
    path: str,
    rule_classes: Sequence[type[LintRule]],
    facts: FileFacts,
    *,
    module: cst.Module | None = None,
) -> ModuleResult:
    """Run ``rule_classes`` over ``source`` (already pre-filtered by the caller).

    Returns positioned findings, sorted, with noqa applied and fixes as text edits.
    """
    result = ModuleResult()
    if module is None:
        try:
            module = parse_module_unvalidated(source)
        except (cst.ParserSyntaxError, SyntaxError, ValueError, RecursionError) as error:
            result.findings.append(syntax_error_finding(path, error))
            return result
    context = RuleContext(path, source, module, facts)
    rules: list[LintRule] = []
    for rule_class in rule_classes:
        try:
            rules.append(rule_class(context))
        except Exception as error:
            result.errors.append(f"{path}: rule {rule_class.CODE} failed: {type(error).__name__}: {error}")
    with fast_visits():
        return _run_rules(source, path, module, context, rules, result)


def _run_rules(
    source: str, path: str, module: cst.Module, context: RuleContext, rules: list[LintRule], result: ModuleResult
) -> ModuleResult:
    def on_error(rule: LintRule, error: BaseException) -> None:
        result.errors.append(f"{path}: rule {rule.CODE} failed: {type(error).__name__}: {error}")

    try:
        dispatcher = _Dispatcher(rules, context, on_error)
        if dispatcher.uses_attributes:  # rare: libcst's own traversal calls attribute hooks
            module.visit(_AttributeDispatcher(rules, context, on_error))
        else:
            skip = skippable({*dispatcher.visits, *dispatcher.leaves})
            walk(module, dispatcher.on_visit, dispatcher.on_leave, context._parents, skip)
            context._parents_complete = not skip
    except RecursionError:
        result.errors.append(f"{path}: too deeply nested to lint")
        return result

    lines = split_lines(source)  # Python's line breaks only: a form feed is not one
    line_starts: list[int] | None = None
    for rule in rules:
        for report in rule.reports:
            try:
                line, column, end_line, end_column = context.position(report.node)
            except KeyError:  # a node that is not in this module (a rule's own construction)
                result.errors.append(f"{path}: rule {rule.CODE} reported a node outside the module")
                continue
            finding = Finding(path, line, column, end_line, end_column, rule.CODE, rule.NAME, report.message)
            if is_suppressed(lines, finding):
                continue
            if report.replacement is not None:
                if line_starts is None:
                    line_starts = _line_starts(source)
                try:
                    fix = fix_for_replacement(module, report.node, report.replacement, report.unsafe, line_starts,
                                              context.statement_span(report.node))
                except Exception as error:  # an invalid replacement tree: report without a fix
                    result.errors.append(f"{path}: rule {rule.CODE} built an invalid fix: {error}")
                    fix = None
                if fix is not None:
                    finding = Finding(path, line, column, end_line, end_column, rule.CODE, rule.NAME, report.message, fix)
            result.findings.append(finding)
    result.findings.sort(key=lambda f: f.sort_key)
    return result
