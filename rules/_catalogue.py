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


# Where each project named in a rule's REFERENCES lives; "proj#N" and "proj PR #N" become links.
_REPOSITORIES = {
    "diffrax": "patrick-kidger/diffrax",
    "equinox": "patrick-kidger/equinox",
    "jax": "jax-ml/jax",
    "jaxley": "jaxleyverse/jaxley",
    "jwave": "ucl-bug/jwave",
    "pmwd": "eelregit/pmwd",
    "flowpm": "DifferentiableUniverseInitiative/flowpm",
    "flowMC": "kazewong/flowMC",
}
_PAGES = {"diffrax FAQ": "https://docs.kidger.site/diffrax/further_details/faq/"}
_REFERENCE = re.compile(r"^(?P<project>[\w-]+)(?: PR )?\s*#(?P<number>\d+)")


def reference_url(reference: str) -> str | None:
    """The web address of a reference such as ``diffrax#606`` or ``diffrax PR #618 (fixed)``."""
    match = _REFERENCE.match(reference)
    if match is not None and match.group("project") in _REPOSITORIES:
        kind = "pull" if " PR " in reference[: match.end()] else "issues"
        return f"https://github.com/{_REPOSITORIES[match.group('project')]}/{kind}/{match.group('number')}"
    return next((url for prefix, url in _PAGES.items() if reference.startswith(prefix)), None)


def reference_link(reference: str) -> str:
    """Markdown: ``[diffrax#606](https://github.com/patrick-kidger/diffrax/issues/606)``."""
    url = reference_url(reference)
    return f"[{reference}]({url})" if url else reference


def _example_block(code: str) -> str:
    return "```python\n" + textwrap.dedent(code).strip("\n") + "\n```"


def rule_doc(rule: type[LintRule]) -> str:
    """Markdown docs of one rule, generated from its class."""
    valid = rule.valid_examples()
    sections = [
        f"# {rule.CODE} {rule.NAME}",
        "Fires only in traced code (jitted, vmapped, differentiated, a loop or cond body, or reached from one)."
        if rule.TRACED_ONLY else "",
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
        sections.append("## References\n" + "\n".join(f"- {reference_link(ref)}" for ref in rule.REFERENCES))
    return "\n\n".join(section for section in sections if section) + "\n"


__all__ = ["all_rules", "reference_url", "rule_by_code", "rule_doc", "CatalogueError", "Valid"]
