"""``jaxlint scale``: lower a target at several sizes n and flag what grows."""

from __future__ import annotations

import json
import sys

import click
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from jaxlint.analyzer.cases import TargetError, parse_target
from jaxlint.analyzer.fit import ORDERS
from jaxlint.analyzer.lower import PLATFORMS
from jaxlint.analyzer.report import render_table, to_json
from jaxlint.analyzer.scale import run_scale

from ._options import SizesParam

EXIT_OK, EXIT_FLAGGED, EXIT_USAGE = 0, 1, 2


@click.command()
@click.argument("target")
@click.option("--n", "sizes", type=SizesParam(), required=True, help="Sizes to lower at, e.g. 1k,10k,30k (at least two).")
@click.option(
    "--max-order",
    type=click.Choice([o for o in ORDERS if o != "worse"]),
    default="constant",
    show_default=True,
    help="Growth allowed for structural figures (ops, branches, loops, calls); other figures may grow linearly.",
)
@click.option("--format", "output_format", type=click.Choice(["table", "json"]), default="table", show_default=True)
@click.option("--timeout", type=click.FloatRange(min=0, min_open=True), default=None, help="Seconds allowed per n (subprocess mode).")
@click.option("--in-process", is_flag=True, help="Lower every n in this process: faster, but timings share caches.")
@click.option("--platform", type=click.Choice(PLATFORMS), default=None, help="Lower for this platform (default: this machine's).")
def scale(target: str, sizes: list[int], max_order: str, output_format: str, timeout: float | None, in_process: bool, platform: str | None) -> None:
    """Lower TARGET at each size n, fit how the program grows, and flag growth.

    TARGET is FILE.py::NAME, where NAME(n) returns (fn, args) or (fn, args, kwargs),
    or FILE.py to run every function marked @jaxlint.case.

    This RUNS your code (it imports FILE.py and calls NAME(n), like pytest does);
    `jaxlint check` is the command that never does.

    Exit codes: 0 nothing grew past --max-order, 1 a figure was flagged, 2 usage or user-code error.
    """
    err = Console(stderr=True)
    try:
        parsed = parse_target(target)
    except TargetError as error:
        err.print(f"error: {error}", markup=False, soft_wrap=True)
        sys.exit(EXIT_USAGE)

    with Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
        console=err,
        transient=True,
        disable=not err.is_terminal,
    ) as bar:
        task = bar.add_task("lowering", total=None)

        def advance(case: str, n: int) -> None:
            bar.update(task, advance=1, description=f"{case} n={n:,}")

        try:
            results = run_scale(
                parsed, sizes, in_process=in_process, timeout=timeout, platform=platform,
                max_order=max_order, progress=advance,
            )
        except TargetError as error:
            bar.stop()
            err.print(f"error: {error}", markup=False, soft_wrap=True)
            if error.details:
                err.print(error.details.rstrip(), markup=False, highlight=False, soft_wrap=True)
            sys.exit(EXIT_USAGE)

    if output_format == "json":
        click.echo(json.dumps(to_json(results), indent=2))
    else:
        render_table(results, Console(highlight=False))
    if any(r.status == "error" for r in results):
        for r in results:
            if r.status == "error" and output_format == "json":
                err.print(f"error: {r.error}", markup=False, soft_wrap=True)
        sys.exit(EXIT_USAGE)
    sys.exit(EXIT_FLAGGED if any(r.status == "fail" for r in results) else EXIT_OK)
