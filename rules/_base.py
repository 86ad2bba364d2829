"""The lint rule base class and the small value types rules and the engine exchange.

A rule is one :class:`LintRule` subclass in its own module ``rules/jlNNN_<name>.py``. It is a
libcst visitor: ``visit_<Node>`` / ``leave_<Node>`` methods look at the tree and call
:meth:`LintRule.report`. Everything else (noqa, select/ignore, positions, fixes, output)
is the engine's job, so a rule stays a few dozen lines about one pattern.

The engine runs every selected rule over a file in ONE traversal (a dispatcher calls each
rule's ``visit_*`` methods in turn). Consequences for rule authors:

- the return value of ``visit_*`` is ignored: every rule sees every node, so a rule that
  wants to skip a subtree keeps its own state (e.g. a depth counter);
- ``self.context`` (a :class:`~jaxlint.rules._context.RuleContext`) gives qualified names,
  traced-ness, positions and parents lazily; do not declare ``METADATA_DEPENDENCIES``
  unless you need a provider the context does not offer (it makes the whole file slower);
- a rule instance lives for one file: per-file state can go in ``__init__``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar, Literal, Union

import libcst as cst

from jaxlint.rules._findings import Edit, Finding, Fix
from jaxlint.rules._rule_spec import prefilter_matches

if TYPE_CHECKING:  # pragma: no cover - import only for type checkers
    from jaxlint.rules._context import RuleContext

FixSafety = Literal["safe", "unsafe", "none"]


@dataclass(frozen=True)
class Valid:
    """A whole-module snippet on which the rule must report nothing."""

    code: str


@dataclass(frozen=True)
class Invalid:
    """A whole-module snippet on which the rule must report at least once.

    ``expected_replacement``: the whole module after applying the rule's fixes (safe and
    unsafe), compared exactly. ``expected_message_contains``: a substring of the first report's
    message (e.g. the traced reason or the suggested rewrite).
    """

    code: str
    expected_replacement: str | None = None
    expected_message_contains: str | None = None


Replacement = Union[cst.CSTNode, cst.RemovalSentinel, cst.FlattenSentinel]


@dataclass
class Report:
    """What :meth:`LintRule.report` records: positions and fixes are computed later, lazily."""

    code: str
    node: cst.CSTNode
    message: str
    replacement: Replacement | None = None
    unsafe: bool = False


class LintRule(cst.CSTVisitor):
    """Base class of every jaxlint rule; subclasses fill the class variables below.

    Class variables (all required on concrete rules):

    CODE          "JL001": JL + three digits (JL000 is reserved for syntax errors).
    NAME          "stack-of-repeats": kebab-case, unique.
    MESSAGE       the default one-line message.
    WHY           why it costs: which figure of the compiled program grows, and how.
    PITFALL       "P1": the entry of shared/PITFALLS.md the rule comes from.
    REFERENCES    issues/PRs behind it, e.g. ("diffrax#606", "diffrax PR #618").
    TRACED_ONLY   True: the rule only reports inside traced code (see ``context.traced_reason``).
    FIX_SAFETY    "safe" | "unsafe" | "none": the best fix the rule can offer.
    VALID         snippets that must not fire; INVALID snippets that must.
    PREFILTER     substrings, one of which must occur in a file's text for the rule to be able
                  to fire; files with none of them are never parsed for this rule. An empty
                  tuple means "always run" (avoid: it defeats the fast path).
    REQUIRES      optional, finer pre-filter checked on the file's ``ast`` summary, still
                  before any libcst parse: the rule can only fire if the file uses at least
                  one of these. Each item is
                  - a qualified name or prefix the file uses, imports resolved:
                    ``"jax.lax.cond"``, ``"jax.numpy.stack"``, ``"diffrax"`` (any diffrax name);
                  - ``"keyword:<name>"``: some call passes that keyword (``"keyword:unroll"``);
                  - a syntax feature: ``"for"``, ``"while"``, ``"comprehension"``, ``"lambda"``,
                    ``"if"``, ``"at-update"`` (``x.at[...]``). For ``TRACED_ONLY`` rules a
                    feature counts only inside traced code (a traced function, a function
                    nested in one, or a file with a lambda in a transform's slot);
                    ``"traced:for"`` asks for the feature in traced code for any rule.
                  Empty (default): only PREFILTER applies. On a large tree this is what keeps
                  most files from being parsed at all; the example tests check that every
                  INVALID example meets it.
    """

    CODE: ClassVar[str] = ""
    NAME: ClassVar[str] = ""
    MESSAGE: ClassVar[str] = ""
    WHY: ClassVar[str] = ""
    PITFALL: ClassVar[str] = ""
    REFERENCES: ClassVar[tuple[str, ...]] = ()
    TRACED_ONLY: ClassVar[bool] = False
    FIX_SAFETY: ClassVar[FixSafety] = "none"
    VALID: ClassVar[list[str | Valid]] = []
    INVALID: ClassVar[list[Invalid]] = []
    PREFILTER: ClassVar[tuple[str, ...]] = ()
    REQUIRES: ClassVar[tuple[str, ...]] = ()

    def __init__(self, context: "RuleContext") -> None:
        super().__init__()
        self.context = context
        self.reports: list[Report] = []

    def report(
        self,
        node: cst.CSTNode,
        message: str | None = None,
        *,
        replacement: Replacement | None = None,
        unsafe: bool = False,
    ) -> None:
        """Record a finding at ``node``; ``replacement`` (a node, or ``cst.RemoveFromParent()``)
        is the fix that replaces ``node``. ``unsafe=True`` marks that fix as unsafe."""
        self.reports.append(
            Report(
                code=self.CODE,
                node=node,
                message=message or self.MESSAGE,
                replacement=replacement,
                unsafe=unsafe,
            )
        )

    @classmethod
    def prefilter_matches(cls, text: str) -> bool:
        """True when the file text could contain a finding of this rule (cheap, no parse)."""
        return prefilter_matches(cls.PREFILTER, text)

    @classmethod
    def valid_examples(cls) -> list[Valid]:
        return [v if isinstance(v, Valid) else Valid(v) for v in cls.VALID]


from jaxlint.rules._findings import SYNTAX_ERROR_CODE, SYNTAX_ERROR_NAME  # noqa: E402  (re-export)

__all__ = [
    "Edit", "Finding", "Fix", "FixSafety", "Invalid", "LintRule", "Replacement", "Report", "Valid",
    "SYNTAX_ERROR_CODE", "SYNTAX_ERROR_NAME",
]
