"""The ``jaxlint`` command line: a thin click layer composing analyzer, rules and solver.

Exit codes everywhere (ruff's convention): 0 clean, 1 findings or a failed gate,
2 usage error, bad user input, or an internal error. Every error message starts with
``error:`` (click's own usage errors included); a bare ``jaxlint`` prints the help, exit 0.
"""

from __future__ import annotations

import importlib
import sys
from typing import Any

import click

from jaxlint import __version__

EXIT_OK = 0
EXIT_FINDINGS = 1
EXIT_USAGE = 2


# Command name -> "module:attribute". Commands are imported on first use: `jaxlint check`
# must not pay for importing jax (which `scale` and `residuals` need) on every pre-commit run.
_COMMANDS = {
    "check": "jaxlint._check_cmd:check",
    "scale": "jaxlint._scale_cmd:scale",
    "residuals": "jaxlint._residuals_cmd:residuals",
    "rules": "jaxlint._check_cmd:rules",
    "rule": "jaxlint._check_cmd:rule",
    "server": "jaxlint._server:server",
}

_SUMMARIES = {
    "check": "Lint paths for the patterns that make a JAX program grow (never runs your code).",
    "scale": "Lower a target at several sizes n, fit how the program grows, flag growth.",
    "residuals": "Measure reverse-mode residual memory at several sizes n.",
    "rules": "List the lint rule catalogue.",
    "rule": "Print one rule's documentation.",
    "server": "Run the language server (LSP over stdio) for editors.",
}


def run_standalone(command: click.Command, args: Any, prog_name: Any, complete_var: Any, **extra: Any) -> None:
    """click's standalone mode, with jaxlint's error prefix: ``error: ...`` for usage errors
    (after the usage line and a help hint), exit 2; ``Aborted!`` on Ctrl-C, exit 1."""
    from click.core import Command as _Base

    try:
        value = _Base.main(command, args, prog_name, complete_var, standalone_mode=False, **extra)
    except click.UsageError as problem:
        ctx = problem.ctx
        if ctx is not None:
            click.echo(ctx.get_usage(), err=True)
            click.echo(f"Try '{ctx.command_path} -h' for help.\n", err=True)
        click.echo(f"error: {problem.format_message()}", err=True)
        sys.exit(EXIT_USAGE)
    except click.ClickException as problem:
        click.echo(f"error: {problem.format_message()}", err=True)
        sys.exit(problem.exit_code)
    except (click.Abort, KeyboardInterrupt, EOFError):
        click.echo("Aborted!", err=True)
        sys.exit(1)
    sys.exit(value if isinstance(value, int) else EXIT_OK)


class JaxlintCommand(click.Command):
    """A command that reports errors with jaxlint's prefix when run on its own."""

    def main(self, args: Any = None, prog_name: Any = None, complete_var: Any = None,
             standalone_mode: bool = True, **extra: Any) -> Any:
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        run_standalone(self, args, prog_name, complete_var, **extra)


class _LazyGroup(click.Group):
    """A group whose subcommands are imported only when invoked (or listed in --help)."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(_COMMANDS)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        # From a table, not the commands' docstrings: `jaxlint --help` must not import jax.
        with formatter.section("Commands"):
            formatter.write_dl(list(_SUMMARIES.items()))

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in _COMMANDS:
            return None
        module_name, attribute = _COMMANDS[name].split(":")
        return getattr(importlib.import_module(module_name), attribute)

    def main(self, args: Any = None, prog_name: Any = None, complete_var: Any = None,
             standalone_mode: bool = True, **extra: Any) -> Any:
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        run_standalone(self, args, prog_name, complete_var, **extra)


@click.group(cls=_LazyGroup, invoke_without_command=True, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "-V", "--version", prog_name="jaxlint", message="%(prog)s %(version)s")
@click.pass_context
def main(ctx: click.Context) -> None:
    """Find the code that makes a JAX program grow with a size that should only change shapes.

    \b
      jaxlint check src/                        static lint; never runs your code
      jaxlint scale solve.py --n 1k,10k,30k     lower at several n, fit growth (runs your code)
      jaxlint residuals solve.py --n 100,500    reverse-mode memory per n (runs your code)
      jaxlint rules / jaxlint rule JL001        the lint rule catalogue
      jaxlint server                            language server (LSP over stdio) for editors
    """
    if ctx.invoked_subcommand is None:
        click.echo(ctx.get_help())
        ctx.exit(EXIT_OK)
