"""Jupyter notebooks: check the code cells as one module, report and fix cell by cell.

A notebook's code cells share one namespace (a function defined in cell 2 is jitted in cell
5), so they are joined into one Python module, each cell starting on a new line. IPython
syntax that is not Python — line magics (``%timeit f()``), shell escapes (``!pip ...``), help
(``f?``) — becomes a placeholder ``pass`` statement with the same indentation, and cell
magics (``%%bash``) skip their whole cell. Findings are mapped back to (cell, line in cell),
cells numbered from 1 in notebook order (markdown cells count, as in the Jupyter UI).

Fixes edit the cell's own source (placeholders only stand in for their line: an edit that
touches an IPython line, or crosses a cell boundary, is dropped), and the notebook file is
edited in place: only the JSON string tokens of the changed source lines are rewritten, so
line endings, a BOM, indentation, key order and ``\\u`` escapes elsewhere keep every byte.
"""

from __future__ import annotations

import bisect
import json
import re
from dataclasses import dataclass, field
from json.decoder import scanstring
from typing import Any, Callable, Sequence

from jaxlint.rules._base import Edit, Finding, Fix
from jaxlint.rules._files import line_starts, split_lines

_MAGIC = re.compile(r"^(\s*)(%|!|\?)|^\s*[\w.]+\?\??\s*$")
PLACEHOLDER_COMMENT = "# jaxlint: IPython syntax"


class NotebookError(Exception):
    """The file is not a notebook we can read (bad JSON, no cells, not a Python kernel)."""


def _placeholder(line: str) -> str:
    indent = line[: len(line) - len(line.lstrip())]
    return f"{indent}pass  {PLACEHOLDER_COMMENT}"


def to_python(text: str) -> tuple[str, frozenset[int]]:
    """A cell's source as Python, and the 0-based lines that are IPython syntax. Line count
    and every non-IPython line are kept, so (line, column) positions carry over unchanged."""
    lines = split_lines(text, keepends=True)
    if text.lstrip().startswith("%%"):  # a cell magic: the body is not Python
        return "", frozenset(range(len(lines)))
    magics = set()
    for number, line in enumerate(lines):
        if _MAGIC.match(line):
            magics.add(number)
            ending = line[len(line.rstrip("\r\n")) :]
            lines[number] = _placeholder(line) + ending
    return "".join(lines), frozenset(magics)


@dataclass
class Cell:
    index: int  # 1-based position among all cells
    source: str  # the current source (fixes edit it)
    as_list: bool  # stored as a list of lines (nbformat's usual form) or one string
    original: str = ""  # as read
    python: str = ""  # the source with IPython syntax replaced by placeholders
    magics: frozenset[int] = field(default_factory=frozenset)  # 0-based IPython lines

    def __post_init__(self) -> None:
        self.original = self.original or self.source
        self.refresh()

    def refresh(self) -> None:
        self.python, self.magics = to_python(self.source)


@dataclass
class Notebook:
    document: str  # the notebook text as read (BOM removed)
    cells: list[Cell]

    def module_source(self) -> tuple[str, list[tuple[int, int, int]]]:
        """The joined module and, per code cell, (cell index, first line, line count)."""
        parts: list[str] = []
        spans: list[tuple[int, int, int]] = []
        line = 1
        for cell in self.cells:
            text = cell.python if cell.python.endswith("\n") or not cell.python else cell.python + "\n"
            # ("x\r" + "\n" is one line break: a cell ending in a bare CR gets its "\n" here so
            # the next cell's first line cannot merge into it.)
            count = len(line_starts(text)) - 1
            spans.append((cell.index, line, count))
            parts.append(text)
            line += count
        return "".join(parts), spans


def _kernel_language(data: dict[str, Any]) -> Any:
    """The kernel language, when the metadata says it (malformed metadata says nothing)."""
    metadata = data.get("metadata")
    if not isinstance(metadata, dict):
        return None
    for key, name in (("language_info", "name"), ("kernelspec", "language")):
        table = metadata.get(key)
        if isinstance(table, dict) and table.get(name):
            return table[name]
    return None


def load_notebook(document: str) -> Notebook:
    try:
        data = json.loads(document)
    except json.JSONDecodeError as error:
        raise NotebookError(f"not valid notebook JSON (line {error.lineno}: {error.msg})") from error
    except ValueError as error:  # e.g. a number past Python's int-from-string digit limit
        raise NotebookError(f"not valid notebook JSON ({str(error).split(':')[0]})") from error
    except RecursionError as error:
        raise NotebookError("not a Jupyter notebook (JSON nested too deeply)") from error
    if not isinstance(data, dict) or not isinstance(data.get("cells"), list):
        raise NotebookError("not a Jupyter notebook (no `cells` list)")
    language = _kernel_language(data)
    if language not in (None, "python", "python3"):
        raise NotebookError(f"notebook kernel language is {language!r}, not Python")
    cells: list[Cell] = []
    for index, raw in enumerate(data["cells"], start=1):
        if not isinstance(raw, dict) or raw.get("cell_type") != "code":
            continue
        source = raw.get("source", "")
        as_list = isinstance(source, list)
        if not (isinstance(source, str) or as_list and all(isinstance(part, str) for part in source)):
            raise NotebookError(f"cell {index}: `source` must be a string or a list of strings")
        text = "".join(source) if as_list else source
        try:
            text.encode("utf-8")
        except UnicodeEncodeError as error:  # a "\ud800" escape: no Python source can hold it
            raise NotebookError(f"cell {index}: source has a lone surrogate (U+{ord(text[error.start]):04X})") from error
        cells.append(Cell(index, text, as_list))
    return Notebook(document, cells)


def locate(spans: Sequence[tuple[int, int, int]], line: int) -> tuple[int, int, int]:
    """Module line -> (cell index, line within the cell, first module line of the cell)."""
    for cell_index, first, count in spans:
        if first <= line < first + max(count, 1):
            return cell_index, line - first + 1, first
    cell_index, first, _ = spans[-1]
    return cell_index, line - first + 1, first


def map_findings(findings: Sequence[Finding], spans: Sequence[tuple[int, int, int]]) -> list[Finding]:
    """Findings on the joined module -> findings with ``cell`` and cell-relative lines."""
    if not spans:
        return list(findings)
    mapped = []
    for finding in findings:
        cell, line, first = locate(spans, finding.line)
        end_line = finding.end_line - first + 1
        fix = finding.fix
        if fix is not None:
            edits = []
            for edit in fix.edits:
                edit_cell, edit_line, edit_first = locate(spans, edit.line)
                edit_end_cell, _, _ = locate(spans, max(edit.end_line - (1 if edit.end_column == 0 and edit.end_line > edit.line else 0), edit.line))
                if edit_cell != cell or edit_end_cell != cell:
                    edits = []
                    break
                edits.append(Edit(edit_line, edit.column, edit.end_line - edit_first + 1, edit.end_column,
                                  edit.content, edit.start_offset, edit.end_offset))
            fix = Fix(fix.applicability, tuple(edits)) if edits else None
        mapped.append(
            Finding(finding.path, line, finding.column, end_line, finding.end_column, finding.code,
                    finding.name, finding.message, fix, cell)
        )
    return mapped


def apply_findings_fixes(notebook: Notebook, findings: Sequence[Finding], unsafe: bool) -> int:
    """Apply the fixes of cell-mapped findings to their cells' sources; returns how many.

    An edit is applied to the cell's real source at the same (line, column): placeholders
    only replace whole IPython lines, and an edit touching one of those is dropped. Overlapping
    edits are left for the next round (the caller re-checks and repeats).
    """
    cells = {cell.index: cell for cell in notebook.cells}
    per_cell: dict[int, list[Edit]] = {}
    for finding in findings:
        fix = finding.fix
        if fix is None or finding.cell is None or (fix.applicability == "unsafe" and not unsafe):
            continue
        if len(fix.edits) == 1:  # the engine's fixes are single minimal edits
            per_cell.setdefault(finding.cell, []).append(fix.edits[0])
    applied = 0
    for index, edits in per_cell.items():
        cell = cells[index]
        starts = line_starts(cell.source)
        spans = []
        for e in edits:
            last = e.end_line - 1 if e.end_column == 0 and e.end_line > e.line else e.end_line
            if e.end_line > len(starts) or any(line - 1 in cell.magics for line in range(e.line, last + 1)):
                continue
            spans.append((starts[e.line - 1] + e.column, starts[e.end_line - 1] + e.end_column, e.content))
        text = cell.source
        applied_from: int | None = None
        for start, end, content in sorted(spans, reverse=True):
            if applied_from is not None and end > applied_from:
                continue
            text = text[:start] + content + text[end:]
            applied_from = start
            applied += 1
        cell.source = text
        cell.refresh()
    return applied


# --- writing back: edit the JSON text in place ------------------------------------------------
_WHITESPACE = re.compile(r"[ \t\n\r]*")
_DECODER = json.JSONDecoder()


def _skip(document: str, index: int) -> int:
    return _WHITESPACE.match(document, index).end()  # type: ignore[union-attr]


def _members(document: str, index: int, on_value: Callable[[str, int], int]) -> int:
    """Walk the object starting at ``document[index] == "{"``; ``on_value(key, start)``
    returns where each value ends. Returns the end of the object."""
    index = _skip(document, index + 1)
    if document[index] == "}":
        return index + 1
    while True:
        key, index = scanstring(document, index + 1)
        index = _skip(document, _skip(document, index) + 1)  # past the colon
        index = _skip(document, on_value(key, index))
        if document[index] == "}":
            return index + 1
        index = _skip(document, index + 1)  # past the comma


def _elements(document: str, index: int, on_value: Callable[[int], int]) -> int:
    """Walk the array starting at ``document[index] == "["``; returns its end."""
    index = _skip(document, index + 1)
    if document[index] == "]":
        return index + 1
    while True:
        index = _skip(document, on_value(index))
        if document[index] == "]":
            return index + 1
        index = _skip(document, index + 1)


def _skip_value(document: str, index: int) -> int:
    return _DECODER.raw_decode(document, index)[1]


def source_tokens(document: str) -> dict[int, list[tuple[int, int]]]:
    """Per cell (1-based) the spans of its ``source`` string tokens (one for a string source,
    one per element for a list). Assumes ``document`` is valid JSON (it was loaded)."""
    found: dict[int, list[tuple[int, int]]] = {}

    def top(key: str, start: int) -> int:
        if key != "cells" or document[start] != "[":
            return _skip_value(document, start)
        position = 0

        def cell(start: int) -> int:
            nonlocal position
            position += 1
            if document[start] != "{":
                return _skip_value(document, start)
            number = position

            def member(key: str, start: int) -> int:
                if key != "source":
                    return _skip_value(document, start)
                tokens: list[tuple[int, int]] = []

                def token(start: int) -> int:
                    end = _skip_value(document, start)
                    tokens.append((start, end))
                    return end

                end = _elements(document, start, token) if document[start] == "[" else token(start)
                found[number] = tokens  # a repeated key: the last one wins, as in json.loads
                return end

            return _members(document, start, member)

        return _elements(document, start, cell)

    _members(document, _skip(document, 0), top)
    return found


def _raw_offsets(token: str) -> list[int]:
    """For a JSON string token (quotes included): the raw offset where each decoded
    character starts, plus the offset of the closing quote."""
    offsets = []
    index = 1
    end = len(token) - 1
    while index < end:
        offsets.append(index)
        if token[index] != "\\":
            index += 1
        elif token[index + 1] != "u":
            index += 2
        elif (0xD800 <= int(token[index + 2 : index + 6], 16) < 0xDC00 and token.startswith("\\u", index + 6)
              and 0xDC00 <= int(token[index + 8 : index + 12], 16) < 0xE000):
            index += 12  # a surrogate pair is one Python character
        else:
            index += 6
    offsets.append(end)
    return offsets


def _edit_token(token: str, new: str, ascii_only: bool) -> str:
    """``token`` (a JSON string) re-encoded to decode to ``new``, keeping the raw bytes of
    the common prefix and suffix (escapes included) and encoding only the changed middle."""
    old = json.loads(token)
    if old == new:
        return token
    prefix = 0
    limit = min(len(old), len(new))
    while prefix < limit and old[prefix] == new[prefix]:
        prefix += 1
    suffix = 0
    while suffix < limit - prefix and old[-1 - suffix] == new[-1 - suffix]:
        suffix += 1
    offsets = _raw_offsets(token)
    middle = json.dumps(new[prefix : len(new) - suffix], ensure_ascii=ascii_only)[1:-1]
    return token[: offsets[prefix]] + middle + token[offsets[len(old) - suffix] :]


def dump_notebook(notebook: Notebook) -> str:
    """The notebook text with the changed cells' sources edited in place: every byte outside
    the changed source lines is the original's."""
    changed = [cell for cell in notebook.cells if cell.source != cell.original]
    if not changed:
        return notebook.document
    document = notebook.document
    ascii_only = document.isascii() and "\\u" in document
    tokens = source_tokens(document)
    replacements: list[tuple[int, int, str]] = []
    for cell in changed:
        spans = tokens[cell.index]
        if not cell.as_list:
            start, end = spans[0]
            replacements.append((start, end, _edit_token(document[start:end], cell.source, ascii_only)))
            continue
        replacements.extend(_list_replacements(document, spans, cell.source, ascii_only))
    for start, end, text in sorted(replacements, reverse=True):
        document = document[:start] + text + document[end:]
    return document


def _list_replacements(
    document: str, spans: list[tuple[int, int]], new_source: str, ascii_only: bool
) -> list[tuple[int, int, str]]:
    """Edits turning the list of line tokens at ``spans`` into one that joins to
    ``new_source``: only the tokens the change touches are edited (in place), lines added
    are inserted with the list's own separator, lines removed are cut out with theirs."""
    values = [json.loads(document[s:e]) for s, e in spans]
    old_source = "".join(values)
    limit = min(len(old_source), len(new_source))
    prefix = 0
    while prefix < limit and old_source[prefix] == new_source[prefix]:
        prefix += 1
    suffix = 0
    while suffix < limit - prefix and old_source[-1 - suffix] == new_source[-1 - suffix]:
        suffix += 1
    starts = [0]
    for value in values:
        starts.append(starts[-1] + len(value))
    old_end = len(old_source) - suffix
    count = len(values)
    head = min(max(bisect.bisect_right(starts, prefix) - 1, 0), max(count - 1, 0))
    last = min(max(bisect.bisect_right(starts, old_end - 1) - 1, head), max(count - 1, 0)) if old_end > prefix else head
    segment = old_source[starts[head] : prefix] + new_source[prefix : len(new_source) - suffix]
    segment += old_source[old_end : starts[last + 1] if count else 0]
    old_middle = list(range(head, last + 1)) if count else []
    new_middle = split_lines(segment, keepends=True)
    out: list[tuple[int, int, str]] = []
    paired = min(len(old_middle), len(new_middle))
    for offset in range(paired):
        start, end = spans[old_middle[offset]]
        out.append((start, end, _edit_token(document[start:end], new_middle[offset], ascii_only)))
    if not spans:  # "[]": no token to edit around (an empty cell has nothing to fix)
        raise NotebookError("cannot edit an empty cell")
    if len(spans) > 1:
        separator = document[spans[0][1] : spans[1][0]]
    else:  # the whitespace between "[" and the only token, after a comma
        separator = "," + document[document.rfind("[", 0, spans[0][0]) + 1 : spans[0][0]]
    extra = [json.dumps(line, ensure_ascii=ascii_only) for line in new_middle[paired:]]
    if extra and head + paired > 0:  # after the last kept or edited token
        at = spans[head + paired - 1][1]
        out.append((at, at, "".join(separator + token for token in extra)))
    elif extra:  # before the first token
        at = spans[0][0]
        out.append((at, at, "".join(token + separator for token in extra)))
    removed = old_middle[paired:]  # a contiguous run of tokens, cut with one separator
    if removed:
        first, last = removed[0], removed[-1]
        if first > 0:
            out.append((spans[first - 1][1], spans[last][1], ""))
        elif last + 1 < len(spans):
            out.append((spans[0][0], spans[last + 1][0], ""))
        else:
            out.append((spans[0][0], spans[last][1], ""))
    return out
