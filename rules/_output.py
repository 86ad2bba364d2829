"""Rendering findings: text (with source snippet and fix), json, github annotations, sarif.

Positions: findings carry 1-based lines and 0-based columns; every output format prints
1-based columns (ruff's, GitHub's and SARIF's convention). Notebook findings print as
``path:cell N:line:col``; in json/sarif they carry ``cell`` and cell-relative lines.

JSON schema (``"schema": "jaxlint.check/1"``, named like ``jaxlint.scale/1``)::

    {"schema": "jaxlint.check/1", "jaxlint_version": "<jaxlint>",
     "summary": {"findings": N, "fixable": F, "files": M, "fixed": X},
     "findings": [{"path", "line", "column", "end_line", "end_column", "cell",
                   "code", "name", "message",
                   "fix": null | {"applicability": "safe"|"unsafe",
                                  "edits": [{"line", "column", "end_line", "end_column", "content"}]}}]}

With ``--statistics`` json is a list of ``{"code", "name", "count", "fixable"}``.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Iterable, Mapping, Sequence

from jaxlint.rules._findings import Finding

SCHEMA = "jaxlint.check/1"
FORMATS = ("text", "json", "github", "sarif")


def _column(value: int) -> int:
    return value + 1


def _location(finding: Finding) -> str:
    if finding.cell is not None:
        return f"{finding.path}:cell {finding.cell}:{finding.line}:{_column(finding.column)}"
    return f"{finding.path}:{finding.line}:{_column(finding.column)}"


def _is_applicable(finding: Finding, unsafe: bool) -> bool:
    return finding.fix is not None and (unsafe or finding.fix.applicability == "safe")


# --- text --------------------------------------------------------------------------------------
def _fixed_lines(lines: Sequence[str], finding: Finding) -> list[str]:
    """The lines the finding's fix touches, as they read after the fix."""
    assert finding.fix is not None
    edits = sorted(finding.fix.edits, key=lambda e: (e.line, e.column), reverse=True)
    first = min(e.line for e in edits)
    last = max(e.end_line for e in edits)
    block = "\n".join(lines[first - 1 : last])
    for edit in edits:
        start = sum(len(l) + 1 for l in lines[first - 1 : edit.line - 1]) + edit.column
        end = sum(len(l) + 1 for l in lines[first - 1 : edit.end_line - 1]) + edit.end_column
        block = block[:start] + edit.content + block[end:]
    return block.split("\n")


def render_text(
    findings: Sequence[Finding],
    sources: Mapping[tuple[str, int | None], Sequence[str]],
    *,
    unsafe_fixes: bool = False,
    fix_applied: int = 0,
    show_source: bool = True,
) -> str:
    """ruff-like text: ``path:line:col: CODE [*] message``, the source line with carets, the fix."""
    out: list[str] = []
    for finding in findings:
        marker = " [*]" if _is_applicable(finding, unsafe_fixes) else ""
        out.append(f"{_location(finding)}: {finding.code}{marker} {finding.message}")
        lines = sources.get((finding.path, finding.cell))
        if not show_source or not lines or not 1 <= finding.line <= len(lines):
            continue
        text = lines[finding.line - 1].rstrip("\r\n")
        gutter = len(str(finding.end_line if finding.fix is None else max(finding.end_line, finding.line)))
        out.append(f"{' ' * gutter} |")
        out.append(f"{finding.line:>{gutter}} | {text}")
        end = finding.end_column if finding.end_line == finding.line else len(text)
        width = max(end - finding.column, 1)
        out.append(f"{' ' * gutter} | {' ' * finding.column}{'^' * width} {finding.code}")
        if finding.fix is not None:
            label = finding.fix.applicability
            fixed = _fixed_lines(lines, finding)
            out.append(f"{' ' * gutter} = fix ({label}):")
            out.extend(f"{' ' * gutter}   {line}" for line in fixed)
        out.append("")
    count = len(findings)
    if count:
        fixable = sum(1 for f in findings if _is_applicable(f, unsafe_fixes))
        hidden = sum(1 for f in findings if f.fix is not None and f.fix.applicability == "unsafe" and not unsafe_fixes)
        # ruff counts every error found, fixed ones included: "Found 3 errors (2 fixed, 1 remaining)."
        total = count + fix_applied
        out.append(f"Found {total} error{'s' if total != 1 else ''}" + (f" ({fix_applied} fixed, {count} remaining)." if fix_applied else "."))
        if fixable:
            out.append(f"[*] {fixable} fixable with the `--fix` option.")
        if hidden:
            out.append(f"{hidden} hidden fix{'es' if hidden != 1 else ''} can be enabled with the `--unsafe-fixes` option.")
    elif fix_applied:
        out.append(f"Found {fix_applied} error{'s' if fix_applied != 1 else ''} ({fix_applied} fixed, 0 remaining).")
    else:
        out.append("All checks passed!")
    return "\n".join(out) + "\n"


# --- json --------------------------------------------------------------------------------------
def finding_to_dict(finding: Finding) -> dict:
    fix = None
    if finding.fix is not None:
        fix = {
            "applicability": finding.fix.applicability,
            "edits": [
                {
                    "line": e.line,
                    "column": _column(e.column),
                    "end_line": e.end_line,
                    "end_column": _column(e.end_column),
                    "content": e.content,
                }
                for e in finding.fix.edits
            ],
        }
    return {
        "path": finding.path,
        "line": finding.line,
        "column": _column(finding.column),
        "end_line": finding.end_line,
        "end_column": _column(finding.end_column),
        "cell": finding.cell,
        "code": finding.code,
        "name": finding.name,
        "message": finding.message,
        "fix": fix,
    }


def render_json(findings: Sequence[Finding], *, files: int = 0, fixed: int = 0) -> str:
    from jaxlint import __version__

    payload = {
        "schema": SCHEMA,
        "jaxlint_version": __version__,
        "summary": {
            "findings": len(findings),
            "fixable": sum(1 for f in findings if f.fix is not None),
            "files": files,
            "fixed": fixed,
        },
        "findings": [finding_to_dict(f) for f in findings],
    }
    return json.dumps(payload, indent=2, ensure_ascii=False) + "\n"


# --- github ------------------------------------------------------------------------------------
def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def render_github(findings: Sequence[Finding]) -> str:
    """GitHub Actions workflow commands: one ``::error`` annotation per finding."""
    out = []
    for f in findings:
        title = f"{f.code} ({f.name})"
        location = f"cell {f.cell}, " if f.cell is not None else ""
        out.append(
            f"::error title={_escape_property(title)},file={_escape_property(f.path)},line={f.line},"
            f"col={_column(f.column)},endLine={f.end_line},endColumn={_column(f.end_column)}::"
            f"{_escape_data(f'{location}{f.code} {f.message}')}"
        )
    return "".join(line + "\n" for line in out)


# --- sarif -------------------------------------------------------------------------------------
def artifact_uri(path: str) -> str:
    """A SARIF ``artifactLocation.uri`` (RFC 3986): relative paths stay relative references,
    absolute ones become ``file://`` URIs; every byte outside the unreserved set and ``/`` is
    percent-encoded as UTF-8 (``100%.py`` -> ``100%25.py``, ``a,b:c.py`` -> ``a%2Cb%3Ac.py``:
    an unencoded ``:`` would read as a URI scheme)."""
    from urllib.parse import quote

    encoded = quote(path, safe="/")
    return f"file://{encoded}" if path.startswith("/") else encoded


def render_sarif(findings: Sequence[Finding], rules: Iterable[type]) -> str:
    """SARIF 2.1.0 with one run; every catalogue rule is described, findings reference them."""
    from jaxlint import __version__

    rule_list = sorted(rules, key=lambda r: r.CODE)
    index = {r.CODE: i for i, r in enumerate(rule_list)}
    descriptors = [
        {
            "id": r.CODE,
            "name": r.NAME,
            "shortDescription": {"text": r.MESSAGE},
            "fullDescription": {"text": " ".join(r.WHY.split())},
            "help": {"text": " ".join(r.WHY.split())},
            "properties": {"pitfall": r.PITFALL, "fixSafety": r.FIX_SAFETY, "tracedOnly": r.TRACED_ONLY},
        }
        for r in rule_list
    ]
    descriptors.insert(0, {"id": "JL000", "name": "syntax-error", "shortDescription": {"text": "The file cannot be parsed or read."}})
    results = []
    for f in findings:
        region = {
            "startLine": f.line,
            "startColumn": _column(f.column),
            "endLine": f.end_line,
            "endColumn": _column(f.end_column),
        }
        result: dict = {
            "ruleId": f.code,
            "level": "error",
            "message": {"text": f.message},
            "locations": [{"physicalLocation": {"artifactLocation": {"uri": artifact_uri(f.path)}, "region": region}}],
        }
        if f.code in index:
            result["ruleIndex"] = index[f.code] + 1
        elif f.code == "JL000":
            result["ruleIndex"] = 0
        if f.cell is not None:
            result["properties"] = {"cell": f.cell}
        if f.fix is not None and f.cell is None:
            result["fixes"] = [
                {
                    "description": {"text": f"{f.fix.applicability} fix for {f.code}"},
                    "artifactChanges": [
                        {
                            "artifactLocation": {"uri": artifact_uri(f.path)},
                            "replacements": [
                                {
                                    "deletedRegion": {
                                        "startLine": e.line,
                                        "startColumn": _column(e.column),
                                        "endLine": e.end_line,
                                        "endColumn": _column(e.end_column),
                                    },
                                    "insertedContent": {"text": e.content},
                                }
                                for e in f.fix.edits
                            ],
                        }
                    ],
                }
            ]
        results.append(result)
    sarif = {
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "jaxlint",
                        "version": __version__,
                        "informationUri": "https://github.com/jaxlint/jaxlint",
                        "rules": descriptors,
                    }
                },
                "columnKind": "unicodeCodePoints",
                "results": results,
            }
        ],
    }
    return json.dumps(sarif, indent=2, ensure_ascii=False) + "\n"


# --- statistics ----------------------------------------------------------------------------------
def statistics(findings: Sequence[Finding], unsafe_fixes: bool = False) -> list[dict]:
    """Per code: count and whether any is fixable, most frequent first (then by code)."""
    counts = Counter(f.code for f in findings)
    names = {f.code: f.name for f in findings}
    fixable = {f.code for f in findings if _is_applicable(f, unsafe_fixes)}
    return [
        {"code": code, "name": names[code], "count": count, "fixable": code in fixable}
        for code, count in sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    ]


def render_statistics(findings: Sequence[Finding], output_format: str, unsafe_fixes: bool = False) -> str:
    rows = statistics(findings, unsafe_fixes)
    if output_format == "json":
        return json.dumps(rows, indent=2) + "\n"
    if not rows:
        return ""
    width = max(len(str(r["count"])) for r in rows)
    return "".join(
        f"{r['count']:>{width}}\t{r['code']}\t{'[*]' if r['fixable'] else '[ ]'} {r['name']}\n" for r in rows
    )
