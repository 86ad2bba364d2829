"""The lint engine: which rules run on which text, and the single-source entry points.

(The project-wide runner — discovery, cache, processes — is added below the single-source
API; see :func:`check_paths`.)
"""

from __future__ import annotations

from typing import Iterable, Sequence

from jaxlint.rules._base import Finding, LintRule
from jaxlint.rules._catalogue import all_rules
from jaxlint.rules._context import FileFacts
from jaxlint.rules._fix import apply_edits
from jaxlint.rules._lint import ModuleResult, lint_module, syntax_error_finding

MAX_FIX_ROUNDS = 10


def _matches(code: str, selectors: Iterable[str]) -> bool:
    """ruff-style selectors: ``ALL``, a full code ``JL001``, or a prefix ``JL0``."""
    return any(s == "ALL" or code.startswith(s) for s in selectors)


def select_rules(
    select: Sequence[str] | None = None,
    ignore: Sequence[str] = (),
    extend_select: Sequence[str] = (),
    rules: Sequence[type[LintRule]] | None = None,
) -> list[type[LintRule]]:
    """The rules enabled by ``select`` (default all) plus ``extend_select`` minus ``ignore``."""
    pool = list(rules if rules is not None else all_rules())
    chosen = [r for r in pool if _matches(r.CODE, [s.upper() for s in (select or ["ALL"])] + [s.upper() for s in extend_select])]
    return [r for r in chosen if not _matches(r.CODE, [s.upper() for s in ignore])]


def _lint_text(source: str, path: str, rules: Sequence[type[LintRule]], facts: FileFacts | None) -> ModuleResult:
    wanted = [r for r in rules if r.prefilter_matches(source)]
    if not wanted:
        return ModuleResult()
    if facts is None:
        facts = FileFacts.for_single_file(source, path)
    return lint_module(source, path, wanted, facts)


def check_source(
    source: str,
    path: str = "<string>",
    *,
    select: Sequence[str] | None = None,
    ignore: Sequence[str] = (),
    rules: Sequence[type[LintRule]] | None = None,
) -> list[Finding]:
    """Lint one module's source text on its own (its call graph is the file alone).

    A syntax error is a single ``JL000`` finding. Rule crashes raise ``RuntimeError`` here
    (the project runner reports them instead), so tests see broken rules loudly.
    """
    enabled = select_rules(select, ignore, rules=rules)
    try:
        facts = FileFacts.for_single_file(source, path)
    except (SyntaxError, ValueError) as error:
        return [syntax_error_finding(path, error)]
    result = _lint_text(source, path, enabled, facts)
    if result.errors:
        raise RuntimeError("; ".join(result.errors))
    return result.findings


def fix_source(
    source: str,
    path: str = "<string>",
    *,
    select: Sequence[str] | None = None,
    ignore: Sequence[str] = (),
    unsafe: bool = False,
    rules: Sequence[type[LintRule]] | None = None,
) -> tuple[str, int]:
    """Apply fixes until none is left (at most ``MAX_FIX_ROUNDS`` rounds).

    Returns (fixed source, number of fixes applied). Unsafe fixes only with ``unsafe``.
    A round whose result does not parse is discarded.
    """
    enabled = select_rules(select, ignore, rules=rules)
    total = 0
    for _ in range(MAX_FIX_ROUNDS):
        findings = check_source(source, path, rules=enabled)
        fixes = [f.fix for f in findings if f.fix is not None and (unsafe or f.fix.applicability == "safe")]
        if not fixes:
            break
        fixed, applied = apply_edits(source, fixes)
        try:
            compile(fixed, path, "exec", dont_inherit=True, flags=0x400)
        except (SyntaxError, ValueError):
            break
        source, total = fixed, total + applied
    return source, total
