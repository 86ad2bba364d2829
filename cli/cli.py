"""The ``jaxlint`` command line: a thin click layer composing analyzer, rules and solver.

Exit codes everywhere (ruff's convention): 0 clean, 1 findings or a failed gate,
2 usage error, bad user input, or an internal error.
"""

from __future__ import annotations

import importlib

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
}


class _LazyGroup(click.Group):
    """A group whose subcommands are imported only when invoked (or listed in --help)."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(_COMMANDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in _COMMANDS:
            return None
        module_name, attribute = _COMMANDS[name].split(":")
        return getattr(importlib.import_module(module_name), attribute)


@click.group(cls=_LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="jaxlint")
def main() -> None:
    """Find the code that makes a JAX program grow with a size that should only change shapes.

    \b
      jaxlint check src/                        static lint; never runs your code
      jaxlint scale solve.py --n 1k,10k,30k     lower at several n, fit growth (runs your code)
      jaxlint residuals solve.py --n 100,500    reverse-mode memory per n (runs your code)
      jaxlint rules / jaxlint rule JL001        the lint rule catalogue
    """
