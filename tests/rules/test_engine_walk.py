"""The fast traversal, positions, edits and gitignore patterns agree with their references."""

from __future__ import annotations

from pathlib import Path

import libcst as cst
import pytest
from libcst.metadata import MetadataWrapper, PositionProvider

from jaxlint.rules._context import FileFacts, RuleContext
from jaxlint.rules._files import IgnorePattern, is_ignored
from jaxlint.rules._fix import apply_edits, edit_between
from jaxlint.rules._walk import fast_visits, iter_nodes, parse_module_unvalidated, visit_fast, walk

SITE = Path(cst.__file__).resolve().parents[1]
# Real, varied sources: f-strings, decorators, match, async, star-imports, type hints, comments.
SAMPLES = [
    SITE / "libcst" / "_nodes" / "op.py",
    SITE / "libcst" / "codemod" / "_cli.py",
    SITE / "libcst" / "_parser" / "entrypoints.py",
    Path(__file__),
]
EXTRA = '''\
from .x import (a as b, c)
from y import *
match command:
    case [x, *rest] if x:
        pass
    case {"k": v, **kw}:
        pass
async def f():
    async with a as b, c:
        yield f"{x!r:>{width}} {y=}"
x = 1; y = 2  # two statements on one line
lambda *a, b=1, **k: (yield)
'''


def _sources() -> list[str]:
    return [p.read_text() for p in SAMPLES] + [EXTRA]


@pytest.mark.parametrize("index", range(len(SAMPLES) + 1))
def test_walk_visits_what_libcst_visits_in_order(index: int) -> None:
    module = cst.parse_module(_sources()[index])
    expected: list[tuple[str, int]] = []
    seen: list[tuple[str, int]] = []

    class Recorder(cst.CSTVisitor):
        def on_visit(self, node: cst.CSTNode) -> bool:
            expected.append(("visit", id(node)))
            return True

        def on_leave(self, node: cst.CSTNode) -> None:
            expected.append(("leave", id(node)))

    module.visit(Recorder())
    parents: dict = {}
    walk(module, lambda n: seen.append(("visit", id(n))), lambda n: seen.append(("leave", id(n))), parents)
    assert seen == expected
    assert len(parents) == len(expected) // 2 - 1  # every node but the module


class _Pruning(cst.CSTVisitor):
    def __init__(self) -> None:
        super().__init__()
        self.log: list[str] = []

    def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
        self.log.append(node.name.value)
        return not node.name.value.startswith("_")  # prune private functions

    def visit_Name(self, node: cst.Name) -> None:
        self.log.append(node.value)

    def leave_ClassDef(self, node: cst.ClassDef) -> None:
        self.log.append("/" + node.name.value)

    def visit_Comment(self, node: cst.Comment) -> None:
        self.log.append(node.value)


def test_visit_fast_and_patched_visit_match_libcst() -> None:
    module = cst.parse_module(SAMPLES[1].read_text())
    reference, fast, patched = _Pruning(), _Pruning(), _Pruning()
    module.visit(reference)
    assert visit_fast(module, fast) is True
    with fast_visits():
        assert module.visit(patched) is module
    assert fast.log == reference.log == patched.log
    assert any(entry.startswith("#") for entry in reference.log)  # comments were visited

    class WithAttributeHook(cst.CSTVisitor):
        def visit_Call_func(self, node: cst.Call) -> None:
            pass

    assert visit_fast(module, WithAttributeHook()) is False  # falls back to libcst


@pytest.mark.parametrize("index", range(len(SAMPLES) + 1))
def test_positions_match_libcst_position_provider(index: int) -> None:
    source = _sources()[index]
    module = cst.parse_module(source)
    expected = MetadataWrapper(module, unsafe_skip_copy=True).resolve(PositionProvider)
    context = RuleContext("m.py", source, module, FileFacts.for_single_file(source, "m.py"))
    nodes = [n for n in iter_nodes(module) if n in expected and n is not module]
    assert len(nodes) > 50
    for node in nodes[:: max(1, len(nodes) // 400)]:
        r = expected[node]
        assert context.position(node) == (r.start.line, r.start.column, r.end.line, r.end.column)


def test_edits_are_minimal_and_apply_back_to_front() -> None:
    old = "a = f(x)\nb = g(y)\n"
    first = edit_between(old, "a = f(z)\nb = g(y)\n")
    second = edit_between(old, "a = f(x)\nb = h(y)\n")
    assert first is not None and second is not None
    assert (first.line, first.column, first.end_line, first.end_column, first.content) == (1, 6, 1, 7, "z")
    from jaxlint.rules._base import Fix

    text, applied = apply_edits(old, [Fix("safe", (second,)), Fix("safe", (first,))])
    assert (text, applied) == ("a = f(z)\nb = h(y)\n", 2)
    overlapping = edit_between(old, "a = q\nb = g(y)\n")
    text, applied = apply_edits(old, [Fix("safe", (first,)), Fix("safe", (overlapping,))])
    assert applied == 1  # the overlapping one waits for the next round


@pytest.mark.parametrize(
    "pattern, path, is_dir, ignored",
    [
        ("build/", "build", True, True),
        ("build/", "build", False, False),
        ("build/", "src/build/x.py", False, True),
        ("/top.py", "top.py", False, True),
        ("/top.py", "sub/top.py", False, False),
        ("*.gen.py", "a/b/c.gen.py", False, True),
        ("docs/**/*.py", "docs/a/b/c.py", False, True),
        ("docs/**/*.py", "src/docs/c.py", False, False),
        ("tmp_?.py", "tmp_1.py", False, True),
        ("[abc].py", "b.py", False, True),
        ("[!abc].py", "b.py", False, False),
    ],
)
def test_gitignore_patterns(pattern: str, path: str, is_dir: bool, ignored: bool) -> None:
    parsed = IgnorePattern.parse(pattern, "/repo")
    assert parsed is not None
    assert is_ignored([parsed], f"/repo/{path}", is_dir) is ignored


def test_gitignore_negation_last_match_wins() -> None:
    patterns = [IgnorePattern.parse(line, "/repo") for line in ("*.py", "!keep.py", "# comment", "")]
    active = [p for p in patterns if p is not None]
    assert len(active) == 2
    assert is_ignored(active, "/repo/drop.py", False) is True
    assert is_ignored(active, "/repo/keep.py", False) is False


def test_unvalidated_parse_builds_the_same_tree_and_validation_stays_on() -> None:
    for source in _sources():
        assert parse_module_unvalidated(source).deep_equals(cst.parse_module(source))
    with pytest.raises(cst.CSTValidationError):
        cst.Name("not a name")
    with pytest.raises(cst.ParserSyntaxError):
        parse_module_unvalidated("def f(:\n")


def test_child_fields_read_without_inspect_match_inspect() -> None:
    """The fast source reader finds the same visit calls as ``inspect.getsource`` for every
    libcst node class (multi-line signatures, nested comprehensions, decorators)."""
    import inspect

    import libcst as cst

    from jaxlint.rules import _walk

    compared = 0
    for name in dir(cst):
        node_class = getattr(cst, name)
        if not (isinstance(node_class, type) and issubclass(node_class, cst.CSTNode)):
            continue
        method = getattr(node_class, "_visit_and_replace_children", None)
        try:
            expected = inspect.getsource(method)
        except (OSError, TypeError):
            continue
        assert _walk._VISIT_CALL.findall(_walk._method_source(method)) == _walk._VISIT_CALL.findall(expected), name
        compared += 1
    assert compared > 150
