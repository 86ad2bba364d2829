"""Jupyter notebooks: check the code cells as one module, report and fix cell by cell.

A notebook's code cells share one namespace (a function defined in cell 2 is jitted in cell
5), so they are joined into one Python module, each cell starting on a new line. IPython
syntax that is not Python — line magics (``%timeit f()``), shell escapes (``!pip ...``), help
(``f?``) — becomes a placeholder ``pass`` statement with the same indentation, and cell
magics (``%%bash``) skip their whole cell. Findings are mapped back to (cell, line in cell),
cells numbered from 1 in notebook order (markdown cells count, as in the Jupyter UI).

Fix edits are mapped to their cell and applied to that cell's source; an edit that would
cross a cell boundary is dropped. The notebook is written back with its original JSON
indentation and key order.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any, Sequence

from jaxlint.rules._base import Edit, Finding, Fix

_MAGIC = re.compile(r"^(\s*)(%|!|\?)|^\s*[\w.]+\?\??\s*$")


class NotebookError(Exception):
    """The file is not a notebook we can read (bad JSON, no cells, not a Python kernel)."""


@dataclass
class Cell:
    index: int  # 1-based position among all cells
    source: str  # as stored in the notebook
    as_list: bool  # stored as a list of lines (nbformat's usual form) or one string
    python: str = ""  # the source with IPython syntax replaced by placeholders
    magics: dict[int, str] = field(default_factory=dict)  # 0-based line -> original line


@dataclass
class Notebook:
    data: dict[str, Any]
    cells: list[Cell]
    indent: int | None
    trailing_newline: bool

    def module_source(self) -> tuple[str, list[tuple[int, int, int]]]:
        """The joined module and, per code cell, (cell index, first line, line count)."""
        parts: list[str] = []
        spans: list[tuple[int, int, int]] = []
        line = 1
        for cell in self.cells:
            text = cell.python if cell.python.endswith("\n") or not cell.python else cell.python + "\n"
            count = text.count("\n")
            spans.append((cell.index, line, count))
            parts.append(text)
            line += count
        return "".join(parts), spans


def _placeholder(line: str) -> str:
    indent = line[: len(line) - len(line.lstrip())]
    return f"{indent}pass  # jaxlint: IPython syntax"


def load_notebook(document: str) -> Notebook:
    try:
        data = json.loads(document)
    except json.JSONDecodeError as error:
        raise NotebookError(f"not valid notebook JSON (line {error.lineno}: {error.msg})") from error
    if not isinstance(data, dict) or not isinstance(data.get("cells"), list):
        raise NotebookError("not a Jupyter notebook (no `cells` list)")
    metadata = data.get("metadata") or {}
    language = (metadata.get("language_info") or {}).get("name") or (metadata.get("kernelspec") or {}).get("language")
    if language not in (None, "python", "python3"):
        raise NotebookError(f"notebook kernel language is {language!r}, not Python")
    cells: list[Cell] = []
    for index, raw in enumerate(data["cells"], start=1):
        if not isinstance(raw, dict) or raw.get("cell_type") != "code":
            continue
        source = raw.get("source", "")
        as_list = isinstance(source, list)
        text = "".join(source) if as_list else str(source)
        cell = Cell(index, text, as_list)
        if text.lstrip().startswith("%%"):
            cell.python = ""  # a cell magic: the body is not Python
            cell.magics = {i: line for i, line in enumerate(text.splitlines(keepends=True))}
        else:
            lines = text.splitlines(keepends=True)
            for number, line in enumerate(lines):
                if _MAGIC.match(line):
                    cell.magics[number] = line
                    ending = line[len(line.rstrip("\r\n")) :]
                    lines[number] = _placeholder(line) + ending
            cell.python = "".join(lines)
        cells.append(cell)
    stripped = document.rstrip(" \t")
    indent_match = re.search(r"^\{\s*\n(\s*)\"", document)
    indent = len(indent_match.group(1)) if indent_match else None
    return Notebook(data, cells, indent, stripped.endswith("\n"))


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
    """Apply the fixes of cell-mapped findings to their cells' Python text; returns how many.

    Overlapping edits are left for the next round (the caller re-checks and repeats).
    """
    from jaxlint.rules._fix import _line_starts

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
        starts = _line_starts(cell.python)
        spans = sorted(
            ((starts[e.line - 1] + e.column, starts[e.end_line - 1] + e.end_column, e.content) for e in edits),
            reverse=True,
        )
        text = cell.python
        applied_from: int | None = None
        for start, end, content in spans:
            if applied_from is not None and end > applied_from:
                continue
            text = text[:start] + content + text[end:]
            applied_from = start
            applied += 1
        cell.python = text
    return applied


def dump_notebook(notebook: Notebook) -> str:
    """The notebook JSON with every code cell's source taken from its Python text (magic
    placeholders restored to the original IPython lines)."""
    raw_cells = notebook.data["cells"]
    for cell in notebook.cells:
        if cell.source.lstrip().startswith("%%"):
            continue
        originals = iter(cell.magics[number] for number in sorted(cell.magics))
        restored = []
        for line in cell.python.splitlines(keepends=True):
            # Placeholders keep their order whatever fixes did to the lines around them.
            if line.rstrip("\r\n").endswith("# jaxlint: IPython syntax"):
                line = next(originals, line)
            restored.append(line)
        text = "".join(restored)
        raw_cells[cell.index - 1]["source"] = text.splitlines(keepends=True) if cell.as_list else text
    dumped = json.dumps(notebook.data, indent=notebook.indent, ensure_ascii=False)
    return dumped + ("\n" if notebook.trailing_newline else "")
