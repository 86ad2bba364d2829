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
EXIT_INTERRUPTED = 130

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


def print_error(console: Console, message: str, details: str | None = None) -> None:
    """``error: message`` on ``console`` (stderr), then the details (a user's traceback) as is."""
    console.print(f"error: {message}", markup=False, soft_wrap=True)
    if details:
        console.print(details.rstrip(), markup=False, highlight=False, soft_wrap=True)


def exit_with_usage_error(console: Console, message: str, details: str | None = None) -> NoReturn:
    """Print ``error: message`` (and the user's traceback, if any) on stderr; exit 2."""
    print_error(console, message, details)
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


class ScriptArgsCommand(click.Command):
    """A command whose arguments after ``--`` are not its own: ``jaxlint scale solve.py --n 1k,2k
    -- cfg.yaml`` hands ``["cfg.yaml"]`` to the script as ``sys.argv[1:]``
    (``ctx.meta["script_args"]``)."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if "--" in args:
            cut = args.index("--")
            ctx.meta["script_args"] = list(args[cut + 1 :])
            args = args[:cut]
        else:
            ctx.meta["script_args"] = []
        return super().parse_args(ctx, args)


_TIME_UNITS = {"s": 1.0, "sec": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0}


class SecondsParam(click.ParamType):
    """A positive, finite number of seconds, optionally with a unit (``90``, ``60s``, ``2min``,
    ``1h``); ``nan`` and ``inf`` are refused."""

    name = "SECONDS"

    def convert(self, value: object, param: click.Parameter | None, ctx: click.Context | None) -> float:
        if isinstance(value, float) and math.isfinite(value) and value > 0:
            return value
        text = str(value).strip().lower()
        scale = 1.0
        for unit, factor in sorted(_TIME_UNITS.items(), key=lambda item: -len(item[0])):
            if text.endswith(unit) and text[: -len(unit)].strip()[-1:].isdigit():
                text, scale = text[: -len(unit)].strip(), factor
                break
        try:
            seconds = float(text) * scale
        except ValueError:
            self.fail(f"{value!r} is not a number of seconds", param, ctx)
        if not math.isfinite(seconds) or seconds <= 0:
            self.fail(f"{value!r} is not a positive, finite number of seconds", param, ctx)
        return seconds


def output_format_option(choices: list[str], help_text: str) -> Callable[[Callable[..., object]], Callable[..., object]]:
    """``--output-format`` (``--format`` kept as an alias)."""
    return click.option(
        "--output-format", "--format", "output_format", type=click.Choice(choices), default=choices[0],
        show_default=True, help=help_text,
    )


def exit_interrupted(console: Console, message: str = "interrupted") -> NoReturn:
    """Ctrl-C, or KeyboardInterrupt raised by the user's code: one line, exit 130."""
    console.print(f"error: {message}", markup=False, soft_wrap=True)
    sys.exit(EXIT_INTERRUPTED)
