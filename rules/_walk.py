"""A fast read-only traversal of libcst trees, in libcst's own visiting order.

libcst's ``node.visit(visitor)`` rebuilds every node it passes (``_visit_and_replace_children``
constructs and validates a new node even for a read-only visitor) and dispatches each node
through a formatted ``getattr``. For linting that is most of the time spent after parsing.
This module walks the same nodes in the same order without rebuilding anything:

- the child attributes of each node class, and how each is held (required / optional /
  sequence), are read once from the source of its ``_visit_and_replace_children``, where each
  child is visited by a helper naming the attribute (``visit_sequence(self, "body", ...)``),
  and compiled into a small function per class;
- a plain visitor (one that does not override ``on_visit``/``on_leave`` or use attribute
  hooks) is dispatched through a table of the ``visit_*``/``leave_*`` methods its class
  actually defines, and formatting-only subtrees are skipped when it has no handler for them.

``tests/rules/test_engine_walk.py`` checks node-for-node equality with libcst's traversal.
"""

from __future__ import annotations

import inspect
import linecache
import re
import sys
from typing import Callable

import libcst as cst

_VISIT_CALL = re.compile(r'(visit_\w+)\(\s*self,\s*"(\w+)"')
_SEQUENCE_HELPERS = frozenset({"visit_sequence", "visit_iterable", "visit_body_sequence", "visit_body_iterable"})
_CHILDREN: dict[type, Callable[[cst.CSTNode, list], None]] = {}

# Formatting-only nodes: about a third of a module's nodes. Skipped by traversals that have
# no handler for them (parents stay reachable through RuleContext.parent, which fills in).
WHITESPACE_NODES = frozenset(
    {cst.SimpleWhitespace, cst.ParenthesizedWhitespace, cst.TrailingWhitespace, cst.EmptyLine, cst.Newline, cst.Comment}
)


# What each formatting node can contain: skipping a node skips everything inside it.
_CONTAINED_IN = {
    cst.Comment: (cst.EmptyLine, cst.TrailingWhitespace, cst.ParenthesizedWhitespace),
    cst.Newline: (cst.EmptyLine, cst.TrailingWhitespace, cst.ParenthesizedWhitespace),
    cst.SimpleWhitespace: (cst.EmptyLine, cst.TrailingWhitespace, cst.ParenthesizedWhitespace),
    cst.TrailingWhitespace: (cst.ParenthesizedWhitespace,),
    cst.EmptyLine: (cst.ParenthesizedWhitespace,),
    cst.ParenthesizedWhitespace: (),
}


def skippable(handled: set[str] | frozenset[str]) -> frozenset[type]:
    """The formatting node types a traversal may skip when it handles the node class names
    in ``handled``: neither they nor anything inside them is handled."""
    needed: set[type] = set()
    for node_type, containers in _CONTAINED_IN.items():
        if node_type.__name__ in handled:
            needed.add(node_type)
            needed.update(containers)
    return frozenset(WHITESPACE_NODES - needed)


def _method_source(function: Callable) -> str:
    """The source lines of a function defined in a file, from its first line to the last
    line its bytecode (or any code nested in it) comes from. ``inspect.getsource`` finds the
    same block by tokenizing the file from the ``def`` line, which costs a fresh ``jaxlint
    check`` process ~10 ms over the ~20 node classes of a small file (pre-commit latency)."""
    code = getattr(function, "__code__", None)
    lines = linecache.getlines(code.co_filename) if code is not None else []
    if not lines:
        return inspect.getsource(function)
    last, pending = code.co_firstlineno, [code]
    while pending:
        current = pending.pop()
        last = max([last, *(line for _, _, line in current.co_lines() if line is not None)])
        pending.extend(c for c in current.co_consts if hasattr(c, "co_lines"))
    return "".join(lines[code.co_firstlineno - 1 : last])


def child_fields(node_class: type) -> list[tuple[str, str]]:
    """(helper, attribute) pairs of ``node_class``'s children, in visiting order."""
    source = _method_source(getattr(node_class, "_visit_and_replace_children"))
    seen: dict[str, str] = {}
    for helper, name in _VISIT_CALL.findall(source):
        # A field visited by two helpers holds either a node or a sequence
        # (`ImportFrom.names`: ImportStar or aliases): handle it generically.
        seen[name] = helper if seen.get(name, helper) == helper else "generic"
    return [(helper, name) for name, helper in seen.items()]


def _compile_children(node_class: type) -> Callable[[cst.CSTNode, list], None]:
    body = []
    for helper, name in child_fields(node_class):
        if helper in _SEQUENCE_HELPERS:  # may be None when visited conditionally (format_spec)
            body.append(f"    value = node.{name}\n    if value:\n        out.extend(value)")
        elif helper == "generic":
            body.append(
                f"    value = node.{name}\n    if isinstance(value, CSTNode):\n        out.append(value)\n"
                "    elif isinstance(value, (tuple, list)):\n        out.extend(value)"
            )
        elif helper == "visit_required":
            body.append(f"    out.append(node.{name})")
        else:  # visit_optional / visit_sentinel: absent = None or MaybeSentinel.DEFAULT
            body.append(f"    value = node.{name}\n    if value is not None and value is not DEFAULT:\n        out.append(value)")
    code = "def children(node, out):\n" + ("\n".join(body) if body else "    return None") + "\n"
    namespace: dict = {"CSTNode": cst.CSTNode, "DEFAULT": cst.MaybeSentinel.DEFAULT}
    exec(compile(code, f"<jaxlint children of {node_class.__name__}>", "exec"), namespace)
    function = namespace["children"]
    _CHILDREN[node_class] = function
    return function


def children_of(node: cst.CSTNode) -> list[cst.CSTNode]:
    """The node's children in visiting order (formatting nodes included)."""
    out: list[cst.CSTNode] = []
    (_CHILDREN.get(type(node)) or _compile_children(type(node)))(node, out)
    return out


def walk(
    root: cst.CSTNode,
    on_visit: Callable[[cst.CSTNode], object],
    on_leave: Callable[[cst.CSTNode], object] | None,
    parents: dict[cst.CSTNode, cst.CSTNode] | None = None,
    skip: frozenset[type] = frozenset(),
) -> None:
    """Depth-first traversal calling ``on_visit`` before and ``on_leave`` after each subtree, in
    libcst's order, optionally recording parents. ``on_visit`` returning ``False`` skips the
    node's children (``on_leave`` still runs, as in libcst). Subtrees rooted at a node whose
    type is in ``skip`` are not entered."""
    table = _CHILDREN
    compile_children = _compile_children

    def visit(node: cst.CSTNode) -> None:
        if on_visit(node) is not False:
            children: list[cst.CSTNode] = []
            (table.get(type(node)) or compile_children(type(node)))(node, children)
            for child in children:
                if skip and type(child) in skip:
                    continue
                if parents is not None:
                    parents[child] = node
                visit(child)
        if on_leave is not None:
            on_leave(node)

    limit = sys.getrecursionlimit()
    if limit < 10_000:  # libcst parsed this tree recursively, with deeper frames than ours
        sys.setrecursionlimit(10_000)
    try:
        visit(root)
    finally:
        if limit < 10_000:
            sys.setrecursionlimit(limit)


def iter_nodes(node: cst.CSTNode) -> list[cst.CSTNode]:
    """``node`` and all its descendants in visiting order (formatting nodes included)."""
    found: list[cst.CSTNode] = []
    walk(node, found.append, None)
    return found


# --- running plain libcst visitors fast ---------------------------------------------------------
_BASE = cst.CSTVisitor
_PLAN: dict[type, tuple[dict[str, str], dict[str, str], frozenset[type]] | None] = {}


def _plan(visitor_class: type) -> tuple[dict[str, str], dict[str, str], frozenset[type]] | None:
    """For a plain read-only visitor class: (node class name -> visit method, -> leave method,
    formatting node types it can skip). None when the class needs libcst's own traversal."""
    if visitor_class in _PLAN:
        return _PLAN[visitor_class]
    plan = None
    if issubclass(visitor_class, _BASE) and all(
        getattr(visitor_class, name) is getattr(_BASE, name)
        for name in ("on_visit", "on_leave", "on_visit_attribute", "on_leave_attribute")
    ):
        visits: dict[str, str] = {}
        leaves: dict[str, str] = {}
        plain = True
        for name in dir(visitor_class):
            if not name.startswith(("visit_", "leave_")):
                continue
            if getattr(visitor_class, name) is getattr(_BASE, name, None):
                continue  # libcst's no-op default
            key = name[6:]
            if "_" in key:  # an attribute hook: only libcst's traversal calls those
                plain = False
                break
            (visits if name.startswith("visit_") else leaves)[key] = name
        if plain:
            skip = skippable(set(visits) | set(leaves))
            plan = (visits, leaves, skip)
    _PLAN[visitor_class] = plan
    return plan


def visit_fast(node: cst.CSTNode, visitor: cst.CSTVisitor) -> bool:
    """Run a read-only visitor over ``node`` like ``node.visit(visitor)``; returns False (and
    does nothing) if the visitor needs libcst's traversal (attribute hooks, custom
    ``on_visit``, a transformer)."""
    plan = _plan(type(visitor))
    if plan is None:
        return False
    visits, leaves, skip = plan
    bound_visits = {key: getattr(visitor, name) for key, name in visits.items()}
    bound_leaves = {key: getattr(visitor, name) for key, name in leaves.items()}

    def on_visit(current: cst.CSTNode) -> object:
        method = bound_visits.get(type(current).__name__)
        return True if method is None else method(current)

    def on_leave(current: cst.CSTNode) -> None:
        method = bound_leaves.get(type(current).__name__)
        if method is not None:
            method(current)

    walk(node, on_visit, on_leave if bound_leaves else None, None, skip)
    return True


_ORIGINAL_VISIT = cst.CSTNode.visit
_ORIGINAL_POST_INIT = cst.CSTNode.__post_init__


def _skip_validation(self: cst.CSTNode) -> None:
    return None


def parse_module_unvalidated(source: str) -> cst.Module:
    """``libcst.parse_module`` without re-validating each node the parser builds.

    Every libcst node validates itself on construction (``__post_init__`` -> ``_validate``:
    whitespace regexes, parenthesis checks). For nodes libcst's own parser builds from source
    it accepted, that cannot fail, and it is ~12% of parse time (libcst's comment in
    ``CSTNode.__post_init__`` suggests the same). Nodes built afterwards (a rule's
    replacement) are validated as usual.
    """
    cst.CSTNode.__post_init__ = _skip_validation  # type: ignore[method-assign]
    try:
        return cst.parse_module(source)
    finally:
        cst.CSTNode.__post_init__ = _ORIGINAL_POST_INIT  # type: ignore[method-assign]


def _visit_patched(self: cst.CSTNode, visitor: object) -> cst.CSTNode:
    if isinstance(visitor, _BASE) and visit_fast(self, visitor):
        return self  # a read-only visit returns the node itself
    return _ORIGINAL_VISIT(self, visitor)  # type: ignore[arg-type]


class fast_visits:
    """While active, ``node.visit(visitor)`` with a plain read-only visitor (the way rules and
    their helpers walk subtrees) takes :func:`visit_fast`; anything else takes libcst's path.
    Behaviour is identical (same nodes, order, pruning, ``leave_*``). Entered around each
    module's linting; re-entrant."""

    depth = 0

    def __enter__(self) -> None:
        if fast_visits.depth == 0:
            cst.CSTNode.visit = _visit_patched  # type: ignore[method-assign]
        fast_visits.depth += 1

    def __exit__(self, *exc: object) -> None:
        fast_visits.depth -= 1
        if fast_visits.depth == 0:
            cst.CSTNode.visit = _ORIGINAL_VISIT  # type: ignore[method-assign]
