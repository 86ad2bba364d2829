"""The rule catalogue: every :class:`LintRule` in ``rules/jl*.py``, and its generated docs.

Rules are discovered by file name (``jlNNN_<name>.py`` in this folder), imported, and every
concrete ``LintRule`` subclass with a ``CODE`` is collected. Docs are rendered from the class
itself (ruff's sections: what it does, why it costs, examples, fix safety, references), so
behaviour, tests and docs share one source.
"""

from __future__ import annotations

import importlib
import inspect
import re
import textwrap
from functools import lru_cache
from pathlib import Path

from jaxlint.rules._base import LintRule, Valid

_RULES_DIR = Path(__file__).resolve().parent
_CODE = re.compile(r"^JL\d{3}$")


class CatalogueError(Exception):
    """A rule module is broken (duplicate code, malformed class variables, import failure)."""


@lru_cache(maxsize=1)
def all_rules() -> tuple[type[LintRule], ...]:
    """Every rule class, sorted by code. Raises :class:`CatalogueError` on duplicate codes."""
    found: dict[str, type[LintRule]] = {}
    for file in sorted(_RULES_DIR.glob("jl[0-9][0-9][0-9]_*.py")):
        module = importlib.import_module(f"jaxlint.rules.{file.stem}")
        for _, value in inspect.getmembers(module, inspect.isclass):
            if not issubclass(value, LintRule) or value is LintRule or value.__module__ != module.__name__:
                continue
            if not value.CODE:
                continue  # an abstract helper class
            if not _CODE.match(value.CODE) or value.CODE == "JL000":
                raise CatalogueError(f"{file.name}: {value.__name__}.CODE {value.CODE!r} is not JL001..JL999")
            if value.CODE in found:
                raise CatalogueError(
                    f"rule code {value.CODE} is used by both {found[value.CODE].__name__} and {value.__name__}"
                )
            found[value.CODE] = value
    return tuple(found[code] for code in sorted(found))


def rule_by_code(code_or_name: str) -> type[LintRule] | None:
    """Look a rule up by code (``JL001``, any case) or name (``stack-of-repeats``)."""
    wanted = code_or_name.strip()
    for rule in all_rules():
        if rule.CODE == wanted.upper() or rule.NAME == wanted.lower():
            return rule
    return None


def _example_block(code: str) -> str:
    return "```python\n" + textwrap.dedent(code).strip("\n") + "\n```"


def rule_doc(rule: type[LintRule]) -> str:
    """Markdown docs of one rule, generated from its class."""
    valid = rule.valid_examples()
    sections = [
        f"# {rule.CODE} {rule.NAME}",
        f"Pitfall {rule.PITFALL}." + (" Fires only in traced code." if rule.TRACED_ONLY else ""),
        "## What it does\n" + " ".join(rule.MESSAGE.split()),
        "## Why it costs\n" + textwrap.dedent(rule.WHY).strip(),
        "## Example (fires)\n" + (_example_block(rule.INVALID[0].code) if rule.INVALID else "(none)"),
    ]
    fixed = next((ex.expected_replacement for ex in rule.INVALID if ex.expected_replacement), None)
    if fixed:
        sections.append("## Use instead\n" + _example_block(fixed))
    if valid:
        sections.append("## Does not fire on\n" + _example_block(valid[0].code))
    safety = {
        "safe": "The fix is safe: `jaxlint check --fix` applies it; behaviour is unchanged.",
        "unsafe": "The fix is unsafe (may change behaviour in rare cases): applied only with `--fix --unsafe-fixes`.",
        "none": "No automatic fix: the message names the rewrite.",
    }[rule.FIX_SAFETY]
    sections.append("## Fix safety\n" + safety)
    if rule.REFERENCES:
        sections.append("## References\n" + "\n".join(f"- {ref}" for ref in rule.REFERENCES))
    return "\n\n".join(sections) + "\n"


__all__ = ["all_rules", "rule_by_code", "rule_doc", "CatalogueError", "Valid"]
