"""Terminal manners shared by every command: colour, width and the one error prefix.

- Colour only on a terminal; none when piped, with ``NO_COLOR`` set (https://no-color.org),
  or ``TERM=dumb``; ``FORCE_COLOR`` forces it (rich reads both).
- Piped output (CI logs) is never wrapped at 80 columns: ``COLUMNS`` if set, else unlimited.
- Errors read ``error: ...`` and warnings ``warning: ...``, on stderr, from every command.
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from rich.console import Console

# rich needs *some* width; piped output is as wide as its longest line.
UNWRAPPED_WIDTH = 10_000


def _columns() -> int | None:
    value = os.environ.get("COLUMNS", "").strip()
    return int(value) if value.isdigit() and int(value) > 0 else None


def colour_enabled(stream: object) -> bool:
    if os.environ.get("NO_COLOR"):
        return False
    if os.environ.get("FORCE_COLOR"):
        return True
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty()) and os.environ.get("TERM") != "dumb"


def make_console(stderr: bool = False) -> "Console":
    """A rich console for stdout (or stderr) following the rules above."""
    from rich.console import Console

    stream = sys.stderr if stderr else sys.stdout
    terminal = bool(getattr(stream, "isatty", None) and stream.isatty())
    width = None if terminal else (_columns() or UNWRAPPED_WIDTH)
    colour = colour_enabled(stream)
    return Console(
        stderr=stderr,
        highlight=False,
        width=width,
        color_system="auto" if colour else None,
        force_terminal=True if colour and not terminal else None,
        no_color=not colour,
    )


def error(message: str) -> None:
    """``error: message`` on stderr (the one prefix every command uses)."""
    sys.stderr.write(f"error: {message}\n")


def warning(message: str) -> None:
    sys.stderr.write(f"warning: {message}\n")
