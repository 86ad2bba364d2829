"""Stage 4 — attribute: which source line each op comes from.

An op's location lists its Python frames innermost first, e.g.
``loc("jit(f)/stack"(callsite("f"("solve.py":8:10) at "<module>"("solve.py":15:5))))``.
We charge each op to the first frame outside jax/jaxlib/equinox internals (the line a user
can change). Ops inside a nested jit carry frames only up to that jit's boundary; when none
of them is outside the internals, the op borrows the frame of its ``func.call`` site.

Locations repeat heavily (one per traced equation, shared by every op it lowered to), so
parsing is cached per location string; a 30k-op module has a few hundred distinct ones.
"""

from __future__ import annotations

import os
import re
import site
import sys
import sysconfig
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache

from .walk import ProgramWalk

_FRAME = re.compile(r'"((?:[^"\\]|\\.)*)":(\d+):(\d+)')

# Packages whose frames are never the line to blame: the tracer's own machinery, and the
# drivers that sit below the user's call when it runs in-process (the CLI, pytest).
_INTERNAL_PACKAGES = ("jax", "jaxlib", "equinox", "jaxtyping", "click", "_pytest", "pluggy")


@dataclass(frozen=True, order=True)
class SourceLine:
    """A file and line; ``path`` is shown relative to site-packages or the working directory."""

    path: str
    line: int

    def __str__(self) -> str:
        return f"{self.path}:{self.line}"


def _site_roots() -> tuple[str, ...]:
    roots = set(site.getsitepackages()) | {site.getusersitepackages()}
    roots |= {p for p in sys.path if p.endswith(("site-packages", "dist-packages"))}
    return tuple(sorted((os.path.join(os.path.realpath(r), "") for r in roots), key=len, reverse=True))


_SITE_ROOTS = _site_roots()
_STDLIB = os.path.join(os.path.realpath(sysconfig.get_paths()["stdlib"]), "")
_ANALYZER_DIR = os.path.join(os.path.dirname(os.path.realpath(__file__)), "")
_CLI_DIR = os.path.join(os.path.realpath(os.path.join(_ANALYZER_DIR, "..", "cli")), "")


@lru_cache(maxsize=None)
def display_path(path: str) -> str:
    """``.../site-packages/diffrax/_integrate.py`` -> ``diffrax/_integrate.py``; cwd-relative otherwise."""
    real = os.path.realpath(path) if os.path.isabs(path) else path
    for root in _SITE_ROOTS:
        if real.startswith(root):
            return real[len(root) :]
    cwd = os.path.join(os.getcwd(), "")
    if real.startswith(cwd):
        return real[len(cwd) :]
    return path


@lru_cache(maxsize=None)
def is_internal(path: str) -> bool:
    """True for frames of jax/jaxlib/equinox, the standard library and jaxlint's own driver."""
    if path.startswith("<") and path != "<stdin>":  # <frozen runpy>, <string>, ...
        return True
    real = os.path.realpath(path) if os.path.isabs(path) else path
    if real.startswith((_ANALYZER_DIR, _CLI_DIR)):
        return True
    if real.startswith(_STDLIB) and "site-packages" not in real[len(_STDLIB) :]:
        return True
    shown = display_path(path)
    top = shown.split("/", 1)[0]
    return top in _INTERNAL_PACKAGES and shown != path


@dataclass(frozen=True)
class Frames:
    """The frames of one location, innermost first, and the line to blame (or None)."""

    frames: tuple[SourceLine, ...]
    blamed: SourceLine | None


@lru_cache(maxsize=None)
def _is_driver(path: str) -> bool:
    """jaxlint's own frames: everything from here outwards called the traced function."""
    real = os.path.realpath(path) if os.path.isabs(path) else path
    return real.startswith((_ANALYZER_DIR, _CLI_DIR))


@lru_cache(maxsize=65536)
def parse_location(location: str) -> Frames:
    raw = _FRAME.findall(location)
    # Frames outside the call jaxlint made (its driver, and whatever ran jaxlint: the console
    # script, click, pytest) are never to blame: cut the stack at jaxlint's own frame. An op
    # whose frames are all out there (a hoisted literal) borrows its call site's line instead.
    cut = next((i for i, (path, _, _) in enumerate(raw) if _is_driver(path)), len(raw))
    frames = tuple(SourceLine(display_path(path), int(line)) for path, line, _ in raw)
    blamed = next(
        (frame for frame, (path, _, _) in zip(frames[:cut], raw[:cut]) if not is_internal(path)), None
    )
    return Frames(frames, blamed)


@lru_cache(maxsize=256)
def _loops(path: str) -> tuple[tuple[int, int, int], ...]:
    """(loop line, first body line, last body line) of every Python ``for``/``while`` in a file."""
    import ast

    try:
        with open(path, encoding="utf-8") as handle:
            tree = ast.parse(handle.read(), filename=path)
    except (OSError, SyntaxError, UnicodeDecodeError, ValueError):
        return ()
    spans = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.For, ast.AsyncFor, ast.While)) and node.body:
            end = max(getattr(child, "end_lineno", None) or child.lineno for child in node.body)
            spans.append((node.lineno, node.body[0].lineno, end))
    return tuple(spans)


@lru_cache(maxsize=None)
def _users_file(path: str) -> bool:
    """Loops are looked up in the user's own files only (not installed packages: a library's
    fixed loops over stages are not the user's to change, and parsing them costs)."""
    real = os.path.realpath(path) if os.path.isabs(path) else path
    return not is_internal(path) and not real.startswith(_SITE_ROOTS) and os.path.isfile(real)


@lru_cache(maxsize=65536)
def loop_lines(location: str) -> tuple[SourceLine, ...]:
    """The Python loops that were running when the op at ``location`` was traced: every user
    frame (the op's own line and its callers', up to jaxlint's) inside a loop's body. A loop
    unrolls its whole body, so its line is charged with all of it as well."""
    raw = _FRAME.findall(location)
    cut = next((i for i, (path, _, _) in enumerate(raw) if _is_driver(path)), len(raw))
    found: dict[SourceLine, None] = {}
    for path, line_text, _ in raw[:cut]:
        if not _users_file(path):
            continue
        line = int(line_text)
        for loop_line, first, last in _loops(os.path.realpath(path) if os.path.isabs(path) else path):
            if first <= line <= last:
                found[SourceLine(display_path(path), loop_line)] = None
    return tuple(found)


# Ops whose every frame is internal, even after borrowing from call sites.
UNKNOWN_LINE = SourceLine("<no user frame>", 0)

LineOps = dict[SourceLine, Counter[str]]

# The pseudo op kind under which a line's dense-constant bytes are kept (see attribute_lines).
CONSTANT_BYTES_KEY = "constant_bytes"


def attribute_lines(walk: ProgramWalk) -> LineOps:
    """Inlined op counts per blamed source line: ``{SourceLine: Counter(op name -> count)}``.

    Consistent with the ``ops_inlined`` figure: each call site charges its callee's ops once,
    to the callee's own lines, or to the call site's line where the callee has none. A
    constant with no user frame of its own (jax hoists literals to the jit's frame) is
    charged to the line of the op that uses it. Each line's dense-constant bytes are kept
    under the pseudo op :data:`CONSTANT_BYTES_KEY` (not an op: callers leave it out of op counts).
    """
    functions = walk.functions
    memo: dict[str, dict[SourceLine | None, Counter[str]]] = {}

    def lines_of(name: str) -> dict[SourceLine | None, Counter[str]]:
        if name in memo:
            return memo[name]
        body = functions[name]
        lines: dict[SourceLine | None, Counter[str]] = {}
        for (location, op_name), count in body.located_ops.items():
            blamed = parse_location(location).blamed
            lines.setdefault(blamed, Counter())[op_name] += count
            for loop in loop_lines(location):
                if loop != blamed:
                    lines.setdefault(loop, Counter())[op_name] += count
        for (location, user, size), count in body.constants.items():
            blamed = parse_location(location).blamed or (parse_location(user).blamed if user else None)
            ops = lines.setdefault(blamed, Counter())
            ops["stablehlo.constant"] += count
            if size:
                ops[CONSTANT_BYTES_KEY] += size * count
        for site_ in body.calls:
            if site_.callee not in functions:
                continue
            call_line = parse_location(site_.location).blamed
            for blamed, ops in lines_of(site_.callee).items():
                target = blamed if blamed is not None else call_line
                lines.setdefault(target, Counter()).update(ops)
        memo[name] = lines
        return lines

    result: LineOps = {}
    for blamed, ops in lines_of(walk.entry).items():
        result.setdefault(blamed if blamed is not None else UNKNOWN_LINE, Counter()).update(ops)
    return result
