"""jaxlint.rules: libcst lint rules for the source patterns that make a JAX program grow.

Public API::

    from jaxlint.rules import check_source, check_paths, all_rules, Finding

    findings = check_source(open("model.py").read(), path="model.py")
    report = check_paths(["src/"], select=["JL001"])

A rule is one :class:`LintRule` subclass in ``rules/jlNNN_<name>.py`` (see ``_base.py``).
"""

from jaxlint.rules._base import Edit, Finding, Fix, Invalid, LintRule, Valid
from jaxlint.rules._catalogue import all_rules, rule_by_code, rule_doc
from jaxlint.rules._context import RuleContext
from jaxlint.rules._engine import check_source, fix_source, select_rules

__all__ = [
    "Edit",
    "Finding",
    "Fix",
    "Invalid",
    "LintRule",
    "RuleContext",
    "Valid",
    "all_rules",
    "check_source",
    "fix_source",
    "rule_by_code",
    "rule_doc",
    "select_rules",
]
