"""``jaxlint scale``: lower a target at several sizes n and flag what grows."""

from __future__ import annotations

import json
import sys
from typing import NoReturn

import click
from rich.console import Console

from jaxlint.analyzer.cases import TargetError, parse_target
from jaxlint.analyzer.compile import DEFAULT_COMPILE_TIMEOUT
from jaxlint.analyzer.fit import ORDERS
from jaxlint.analyzer.lower import PLATFORMS

from ._options import SizesParam, exit_with_usage_error, size_progress

EXIT_OK, EXIT_FLAGGED, EXIT_USAGE = 0, 1, 2
FORMATS = ["table", "json", "markdown", "github"]


def _tolerance(ctx: click.Context, param: click.Parameter, value: str) -> float:
    from jaxlint.analyzer.baseline import parse_tolerance

    try:
        return parse_tolerance(value)
    except ValueError as error:
        raise click.BadParameter(str(error), ctx, param) from None


@click.command()
@click.argument("target")
@click.option("--n", "sizes", type=SizesParam(), required=True, help="Sizes to lower at, e.g. 1k,10k,30k (at least two).")
@click.option(
    "--max-order",
    type=click.Choice([o for o in ORDERS if o != "worse"]),
    default="constant",
    show_default=True,
    help="Growth allowed for structural figures (ops, branches, loops, calls, runs); other figures may grow linearly.",
)
@click.option("--format", "output_format", type=click.Choice(FORMATS), default="table", show_default=True,
              help="table (terminal), json (schema jaxlint.scale/1), markdown (a PR comment), github (workflow annotations).")
@click.option("--timeout", type=click.FloatRange(min=0, min_open=True), default=None, help="Seconds allowed to lower each n (subprocess mode).")
@click.option("--in-process", is_flag=True, help="Lower every n in this process: faster, but timings share caches.")
@click.option("--platform", type=click.Choice(PLATFORMS), default=None,
              help="Lower for this platform (default: this machine's); non-CPU switches equinox error callbacks off.")
@click.option("--compile", "compile_", is_flag=True, help="Also XLA-compile each n (fresh process, cache off): compile seconds and memory.")
@click.option("--compile-timeout", type=click.FloatRange(min=0, min_open=True), default=DEFAULT_COMPILE_TIMEOUT, show_default=True, metavar="SECONDS",
              help="Seconds allowed per compile; a timeout is reported as a finding and the lowering figures are kept.")
@click.option("--capture-only", is_flag=True, help="Plain scripts: stop the script at its first solve call (the real solve never runs).")
@click.option("--save-baseline", "save_baseline_path", type=click.Path(dir_okay=False), default=None, help="Write the figures to this JSON file.")
@click.option("--baseline", "baseline_path", type=str, default=None, metavar="FILE", help="Fail (exit 1) when a structural figure grew past this baseline.")
@click.option("--tolerance", type=str, default="0%", show_default=True, callback=_tolerance, metavar="PERCENT", help="Growth allowed over the baseline, in percent.")
@click.option("--plot", "plot_path", type=str, default=None, metavar="FILE.svg|FILE.png", help="Draw figures against n, log-log, into FILE.svg or FILE.png (needs matplotlib).")
def scale(
    target: str, sizes: list[int], max_order: str, output_format: str, timeout: float | None, in_process: bool,
    platform: str | None, compile_: bool, compile_timeout: float, capture_only: bool, save_baseline_path: str | None,
    baseline_path: str | None, tolerance: float, plot_path: str | None,
) -> None:
    """Lower TARGET at each size n, fit how the program grows, and flag growth.

    \b
    TARGET is one of
      FILE.py::NAME  NAME(n) returns (fn, args) or (fn, args, kwargs)
      FILE.py        every function marked @jaxlint.case, or, when there is none,
                     the file as a plain script: each diffeqsolve call it makes
                     (diffrax or jaxlint.solver, even inside jax.jit) is one case,
                     re-lowered with n save points.

    This RUNS your code (it imports or runs FILE.py, like pytest or python would);
    `jaxlint check` is the command that never does.

    Exit codes: 0 nothing grew past --max-order or the baseline, 1 a figure was flagged or
    the baseline gate failed, 2 usage or user-code error.
    """
    from jaxlint.analyzer.baseline import BaselineError, compare, load_baseline, save_baseline
    from jaxlint.analyzer.lint_match import findings_for_lines, flagged_lines
    from jaxlint.analyzer.plot import PlotError, check_plot_path, write_plot
    from jaxlint.analyzer.report import render_github, render_markdown, render_table, to_json
    from jaxlint.analyzer.scale import run_scale_report

    err = Console(stderr=True)

    def usage_error(message: str, details: str | None = None) -> NoReturn:
        exit_with_usage_error(err, message, details)

    # Everything that can be wrong with the options is checked before any user code runs.
    try:
        parsed = parse_target(target)
    except TargetError as error:
        usage_error(str(error))
    if compile_ and in_process:
        usage_error("--compile needs a fresh process per n (compile caches distort timings; timeouts kill it): drop --in-process")
    if capture_only and parsed.name is not None:
        usage_error(f"--capture-only applies to plain scripts; {target} names a case function")
    baseline = None
    if baseline_path is not None:
        try:
            baseline = load_baseline(baseline_path)
        except BaselineError as error:
            usage_error(str(error))
    if plot_path is not None:
        try:
            check_plot_path(plot_path)
        except PlotError as error:
            usage_error(str(error))

    try:
        with size_progress(err, "lowering") as advance:
            run = run_scale_report(
                parsed, sizes, in_process=in_process, timeout=timeout, platform=platform, max_order=max_order,
                progress=advance, compile=compile_, compile_timeout=compile_timeout, capture_only=capture_only,
            )
    except TargetError as error:
        usage_error(str(error), error.details)
    results = run.results

    lint_problems: list[str] = []
    findings = findings_for_lines(flagged_lines(results), lint_problems)
    run.notes.extend(f"no lint match: {problem}" for problem in lint_problems)
    gate = None
    if baseline is not None:
        try:
            gate = compare(baseline, run, tolerance, baseline_path)  # type: ignore[arg-type]
        except BaselineError as error:
            usage_error(str(error))

    if output_format == "json":
        click.echo(json.dumps(to_json(results, platform=run.platform, notes=run.notes, findings=findings, gate=gate), indent=2))
    elif output_format == "markdown":
        click.echo(render_markdown(results, findings=findings, notes=run.notes, gate=gate, platform=run.platform), nl=False)
    elif output_format == "github":
        click.echo(render_github(results, findings=findings, notes=run.notes, gate=gate), nl=False)
    else:
        render_table(results, Console(highlight=False), findings=findings, notes=run.notes, gate=gate)

    if save_baseline_path is not None:
        try:
            save_baseline(save_baseline_path, run)
        except BaselineError as error:
            usage_error(str(error))
        err.print(f"wrote baseline {save_baseline_path} ({run.platform})", markup=False, soft_wrap=True)
    if plot_path is not None:
        try:
            write_plot(results, plot_path)
        except PlotError as error:
            usage_error(str(error))
        err.print(f"wrote plot {plot_path}", markup=False, soft_wrap=True)

    if any(r.status == "error" for r in results):
        if output_format != "table":
            for r in results:
                if r.status == "error":
                    err.print(f"error: {r.error}", markup=False, soft_wrap=True)
        sys.exit(EXIT_USAGE)
    failed = any(r.status == "fail" for r in results) or (gate is not None and not gate.ok)
    sys.exit(EXIT_FLAGGED if failed else EXIT_OK)
