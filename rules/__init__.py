"""jaxlint.rules: libcst lint rules for the source patterns that make a JAX program grow.

Public API::

    from jaxlint.rules import check_source, check_paths, all_rules, Finding

    findings = check_source(open("model.py").read(), path="model.py")
    result = check_paths(["src/"], select=["JL001"])   # result.findings, result.errors, ...

A rule is one :class:`LintRule` subclass in ``rules/jlNNN_<name>.py`` (see ``_base.py``).
Names are imported lazily: a cached ``jaxlint check`` never has to import libcst.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "Edit": "_findings",
    "Finding": "_findings",
    "Fix": "_findings",
    "Invalid": "_base",
    "LintRule": "_base",
    "Valid": "_base",
    "RuleContext": "_context",
    "all_rules": "_catalogue",
    "rule_by_code": "_catalogue",
    "rule_doc": "_catalogue",
    "CheckResult": "_engine",
    "check_paths": "_engine",
    "check_source": "_engine",
    "fix_source": "_engine",
    "select_rules": "_engine",
    "MissingPathError": "_files",
    "ConfigError": "_config",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'jaxlint.rules' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"jaxlint.rules.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
