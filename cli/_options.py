"""Option types shared by the commands that run user code (``scale``, ``residuals``)."""

from __future__ import annotations

import contextlib
import math
import re
import sys
from typing import Callable, Iterator, NoReturn

import click
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

EXIT_USAGE = 2

_SIZE = re.compile(r"^(?P<number>\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)(?P<suffix>[kKmM]?)$")
_SUFFIX = {"": 1, "k": 1_000, "m": 1_000_000}


def parse_size(token: str) -> int:
    """``1k`` -> 1000, ``2.5k`` -> 2500, ``1e4`` -> 10000, ``30000`` -> 30000."""
    match = _SIZE.match(token.strip())
    if match is None:
        raise ValueError(f"{token!r} is not a size (examples: 1k, 2.5k, 1e4, 30000)")
    value = float(match.group("number")) * _SUFFIX[match.group("suffix").lower()]
    if not math.isfinite(value) or value != int(value):
        raise ValueError(f"{token!r} is not a whole number")
    if value <= 0:
        raise ValueError(f"{token!r}: sizes must be positive")
    return int(value)


class SizesParam(click.ParamType):
    """A comma-separated list of at least two distinct sizes."""

    name = "SIZES"

    def convert(self, value: object, param: click.Parameter | None, ctx: click.Context | None) -> list[int]:
        if isinstance(value, list):
            return value
        tokens = [t for t in str(value).split(",") if t.strip()]
        sizes: list[int] = []
        for token in tokens:
            try:
                sizes.append(parse_size(token))
            except ValueError as error:
                self.fail(str(error), param, ctx)
        if len(set(sizes)) < 2:
            self.fail(f"{value!r} has fewer than two distinct sizes; growth needs at least two", param, ctx)
        return sorted(set(sizes))


def exit_with_usage_error(console: Console, message: str, details: str | None = None) -> NoReturn:
    """Print ``error: message`` (and the user's traceback, if any) on stderr; exit 2."""
    console.print(f"error: {message}", markup=False, soft_wrap=True)
    if details:
        console.print(details.rstrip(), markup=False, highlight=False, soft_wrap=True)
    sys.exit(EXIT_USAGE)


@contextlib.contextmanager
def size_progress(console: Console, description: str) -> Iterator[Callable[[str, int], None]]:
    """A transient progress bar on stderr (terminals only); yields ``advance(what, n)``."""
    with Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
        disable=not console.is_terminal,
    ) as bar:
        task = bar.add_task(description, total=None)

        def advance(what: str, n: int) -> None:
            bar.update(task, advance=1, description=f"{what} n={n:,}")

        yield advance
