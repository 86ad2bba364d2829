"""``jaxlint scale``: lower targets at several sizes n and flag what grows."""

from __future__ import annotations

import json
from typing import NoReturn

import click
from rich.console import Console

from jaxlint._console import make_console
from jaxlint.analyzer.cases import TargetError, parse_target
from jaxlint.analyzer.compile import DEFAULT_COMPILE_TIMEOUT
from jaxlint.analyzer.fit import ORDERS
from jaxlint.analyzer.lower import PLATFORMS
from jaxlint.analyzer.projection import DEFAULT_COMPILE_BUDGET, CompileProjection
from jaxlint.analyzer.projection_report import projection_markdown, projection_to_json, render_projection

from ._options import (
    ScriptArgsCommand, SecondsParam, SizesParam, exit_interrupted, exit_with_usage_error, output_format_option, print_error, size_progress,
)

EXIT_OK, EXIT_FLAGGED, EXIT_USAGE = 0, 1, 2
FORMATS = ["table", "json", "markdown", "github"]
SIZE_CHOICES = ["auto", "save-points", "max-steps"]


def _tolerance(ctx: click.Context, param: click.Parameter, value: str) -> float:
    from jaxlint.analyzer.baseline import parse_tolerance

    try:
        return parse_tolerance(value)
    except ValueError as error:
        raise click.BadParameter(str(error), ctx, param) from None


@click.command(cls=ScriptArgsCommand)
@click.argument("targets", nargs=-1, required=True, metavar="TARGET...")
@click.option("--n", "sizes", type=SizesParam(), required=True, help="Sizes to lower at, e.g. 1k,10k,30k (at least two).")
@click.option(
    "--max-order",
    type=click.Choice([o for o in ORDERS if o != "worse"]),
    default="constant",
    show_default=True,
    help="Growth allowed for structural figures (ops, branches, loops, calls, runs); other figures may grow linearly.",
)
@output_format_option(FORMATS, "table (terminal), json (schema jaxlint.scale/1), markdown (a PR comment), github (workflow annotations).")
@click.option("--size", type=click.Choice(SIZE_CHOICES), default="auto", show_default=True,
              help="Scripts: what n is for each solve call: its save points (saves at ts), its max_steps (steps/dense saving), or auto (save points when it saves at ts).")
@click.option("--timeout", type=SecondsParam(), default=None,
              help="Seconds allowed for everything the user's code does per target (running it, tracing, lowering every n); compiles have --compile-timeout.")
@click.option("--in-process", is_flag=True, help="Run the user's code in this process (a watchdog enforces --timeout).")
@click.option("--fresh-process", is_flag=True, help="Lower each n in a fresh process: honest trace/lower timings (slower; counts are the same).")
@click.option("--platform", type=click.Choice(PLATFORMS), default=None,
              help="Lower for this platform (default: this machine's); non-CPU switches equinox error callbacks off.")
@click.option("--compile", "compile_", is_flag=True, help="Also XLA-compile each n (fresh process, cache off): compile seconds and memory.")
@click.option("--compile-timeout", type=SecondsParam(), default=DEFAULT_COMPILE_TIMEOUT, show_default=True,
              help="Seconds allowed per compile; a timeout is reported as a finding and the lowering figures are kept.")
@click.option("--project-compile", is_flag=True,
              help="Project XLA compile seconds and memory at each n from a few cheap calibration compiles "
              "(fresh processes, doubling n); flag when the projection's upper bound passes --compile-budget.")
@click.option("--compile-budget", type=SecondsParam(), default=DEFAULT_COMPILE_BUDGET, show_default=True,
              help="With --project-compile: wall seconds of calibration compiles per case, and the compile time "
              "a projection may reach at the largest n (e.g. 60s, 2min).")
@click.option("--capture-only", is_flag=True, help="Plain scripts: stop the script at its first solve call (the real solve never runs).")
@click.option("--save-baseline", "save_baseline_path", type=click.Path(dir_okay=False), default=None, help="Write the figures to this JSON file.")
@click.option("--baseline", "baseline_path", type=str, default=None, metavar="FILE", help="Fail (exit 1) when a structural figure grew past this baseline.")
@click.option("--tolerance", type=str, default="0%", show_default=True, callback=_tolerance, metavar="PERCENT", help="Growth allowed over the baseline, in percent.")
@click.option("--plot", "plot_path", type=str, default=None, metavar="FILE.svg|FILE.png", help="Draw figures against n, log-log, into FILE.svg or FILE.png (needs matplotlib).")
@click.pass_context
def scale(
    ctx: click.Context, targets: tuple[str, ...], sizes: list[int], max_order: str, output_format: str, size: str,
    timeout: float | None, in_process: bool, fresh_process: bool, platform: str | None, compile_: bool,
    compile_timeout: float, project_compile: bool, compile_budget: float, capture_only: bool, save_baseline_path: str | None, baseline_path: str | None,
    tolerance: float, plot_path: str | None,
) -> None:
    """Lower each TARGET at each size n, fit how the program grows, and flag growth.

    \b
    TARGET is one of
      FILE.py::NAME  NAME(n) returns (fn, args) or (fn, args, kwargs)
      FILE.py        every function marked @jaxlint.case, or, when there is none,
                     the file as a plain script (arguments after -- are its
                     sys.argv[1:]): each diffeqsolve call it makes (diffrax or
                     jaxlint.solver) is one case, measured as the jitted function
                     around it, re-traced with the call's save points (or
                     max_steps, see --size) at n.

    This RUNS your code (it imports or runs FILE.py, like pytest or python would);
    `jaxlint check` is the command that never does.

    Exit codes: 0 nothing grew past --max-order or the baseline, 1 a figure was flagged or
    the baseline gate failed, 2 usage or user-code error (crash, exit, timeout), 130 interrupted.
    """
    from jaxlint.analyzer.baseline import BaselineError, compare, load_baseline, save_baseline
    from jaxlint.analyzer.guard import exit_now
    from jaxlint.analyzer.lint_match import findings_for_lines, flagged_lines
    from jaxlint.analyzer.plot import PlotError, check_plot_path, write_plot
    from jaxlint.analyzer.report import render_github, render_markdown, render_table, to_json
    from jaxlint.analyzer.scale import ScaleRun, run_scale_report
    from jaxlint.analyzer.script import SIZE_CHOICES as AXES
    from jaxlint.analyzer.session import Interrupted

    err = Console(stderr=True)
    script_args: list[str] = ctx.meta.get("script_args", [])

    def usage_error(message: str, details: str | None = None) -> NoReturn:
        exit_with_usage_error(err, message, details)

    # Everything that can be wrong with the options is checked before any user code runs.
    parsed = []
    for target in targets:
        try:
            parsed.append(parse_target(target))
        except TargetError as error:
            usage_error(str(error))
    if project_compile and in_process:
        usage_error("--project-compile compiles in fresh processes (caches distort timings; timeouts kill them): drop --in-process")
    if compile_ and in_process:
        usage_error("--compile needs a fresh process per n (compile caches distort timings; timeouts kill it): drop --in-process")
    if fresh_process and in_process:
        usage_error("--fresh-process and --in-process contradict each other: pick one")
    named = [str(t) for t in parsed if t.name is not None]
    if capture_only and named:
        usage_error(f"--capture-only applies to plain scripts; {named[0]} names a case function")
    if script_args and named:
        usage_error(f"arguments after -- go to a plain script; {named[0]} names a case function")
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

    runs: list[ScaleRun] = []
    projections: dict[str, CompileProjection] = {}
    target_failed = False
    try:
        with size_progress(err, "lowering") as advance:
            for target in parsed:
                try:
                    runs.append(run_scale_report(
                        target, sizes, in_process=in_process, fresh_process=fresh_process, timeout=timeout,
                        platform=platform, max_order=max_order, progress=advance, compile=compile_,
                        compile_timeout=compile_timeout, capture_only=capture_only, argv=script_args, size=AXES[size],
                    ))
                    if project_compile:
                        options = dict(argv=script_args, size=AXES[size], platform=platform, capture_only=capture_only)
                        projections.update(project_run(target, runs[-1], sizes, compile_budget, options, err))
                except TargetError as error:
                    target_failed = True
                    print_error(err, str(error), error.details)
                except ValueError as error:
                    usage_error(str(error))
    except (Interrupted, KeyboardInterrupt) as interrupted:
        exit_interrupted(err, str(interrupted) or "interrupted")
    if not runs:
        exit_now(EXIT_USAGE)
    notes = list(dict.fromkeys(note for run in runs for note in run.notes))
    run = ScaleRun(
        target=", ".join(r.target for r in runs), platform=runs[0].platform,
        results=[result for r in runs for result in r.results], notes=notes,
        compiled=any(r.compiled for r in runs), shared_process=any(r.shared_process for r in runs),
    )
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
        document = to_json(results, platform=run.platform, notes=run.notes, findings=findings, gate=gate)
        for case in document["cases"]:
            if case["name"] in projections:
                case["compile_projection"] = projection_to_json(projections[case["name"]])
        click.echo(json.dumps(document, indent=2))
    elif output_format == "markdown":
        click.echo(render_markdown(results, findings=findings, notes=run.notes, gate=gate, platform=run.platform), nl=False)
        for name, projection in projections.items():
            click.echo("\n".join([f"#### `{name}`: compile projection", "", *projection_markdown(projection)]))
    elif output_format == "github":
        click.echo(render_github(results, findings=findings, notes=run.notes, gate=gate), nl=False)
        for name, projection in projections.items():
            if projection.flagged:
                click.echo(f"::warning title=jaxlint compile projection::{name}: {projection.message}")
    else:
        console = make_console()  # colour on a terminal only; piped: never wrapped at 80 columns
        render_table(results, console, findings=findings, notes=run.notes, gate=gate)
        for name, projection in projections.items():
            console.print(f"{name}", markup=False, highlight=False, soft_wrap=True)
            render_projection(console, projection)

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

    if target_failed or any(r.status == "error" for r in results):
        if output_format != "table":
            for r in results:
                if r.status == "error":
                    err.print(f"error: {r.error}", markup=False, soft_wrap=True)
        exit_now(EXIT_USAGE)
    failed = (any(r.status == "fail" for r in results) or (gate is not None and not gate.ok)
              or any(p.flagged for p in projections.values()))
    exit_now(EXIT_FLAGGED if failed else EXIT_OK)


def project_run(target: object, run: object, sizes: list[int], budget: float, options: dict, err: Console) -> dict[str, CompileProjection]:
    """--project-compile for each measured case of one target's run: calibrate and project."""
    from jaxlint.analyzer.projection import calibrate_and_project, ops_between, session_compile_at

    out: dict[str, CompileProjection] = {}
    for result in run.results:  # type: ignore[attr-defined]
        if result.status not in ("ok", "fail"):
            continue
        ops = ops_between({m.n: m.figures.get("ops_inlined") for m in result.measurements})
        err.print(f"calibrating the compile cost of {result.name} (budget {budget:g} s)", markup=False, soft_wrap=True)
        out[result.name] = calibrate_and_project(
            session_compile_at(target, result.name, options), sizes, ops_at=ops, budget=budget,
        )
    return out
