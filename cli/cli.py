"""The ``jaxlint`` command line: a thin click layer composing analyzer, rules and solver.

Exit codes everywhere (ruff's convention): 0 clean, 1 findings or a failed gate,
2 usage error, bad user input, or an internal error.
"""

from __future__ import annotations

import click

from jaxlint import __version__

EXIT_OK = 0
EXIT_FINDINGS = 1
EXIT_USAGE = 2


class _Group(click.Group):
    """Map click's usage errors (exit 2 already) and keep subcommands in definition order."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(self.commands)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="jaxlint")
def main() -> None:
    """Find the code that makes a JAX program grow with a size that should only change shapes.

    \b
      jaxlint check src/                        static lint; never runs your code
      jaxlint scale solve.py --n 1k,10k,30k     lower at several n, fit growth (runs your code)
      jaxlint residuals solve.py --n 100,500    reverse-mode memory per n (runs your code)
      jaxlint rules / jaxlint rule JL001        the lint rule catalogue
    """


# Each command lives in its own module; registering here keeps this file the only place
# that knows the whole command set.
from jaxlint._check_cmd import check, rule, rules  # noqa: E402
from jaxlint._residuals_cmd import residuals  # noqa: E402
from jaxlint._scale_cmd import scale  # noqa: E402

for command in (check, scale, residuals, rules, rule):
    main.add_command(command)

