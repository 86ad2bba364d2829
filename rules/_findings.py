"""The result types: findings, fixes and edits (no libcst here: the cached path loads these
without importing the parser)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

SYNTAX_ERROR_CODE = "JL000"
SYNTAX_ERROR_NAME = "syntax-error"


@dataclass(frozen=True)
class Edit:
    """Replace the source between (line, column) and (end_line, end_column) with ``content``.

    Lines are 1-based, columns 0-based character offsets (libcst's and ast's convention);
    output formats convert columns to 1-based. The edit is the minimal changed region.
    """

    line: int
    column: int
    end_line: int
    end_column: int
    content: str
    start_offset: int = field(default=0, compare=False)
    end_offset: int = field(default=0, compare=False)


@dataclass(frozen=True)
class Fix:
    """A rewrite for one finding. ``applicability`` is "safe" (applied by ``--fix``) or
    "unsafe" (only with ``--unsafe-fixes``: it may change behaviour in rare cases)."""

    applicability: Literal["safe", "unsafe"]
    edits: tuple[Edit, ...]


@dataclass(frozen=True)
class Finding:
    """One problem in one file, ready for output.

    ``line``/``end_line`` are 1-based; ``column``/``end_column`` 0-based (ruff prints them
    1-based, and so do jaxlint's output formats). For notebooks ``cell`` is the 1-based cell
    number and lines count within that cell.
    """

    path: str
    line: int
    column: int
    end_line: int
    end_column: int
    code: str
    name: str
    message: str
    fix: Fix | None = None
    cell: int | None = None

    @property
    def sort_key(self) -> tuple:
        return (self.path, self.cell or 0, self.line, self.column, self.code)
