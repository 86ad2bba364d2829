"""Every rule's VALID/INVALID examples, run as one pytest item each (Fixit style).

Ids look like ``JL001-invalid-2`` (1-based). Besides behaviour, the catalogue itself is
checked: unique codes and names, complete class variables, at least two examples of each
kind, and a PREFILTER that lets every INVALID example through (a prefilter that hid a true
finding would silently disable the rule on real files).
"""

from __future__ import annotations

import re
import textwrap

import pytest

from jaxlint.rules import all_rules, check_source, fix_source
from jaxlint.rules._base import LintRule
from jaxlint.rules._callgraph import summarize_module, traced_functions
from jaxlint.rules._engine import rules_for_file

RULES = all_rules()


def _examples(kind: str):
    for rule in RULES:
        examples = rule.valid_examples() if kind == "valid" else rule.INVALID
        for number, example in enumerate(examples, start=1):
            yield pytest.param(rule, example, id=f"{rule.CODE}-{kind}-{number}")


def _code(text: str) -> str:
    return textwrap.dedent(text)


def _summary_facts(code: str):
    summary = summarize_module(code, "example")
    traced = traced_functions({"example.py": summary})["example.py"]
    return summary, traced, summary.transform_lambdas


@pytest.mark.parametrize("rule, example", list(_examples("valid")))
def test_valid_example_does_not_fire(rule: type[LintRule], example) -> None:
    findings = check_source(_code(example.code), "example.py", rules=[rule])
    assert [f for f in findings if f.code == "JL000"] == [], "VALID example does not parse"
    assert [(f.line, f.message) for f in findings if f.code == rule.CODE] == []


@pytest.mark.parametrize("rule, example", list(_examples("invalid")))
def test_invalid_example_fires(rule: type[LintRule], example) -> None:
    code = _code(example.code)
    assert rule.prefilter_matches(code), f"{rule.CODE}.PREFILTER {rule.PREFILTER} skips this INVALID example"
    assert rules_for_file([rule], code, *_summary_facts(code)) == [rule], (
        f"{rule.CODE}.REQUIRES {rule.REQUIRES} (or TRACED_ONLY) skips this INVALID example"
    )
    findings = check_source(code, "example.py", rules=[rule])
    assert [f for f in findings if f.code == "JL000"] == [], "INVALID example does not parse"
    mine = [f for f in findings if f.code == rule.CODE]
    assert mine, f"{rule.CODE} did not fire"
    if example.expected_message_contains is not None:
        assert example.expected_message_contains in mine[0].message
    if example.expected_replacement is not None:
        fixed, applied = fix_source(code, "example.py", rules=[rule], unsafe=True)
        assert applied >= 1
        assert fixed == _code(example.expected_replacement)
        # Idempotent: the fixed code offers no further fix for this rule.
        again = check_source(fixed, "example.py", rules=[rule])
        assert [f for f in again if f.fix is not None] == []


def test_catalogue_is_complete_and_unique() -> None:
    assert RULES, "no rule found in rules/jl*.py"
    codes = [r.CODE for r in RULES]
    names = [r.NAME for r in RULES]
    assert len(set(codes)) == len(codes)
    assert len(set(names)) == len(names)


@pytest.mark.parametrize("rule", RULES, ids=[r.CODE for r in RULES])
def test_rule_class_is_documented(rule: type[LintRule]) -> None:
    assert re.fullmatch(r"JL\d{3}", rule.CODE) and rule.CODE != "JL000"
    assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", rule.NAME)
    assert rule.MESSAGE.strip() and rule.WHY.strip()
    assert re.fullmatch(r"P\d+", rule.PITFALL)
    assert rule.FIX_SAFETY in ("safe", "unsafe", "none")
    assert rule.PREFILTER, "an empty PREFILTER makes every file parse for this rule"
    assert len(rule.valid_examples()) >= 2
    assert len(rule.INVALID) >= 2
    has_replacement = any(ex.expected_replacement for ex in rule.INVALID)
    assert has_replacement == (rule.FIX_SAFETY != "none"), "FIX_SAFETY must match whether examples show a fix"
