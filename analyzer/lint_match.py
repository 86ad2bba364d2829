"""Name the lint rule behind a growing line: ``jaxlint.rules`` run statically on that file.

A flag says *where* the program grows (``diffrax/_integrate.py:785``); the lint rules say
*what the pattern is and how to rewrite it*. For each flagged line we lint the file it is
in (site-packages files included: the path shown is relative to site-packages, resolved
back here) and keep the findings on that line, with the rewrite as before/after text.
Nothing is executed: this is the same static check as ``jaxlint check``.
"""

from __future__ import annotations

import os
import site
import sys
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Iterable


@dataclass(frozen=True)
class LineFinding:
    """A lint finding on a flagged line, with its rewrite (if the rule has one)."""

    code: str
    name: str
    message: str
    applicability: str | None = None  # "safe" / "unsafe" when there is a fix
    before: str | None = None  # the source line(s) the fix changes
    after: str | None = None  # the same lines after the fix

    def to_json(self) -> dict[str, Any]:
        fix = None if self.after is None else {"applicability": self.applicability, "before": self.before, "after": self.after}
        return {"code": self.code, "name": self.name, "message": self.message, "fix": fix}


LineFindings = dict[tuple[str, int], list[LineFinding]]


def _search_roots() -> list[str]:
    roots = [os.getcwd()]
    try:
        roots += site.getsitepackages()
        roots.append(site.getusersitepackages())
    except AttributeError:  # some embedded interpreters have no site helpers
        pass
    roots += [p for p in sys.path if p]
    seen: set[str] = set()
    return [r for r in roots if not (r in seen or seen.add(r))]


def resolve_source(shown: str) -> str | None:
    """``diffrax/_integrate.py`` (as reports show it) -> the file on disk, or None."""
    if os.path.isabs(shown):
        return shown if os.path.isfile(shown) else None
    for root in _search_roots():
        candidate = os.path.join(root, shown)
        if os.path.isfile(candidate):
            return candidate
    return None


def _preview(source: str, fix: Any) -> tuple[str, str] | None:
    """The lines a fix touches, before and after (edits applied right to left)."""
    edits = sorted(fix.edits, key=lambda e: (e.line, e.column), reverse=True)
    if not edits:
        return None
    lines = source.splitlines()
    first, last = min(e.line for e in edits), max(e.end_line for e in edits)
    if first < 1 or last > len(lines):
        return None
    before = "\n".join(lines[first - 1 : last])
    after_lines = lines[first - 1 : last]
    text = "\n".join(after_lines)
    starts = [0]
    for line in after_lines[:-1]:
        starts.append(starts[-1] + len(line) + 1)
    for edit in edits:
        begin = starts[edit.line - first] + edit.column
        end = starts[edit.end_line - first] + edit.end_column
        text = text[:begin] + edit.content + text[end:]
    return before, text


@lru_cache(maxsize=64)
def _file_findings(path: str) -> tuple[tuple[tuple[int, int, LineFinding], ...], str | None]:
    """(first line, last line, finding) of every lint finding in one file, and the reason
    when the file could not be linted (cached per path)."""
    try:
        from jaxlint.rules import check_source
    except ImportError as error:  # the rules are an optional part in a partial install
        return (), f"jaxlint.rules is not importable ({error})"
    try:
        with open(path, encoding="utf-8") as handle:
            source = handle.read()
        # The path as the user would write it: rule messages quote it ("jitted at f.py:12").
        shown = os.path.relpath(path) if not os.path.relpath(path).startswith(os.pardir) else path
        findings = check_source(source, path=shown)
    except (OSError, UnicodeDecodeError) as error:
        return (), f"cannot read {path}: {error}"
    except Exception as error:  # a crashing rule must not cost the user the scale report
        return (), f"linting {path} failed: {type(error).__name__}: {error}"
    out = []
    for finding in findings:
        preview = _preview(source, finding.fix) if finding.fix is not None else None
        out.append(
            (
                finding.line,
                finding.end_line,
                LineFinding(
                    code=finding.code,
                    name=finding.name,
                    message=finding.message,
                    applicability=finding.fix.applicability if preview else None,
                    before=preview[0] if preview else None,
                    after=preview[1] if preview else None,
                ),
            )
        )
    return tuple(out), None


_PREWARMED: dict[str, Any] = {}  # path -> Future of _file_findings(path), started early
_EXECUTOR: Any = None


def prewarm(shown_paths: Iterable[str]) -> None:
    """Start linting these files in a background thread, before the flags are final.

    Linting a library file is slow (diffrax/_integrate.py: ~2.7 s of CPU), and the lines
    that grow are known as soon as two sizes are measured; while a child process lowers the
    largest n, this process is idle, so the lint runs beside it on the second core.
    """
    global _EXECUTOR
    for shown in shown_paths:
        path = resolve_source(shown)
        if path is None or path in _PREWARMED:
            continue
        if _EXECUTOR is None:
            from concurrent.futures import ThreadPoolExecutor

            _EXECUTOR = ThreadPoolExecutor(max_workers=1, thread_name_prefix="jaxlint-lint")
        _PREWARMED[path] = _EXECUTOR.submit(_file_findings, path)


def findings_for_lines(lines: Iterable[tuple[str, int]], problems: list[str] | None = None) -> LineFindings:
    """Lint findings on each (shown path, line); lines without any are left out.

    Files that cannot be linted are skipped; why is appended to ``problems`` (once per file).
    """
    matched: LineFindings = {}
    for shown, line in sorted(set(lines)):
        path = resolve_source(shown)
        if path is None:
            continue
        started = _PREWARMED.get(path)
        if started is not None:
            started.result()  # the same result lands in _file_findings' cache
        findings, problem = _file_findings(path)
        if problem is not None and problems is not None and problem not in problems:
            problems.append(problem)
        hits = [finding for first, last, finding in findings if first <= line <= last]
        if hits:
            matched[(shown, line)] = hits
    return matched


def flagged_lines(results: Iterable[Any]) -> list[tuple[str, int]]:
    """Every (path, line) named by a flag of any case result."""
    return [
        (line.path, line.line)
        for result in results
        if result.verdict is not None
        for flag in result.verdict.flags
        for line in flag.lines
    ]
