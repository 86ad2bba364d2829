"""``jaxlint check``, ``jaxlint rules`` and ``jaxlint rule CODE``: the static lint commands.

A thin layer over :func:`jaxlint.rules.check_paths` and the catalogue: parse options (ruff's
names and meanings), run, print, choose the exit code. Never imports or runs user code.

Exit codes: 0 clean, 1 findings (or, with ``--diff``, fixes to apply), 2 usage error (a
missing path, a bad selector or config) or internal error (a rule crashed).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

EXIT_OK = 0
EXIT_FINDINGS = 1
EXIT_USAGE = 2
_FORMATS = ("text", "json", "github", "sarif")


def _split(values: tuple[str, ...]) -> list[str] | None:
    """``--select JL001,JL002 --select JL3`` -> ["JL001", "JL002", "JL3"]; None if not given."""
    if not values:
        return None
    return [part.strip() for value in values for part in value.split(",") if part.strip()]


def _fail(message: str) -> "click.exceptions.Exit":
    click.echo(f"jaxlint: error: {message}", err=True)
    return click.exceptions.Exit(EXIT_USAGE)


@click.command("check", context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("paths", nargs=-1, type=click.Path(path_type=str))
@click.option("--select", multiple=True, metavar="CODES", help="Only these rules (codes or prefixes, comma-separated; ALL).")
@click.option("--ignore", multiple=True, metavar="CODES", help="Skip these rules.")
@click.option("--extend-select", multiple=True, metavar="CODES", help="Add rules to the selection.")
@click.option("--fix", is_flag=True, help="Apply safe fixes in place (atomically; re-checked before writing).")
@click.option("--unsafe-fixes", is_flag=True, help="Also apply (and show as fixable) unsafe fixes.")
@click.option("--diff", is_flag=True, help="Print the fixes as a unified diff instead of writing them.")
@click.option("--output-format", type=click.Choice(_FORMATS), default="text", show_default=True)
@click.option("--statistics", is_flag=True, help="Print a count per rule instead of each finding.")
@click.option("--exit-zero", is_flag=True, help="Exit 0 even when there are findings.")
@click.option("--no-cache", is_flag=True, help="Neither read nor write .jaxlint_cache/.")
@click.option("--jobs", "-j", type=click.IntRange(min=1), default=None, help="Worker processes (default: all cores).")
@click.option("--config", "config_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Read [tool.jaxlint] from this pyproject.toml instead of the nearest one.")
def check(
    paths: tuple[str, ...],
    select: tuple[str, ...],
    ignore: tuple[str, ...],
    extend_select: tuple[str, ...],
    fix: bool,
    unsafe_fixes: bool,
    diff: bool,
    output_format: str,
    statistics: bool,
    exit_zero: bool,
    no_cache: bool,
    jobs: int | None,
    config_path: Path | None,
) -> None:
    """Lint PATHS (default: .) for the patterns that make a JAX program grow.

    \b
      jaxlint check src/ notebooks/
      jaxlint check --select JL001,JL002 --output-format json model.py
      jaxlint check --fix src/            apply safe fixes
      jaxlint check --diff src/           show them as a diff, write nothing
    """
    from jaxlint.rules._config import ConfigError, load_config
    from jaxlint.rules._engine import check_paths
    from jaxlint.rules._files import MissingPathError
    from jaxlint.rules._output import render_github, render_json, render_sarif, render_statistics, render_text

    targets = list(paths) or ["."]
    try:
        config = load_config(Path(targets[0]), config_path)
        result = check_paths(
            targets,
            select=_split(select),
            ignore=_split(ignore),
            extend_select=_split(extend_select),
            fix=fix and not diff,
            unsafe_fixes=unsafe_fixes,
            diff=diff,
            use_cache=not no_cache,
            jobs=jobs,
            config=config,
        )
    except (MissingPathError, ConfigError) as error:
        raise _fail(str(error))

    for warning in result.warnings:
        click.echo(f"jaxlint: warning: {warning}", err=True)
    for error in result.errors:
        click.echo(f"jaxlint: error: {error}", err=True)
    for error in result.usage_errors:  # a path that does not exist: the others were checked
        click.echo(f"jaxlint: error: {error}", err=True)

    if diff:
        sys.stdout.write("".join(result.diffs))
        if result.diffs:
            click.echo(f"Would fix {result.fixes_applied} error{'s' if result.fixes_applied != 1 else ''}.", err=True)
        code = EXIT_FINDINGS if result.diffs and not exit_zero else EXIT_OK
        raise click.exceptions.Exit(EXIT_USAGE if result.errors or result.usage_errors else code)

    findings = result.findings
    if statistics:
        sys.stdout.write(render_statistics(findings, output_format, unsafe_fixes))
    elif output_format == "json":
        sys.stdout.write(render_json(findings, files=result.files_checked, fixed=result.fixes_applied))
    elif output_format == "github":
        sys.stdout.write(render_github(findings))
    elif output_format == "sarif":
        from jaxlint.rules._catalogue import all_rules

        sys.stdout.write(render_sarif(findings, all_rules()))
    elif findings or not result.usage_errors:  # never "All checks passed!" after a missing path
        sys.stdout.write(render_text(findings, result.sources, unsafe_fixes=unsafe_fixes, fix_applied=result.fixes_applied))

    if result.errors or result.usage_errors:
        raise click.exceptions.Exit(EXIT_USAGE)
    raise click.exceptions.Exit(EXIT_FINDINGS if findings and not exit_zero else EXIT_OK)


@click.command("rules", context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--output-format", type=click.Choice(("text", "json")), default="text", show_default=True)
def rules(output_format: str) -> None:
    """List the lint rule catalogue: code, name, pitfall, fix, message."""
    from jaxlint.rules._catalogue import all_rules

    catalogue = all_rules()
    if output_format == "json":
        rows = [
            {
                "code": r.CODE,
                "name": r.NAME,
                "pitfall": r.PITFALL,
                "fix": r.FIX_SAFETY,
                "traced_only": r.TRACED_ONLY,
                "message": " ".join(r.MESSAGE.split()),
                "references": list(r.REFERENCES),
            }
            for r in catalogue
        ]
        click.echo(json.dumps(rows, indent=2))
        return
    name_width = max((len(r.NAME) for r in catalogue), default=4)
    click.echo(f"{'code':<6} {'name':<{name_width}} {'pitfall':<7} {'fix':<6} message")
    for r in catalogue:
        message = " ".join(r.MESSAGE.split())
        message = message if len(message) <= 90 else message[:87] + "..."
        click.echo(f"{r.CODE:<6} {r.NAME:<{name_width}} {r.PITFALL:<7} {r.FIX_SAFETY:<6} {message}")
    click.echo(f"\n{len(catalogue)} rules. `jaxlint rule CODE` prints one rule's documentation.")


@click.command("rule", context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("code")
@click.option("--output-format", type=click.Choice(("text", "json")), default="text", show_default=True)
def rule(code: str, output_format: str) -> None:
    """Print one rule's documentation (by code, JL001, or name, stack-of-repeats)."""
    from jaxlint.rules._catalogue import rule_by_code, rule_doc

    found = rule_by_code(code)
    if found is None:
        raise _fail(f"unknown rule {code!r} (`jaxlint rules` lists them)")
    if output_format == "json":
        click.echo(
            json.dumps(
                {
                    "code": found.CODE,
                    "name": found.NAME,
                    "pitfall": found.PITFALL,
                    "fix": found.FIX_SAFETY,
                    "traced_only": found.TRACED_ONLY,
                    "message": " ".join(found.MESSAGE.split()),
                    "why": " ".join(found.WHY.split()),
                    "references": list(found.REFERENCES),
                    "doc": rule_doc(found),
                },
                indent=2,
            )
        )
        return
    click.echo(rule_doc(found), nl=False)
