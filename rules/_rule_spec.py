"""What the engine needs to know of a rule to decide which files it must lint, without
importing the rule (every rule is a libcst visitor, and importing libcst is most of a fresh
``jaxlint check``'s start-up: ~0.2 s of a pre-commit hook's ~0.3 s).

A :class:`RuleSpec` mirrors a rule's selection class variables (``CODE``, ``TRACED_ONLY``,
``PREFILTER``, ``REQUIRES``). The specs of the installed rules are kept in the project's
cache (plain JSON, keyed by the fingerprint of the rule sources, so an edited rule is never
judged by a stale spec); a file that no rule can fire on is then settled without libcst.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any


def prefilter_matches(prefilter: Sequence[str], text: str) -> bool:
    """True when ``text`` contains one of the ``prefilter`` substrings (or there are none)."""
    return not prefilter or any(token in text for token in prefilter)


@dataclass(frozen=True)
class RuleSpec:
    """A rule's selection data; the names are the rule class's, so the engine's file filter
    takes a spec or the class alike."""

    CODE: str
    TRACED_ONLY: bool
    PREFILTER: tuple[str, ...]
    REQUIRES: tuple[str, ...]

    @classmethod
    def of(cls, rule: Any) -> RuleSpec:
        return cls(rule.CODE, bool(rule.TRACED_ONLY), tuple(rule.PREFILTER), tuple(rule.REQUIRES))

    def prefilter_matches(self, text: str) -> bool:
        return prefilter_matches(self.PREFILTER, text)

    def to_row(self) -> list:
        return [self.CODE, self.TRACED_ONLY, list(self.PREFILTER), list(self.REQUIRES)]

    @classmethod
    def from_row(cls, row: Any) -> RuleSpec | None:
        """The spec a cache row describes, or None when the row is not exactly that shape."""
        if not (isinstance(row, list) and len(row) == 4):
            return None
        code, traced_only, prefilter, requires = row
        if not (isinstance(code, str) and isinstance(traced_only, bool)
                and isinstance(prefilter, list) and all(isinstance(t, str) for t in prefilter)
                and isinstance(requires, list) and all(isinstance(r, str) for r in requires)):
            return None
        return cls(code, traced_only, tuple(prefilter), tuple(requires))


def is_spec_table(value: Any) -> bool:
    """The shape of a cached entry: a list of spec rows."""
    return isinstance(value, list) and all(RuleSpec.from_row(row) is not None for row in value)
