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

from jaxlint.cli import JaxlintCommand

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
    from jaxlint._console import error

    error(message)
    return click.exceptions.Exit(EXIT_USAGE)


def _plural(count: int, word: str = "error") -> str:
    return f"{count} {word}{'s' if count != 1 else ''}"


def _fixed_summary(fixed: dict[str, dict[str, str | int]]) -> str:
    """ruff's ``--show-fixes`` enumeration: per file, how many of each code were fixed."""
    from jaxlint.rules._catalogue import rule_by_code

    if not fixed:
        return ""
    total = sum(int(count) for codes in fixed.values() for count in codes.values())
    out = [f"Fixed {_plural(total)}:"]
    for path in sorted(fixed):
        out.append(f"- {path}:")
        for code, count in sorted(fixed[path].items()):
            rule_class = rule_by_code(code)
            out.append(f"    {count} × {code} ({rule_class.NAME if rule_class else code})")
    return "\n".join(out) + "\n"


def _write_text(text: str) -> None:
    """Text findings on stdout, coloured on a terminal (never when piped or with NO_COLOR)."""
    from jaxlint._console import colour_enabled

    if not colour_enabled(sys.stdout):
        sys.stdout.write(text)
        return
    import re

    from rich.text import Text

    from jaxlint._console import make_console

    console = make_console()
    header = re.compile(r"^(\S.*?:\d+:\d+:) (JL\d{3})( \[\*\])?")
    for line in text.splitlines():
        styled = Text(line)
        match = header.match(line)
        if match:
            styled.stylize("bold", 0, match.end(1))
            styled.stylize("bold red", match.start(2), match.end(2))
            if match.group(3):
                styled.stylize("cyan", match.start(3), match.end(3))
        elif line.lstrip(" 0123456789").startswith("|") and "^" in line:
            styled.stylize("bold red", line.index("^"))
        elif line.lstrip().startswith("= fix"):
            styled.stylize("cyan")
        elif line.startswith(("Found ", "All checks passed", "[*]")):
            styled.stylize("bold")
        console.print(styled, soft_wrap=True)


@click.command("check", cls=JaxlintCommand, context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("paths", nargs=-1, type=click.Path(path_type=str))
@click.option("--select", multiple=True, metavar="CODES", help="Only these rules (codes or prefixes, comma-separated; ALL).")
@click.option("--ignore", multiple=True, metavar="CODES", help="Skip these rules.")
@click.option("--extend-select", multiple=True, metavar="CODES", help="Add rules to the selection.")
@click.option("--fix", is_flag=True, help="Apply safe fixes in place (atomically; re-checked before writing).")
@click.option("--unsafe-fixes", is_flag=True, help="Also apply (and show as fixable) unsafe fixes.")
@click.option("--diff", is_flag=True, help="Print the fixes as a unified diff instead of writing them.")
@click.option("--show-fixes", is_flag=True, help="With --fix: list what was fixed, per file and rule.")
@click.option("--output-format", "--format", "output_format", type=click.Choice(_FORMATS), default="text", show_default=True,
              help="text, json (schema jaxlint.check/1), github (workflow annotations) or sarif (2.1.0).")
@click.option("--statistics", is_flag=True, help="Print a count per rule instead of each finding.")
@click.option("--quiet", "-q", is_flag=True, help="Print the findings only: no summary, no 'All checks passed!'.")
@click.option("--exit-zero", is_flag=True, help="Exit 0 even when there are findings.")
@click.option("--exclude", multiple=True, metavar="PATTERNS",
              help="Skip files and folders matching these gitignore-style patterns (replaces the default and config excludes).")
@click.option("--extend-exclude", multiple=True, metavar="PATTERNS", help="Skip these patterns too (adds to the excludes).")
@click.option("--stdin-filename", default=None, metavar="PATH",
              help="With PATH '-': the name of the file read from stdin (for config, messages, project context).")
@click.option("--traced", multiple=True, metavar="ENTRIES",
              help="Functions your users jit, as module:function or module:Class.method (adds to the config's `traced`).")
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
    show_fixes: bool,
    output_format: str,
    statistics: bool,
    quiet: bool,
    exit_zero: bool,
    exclude: tuple[str, ...],
    extend_exclude: tuple[str, ...],
    stdin_filename: str | None,
    traced: tuple[str, ...],
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
      cat model.py | jaxlint check - --stdin-filename model.py
                                          lint stdin; with --fix, print the fixed code
    """
    from jaxlint._console import error, warning
    from jaxlint.rules._config import ConfigError, load_config, validate_entry_points
    from jaxlint.rules._engine import check_paths
    from jaxlint.rules._files import MissingPathError
    from jaxlint.rules._lazy_libcst import defer_on_import
    from jaxlint.rules._output import render_github, render_json, render_sarif, render_statistics, render_text

    defer_on_import()  # a one-file pre-commit run pays libcst's import: make it cheaper
    stdin_text: str | None = None
    if "-" in paths:
        if len(paths) > 1:
            raise _fail("'-' (stdin) cannot be combined with other paths")
        stdin_text = sys.stdin.read()
        targets = [stdin_filename or "-"]
    elif stdin_filename is not None:
        raise _fail("--stdin-filename needs the path '-' (read the file from stdin)")
    else:
        targets = list(paths) or ["."]
    try:
        config = load_config(Path(targets[0]), config_path)
        if exclude:
            config.default_exclude, config.exclude = (), _patterns(exclude)
        config.exclude += _patterns(extend_exclude)
        if traced:
            config.traced = [*config.traced, *validate_entry_points(_split(traced) or [], "--traced")]
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
            sources={targets[0]: stdin_text} if stdin_text is not None else None,
        )
    except (MissingPathError, ConfigError) as problem:
        raise _fail(str(problem))

    for message in result.warnings:
        warning(message)
    for message in result.errors:
        error(message)
    for message in result.usage_errors:  # a path that does not exist: the others were checked
        error(message)

    if diff:
        sys.stdout.write("".join(result.diffs))
        if result.diffs and not quiet:
            click.echo(f"Would fix {_plural(result.fixes_applied)}.", err=True)
        code = EXIT_FINDINGS if result.diffs and not exit_zero else EXIT_OK
        raise click.exceptions.Exit(EXIT_USAGE if result.errors or result.usage_errors else code)

    findings = result.findings
    # With stdin and --fix, stdout carries the fixed code (ruff's convention): the report goes to stderr.
    report = sys.stdout
    if stdin_text is not None and fix:
        sys.stdout.write(result.fixed_sources.get(targets[0], stdin_text))
        sys.stdout.flush()
        report = sys.stderr
    if statistics:
        report.write(render_statistics(findings, output_format, unsafe_fixes))
    elif output_format == "json":
        report.write(render_json(findings, files=result.files_checked, fixed=result.fixes_applied))
    elif output_format == "github":
        report.write(render_github(findings))
    elif output_format == "sarif":
        from jaxlint.rules._catalogue import all_rules

        report.write(render_sarif(findings, all_rules()))
    else:
        text = render_text(findings, result.sources, unsafe_fixes=unsafe_fixes, fix_applied=result.fixes_applied)
        if quiet or result.usage_errors and not findings:  # never "All checks passed!" then
            text = _without_summary(text, findings)
        if show_fixes and not quiet:
            text += _fixed_summary(result.fixed_counts)
        if report is sys.stdout:
            _write_text(text)
        else:
            report.write(text)

    if result.errors or result.usage_errors:
        raise click.exceptions.Exit(EXIT_USAGE)
    raise click.exceptions.Exit(EXIT_FINDINGS if findings and not exit_zero else EXIT_OK)


def _patterns(values: tuple[str, ...]) -> list[str]:
    """``--exclude a,b --exclude c`` -> ["a", "b", "c"]."""
    return [part.strip() for value in values for part in value.split(",") if part.strip()]


def _without_summary(text: str, findings: list) -> str:
    """--quiet: the findings as printed, without the closing summary lines."""
    if not findings:
        return ""
    marker = "\nFound "
    return text[: text.rindex(marker) + 1] if marker in text else text


@click.command("rules", cls=JaxlintCommand, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--output-format", "--format", "output_format", type=click.Choice(("text", "json")), default="text", show_default=True)
def rules(output_format: str) -> None:
    """List the lint rule catalogue: code, name, fix safety, where it fires, message."""
    from jaxlint.rules._catalogue import all_rules, reference_url

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
                "reference_urls": [reference_url(ref) for ref in r.REFERENCES],
            }
            for r in catalogue
        ]
        from jaxlint import __version__

        # Named like every jaxlint JSON document: jaxlint.check/1, jaxlint.scale/1, ...
        click.echo(json.dumps({"schema": "jaxlint.rules/1", "jaxlint_version": __version__, "rules": rows}, indent=2))
        return
    name_width = max((len(r.NAME) for r in catalogue), default=4)
    click.echo(f"{'code':<6} {'name':<{name_width}} {'fix':<6} {'fires in':<8} message")
    for r in catalogue:
        message = " ".join(r.MESSAGE.split())
        message = message if len(message) <= 90 else message[:87] + "..."
        where = "traced" if r.TRACED_ONLY else "any"
        click.echo(f"{r.CODE:<6} {r.NAME:<{name_width}} {r.FIX_SAFETY:<6} {where:<8} {message}")
    click.echo(
        f"\n{len(catalogue)} rules. fix: safe (applied by --fix), unsafe (needs --unsafe-fixes), none."
        " fires in: traced = only in jitted/vmapped/differentiated code or what it reaches."
        " `jaxlint rule CODE` prints one rule's documentation and references."
    )


@click.command("rule", cls=JaxlintCommand, context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("code")
@click.option("--output-format", "--format", "output_format", type=click.Choice(("text", "json")), default="text", show_default=True)
def rule(code: str, output_format: str) -> None:
    """Print one rule's documentation (by code, JL001, or name, stack-of-repeats)."""
    from jaxlint.rules._catalogue import rule_by_code, rule_doc

    found = rule_by_code(code)
    if found is None:
        raise _fail(f"unknown rule {code!r} (`jaxlint rules` lists them)")
    if output_format == "json":
        from jaxlint import __version__

        click.echo(
            json.dumps(
                {
                    "schema": "jaxlint.rule/1",
                    "jaxlint_version": __version__,
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
