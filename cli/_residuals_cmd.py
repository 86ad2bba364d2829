"""``jaxlint residuals``: what reverse mode stores for the backward pass, as n grows, per adjoint."""

from __future__ import annotations

import json

import click
from rich.console import Console

from jaxlint._console import make_console
from jaxlint.analyzer.adjoints import DEFAULT_BACKSOLVE_RTOL, DEFAULT_CHECKPOINTS, RANKINGS, adjoint_runner
from jaxlint.analyzer.cases import TargetError, parse_target
from jaxlint.analyzer.fit import ORDERS
from jaxlint.analyzer.residual_growth import DEFAULT_MAX_ORDER, run_residuals
from jaxlint.analyzer.residual_report import render_table, to_json, to_markdown

from ._options import (
    SecondsParam, SizesParam, exit_interrupted, exit_with_usage_error, output_format_option, parse_size, print_error, size_progress,
)

EXIT_OK, EXIT_FLAGGED, EXIT_USAGE = 0, 1, 2


class CountsParam(click.ParamType):
    """A comma-separated list of one or more positive counts (``8,64``, ``1k``)."""

    name = "COUNTS"

    def convert(self, value: object, param: click.Parameter | None, ctx: click.Context | None) -> list[int]:
        if isinstance(value, list):
            return value
        counts: list[int] = []
        for token in (t for t in str(value).split(",") if t.strip()):
            try:
                counts.append(parse_size(token))
            except ValueError as error:
                self.fail(str(error), param, ctx)
        if not counts:
            self.fail(f"{value!r} names no count", param, ctx)
        return sorted(set(counts))


@click.command()
@click.argument("targets", nargs=-1, required=True, metavar="TARGET...")
@click.option("--n", "sizes", type=SizesParam(), required=True, help="Sizes (steps or save points), e.g. 100,500,2k.")
@click.option("--compile", "compile_", is_flag=True, help="Also compile the gradient and report XLA's temp bytes.")
@click.option("--adjoints", is_flag=True, help="Re-measure with each adjoint and compare gradients; NAME must take an `adjoint` keyword.")
@click.option(
    "--checkpoints", type=CountsParam(), default=",".join(map(str, DEFAULT_CHECKPOINTS)), show_default=True,
    help="Checkpoint counts tried for RecursiveCheckpointAdjoint with --adjoints.",
)
@click.option(
    "--backsolve-rtol", type=click.FloatRange(min=0, min_open=True), default=DEFAULT_BACKSOLVE_RTOL, show_default=True,
    help="Relative gradient difference allowed for BacksolveAdjoint (an approximation of the exact gradient).",
)
@click.option(
    "--rank-by", type=click.Choice(RANKINGS), default="peak", show_default=True,
    help="How --adjoints ranks: peak = the compiled gradient's peak memory at the largest n (compiles it once "
    "per adjoint); residuals = residual bytes only (no compile; misses the backward pass's own buffers).",
)
@click.option(
    "--max-order", type=click.Choice([o for o in ORDERS if o != "worse"]), default=DEFAULT_MAX_ORDER, show_default=True,
    help="Growth allowed for residual memory; `constant` asks for O(1) memory in n.",
)
@click.option("--largest", type=click.IntRange(min=0), default=5, show_default=True, help="How many of the largest residuals to list.")
@output_format_option(["table", "json", "markdown"], "table (terminal), json (schema jaxlint.residuals/1), markdown (a PR comment).")
@click.option("--timeout", type=SecondsParam(), default=None,
              help="Seconds allowed for everything the user's code does (running it, tracing and compiling every n).")
def residuals(
    targets: tuple[str, ...], sizes: list[int], compile_: bool, adjoints: bool, checkpoints: list[int], backsolve_rtol: float,
    rank_by: str, max_order: str, largest: int, output_format: str, timeout: float | None,
) -> None:
    """Measure what reverse mode saves for the backward pass of TARGET at each size n.

    TARGET is FILE.py::NAME, where NAME(n) returns (fn, args) or (fn, args, kwargs);
    FILE.py to run every function marked @jaxlint.case; or a plain solve script (no
    case marked): each of its jaxlint.solver / diffrax diffeqsolve call sites is
    re-built with n save points. The gradient taken is that of the sum of fn's
    floating outputs with respect to the floating-point arrays in args (kwargs are
    held fixed); for a script call, of the solution's ys with respect to terms, y0
    and args.

    Per n: residual bytes (arguments left out) and count, the largest residuals
    with their source lines; with --compile, the compiled gradient's temp and
    peak bytes.
    Each figure's growth is fitted; growth beyond --max-order (default linear:
    memory ∝ steps is what a plain scan costs) is flagged. --max-order constant
    flags any growth.

    --adjoints: the case is re-run with RecursiveCheckpointAdjoint (default and
    --checkpoints), BacksolveAdjoint and DirectAdjoint (NAME must take an
    `adjoint` keyword; a script's call has it swapped in), from diffrax if the
    adjoint's default is a diffrax one, else from jaxlint.solver. Gradients are
    compared (not for script calls, captured as shapes only) and the cheapest
    agreeing adjoint is named with its trade-off. Cheapest means the lowest peak
    memory of the compiled gradient at the largest n (each adjoint's gradient is
    compiled once for it; --rank-by residuals skips that and ranks by residual
    bytes, which miss what the backward pass allocates, e.g. DirectAdjoint's
    per-step buffers). Save times (arrays passed as SaveAt(ts=...)) are never
    differentiated; pass any other array as a keyword to hold it fixed.

    This RUNS your code (it imports FILE.py and calls NAME(n), or runs the script,
    and traces the gradient; --compile and --adjoints also compile it, and
    --adjoints runs it). `jaxlint check` never does.

    Exit codes: 0 ok, 1 a figure grew past --max-order or an exact adjoint's
    gradient disagreed, 2 usage or user-code error (including a function that is
    not differentiable, an exit, a crash or --timeout), 130 interrupted.
    """
    from jaxlint.analyzer.guard import Activity, UserExit, exit_now, guarded

    err = Console(stderr=True)
    parsed = []
    for target in targets:
        try:
            parsed.append(parse_target(target))
        except TargetError as error:
            exit_with_usage_error(err, str(error))

    runner = (
        adjoint_runner(checkpoints=checkpoints, backsolve_rtol=backsolve_rtol, compile=compile_, rank_by=rank_by, largest=largest)
        if adjoints else None
    )
    # Everything the user's code does runs here under one watchdog (--timeout: a missed
    # deadline ends the process with exit 2), with its prints on stderr.
    results = []
    target_failed = False
    activity = Activity("running the user's code")
    try:
        with size_progress(err, "tracing gradients") as advance, guarded(timeout, activity):
            for target in parsed:
                activity.text = f"measuring {target}"
                try:
                    results += run_residuals(
                        target, sizes, compile=compile_, max_order=max_order, largest=largest, adjoints=runner, progress=advance
                    )
                except TargetError as error:
                    target_failed = True
                    print_error(err, str(error), error.details)
    except UserExit as exit_:
        exit_with_usage_error(err, f"{activity.text}: the user's code called os._exit({exit_.code})")
    except SystemExit as exit_:
        exit_with_usage_error(err, f"{activity.text}: the user's code called sys.exit({exit_.code!r})")
    except KeyboardInterrupt:
        exit_interrupted(err)
    if not results:
        exit_now(EXIT_USAGE)

    if output_format == "json":
        click.echo(json.dumps(to_json(results, max_order), indent=2))
    elif output_format == "markdown":
        click.echo(to_markdown(results), nl=False)
    else:
        # Piped or redirected output has no terminal to fit: give the adjoint table room.
        render_table(results, make_console())  # colour on a terminal only; piped: never wrapped at 80 columns
    if target_failed or any(r.status == "error" for r in results):
        if output_format != "table":
            for r in results:
                if r.status == "error":
                    err.print(f"error: {r.error}", markup=False, soft_wrap=True)
        exit_now(EXIT_USAGE)
    exit_now(EXIT_FLAGGED if any(r.status == "fail" for r in results) else EXIT_OK)
