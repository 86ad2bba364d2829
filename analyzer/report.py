"""Stage 7 — report: a rich table per case, a PR comment, workflow annotations, or JSON.

JSON schema ``jaxlint.scale/1`` (stable; new keys may be added, none removed or renamed):

    {"schema": "jaxlint.scale/1", "jaxlint_version": str, "platform": str, "notes": [str],
     "baseline": null | {"path", "tolerance", "ok", "compared", "unmatched_cases",
                         "regressions": [{"case", "figure", "n", "old", "new"}]},
     "cases": [{"name": str, "n": [int], "verdict": "ok" | "fail" | "error" | "skipped",
                "axis": "save points" | "max_steps" | "n",  (what n counts)
                "site": null | {"path", "line"},  (a script's call: where it is)
                "notes": [str], "skipped": str | null,
                "error": str | null, "details": str | null,
                "figures": {figure: [value per n]},
                "fits": {figure: {"order", "per_n", "coefficient", "exponent", "judged"}},
                "flags": [{"figure", "order", "message",
                           "lines": [{"path", "line", "counts": [per n], "gained": {op: int}}]}],
                "top_ops": {op name: [count per n]},
                "runs": [{"path", "line", "pattern": [op names], "repeats": [per n]}],
                "constant_lines": [{"path", "line", "counts": [bytes per n], "gained"}],
                "compile_timeouts": [n],
                "lint": [{"path", "line", "code", "name", "message",
                          "fix": null | {"applicability", "before", "after"}}]}]}

``render_markdown`` writes a PR comment; ``render_github`` writes workflow commands
(``::error file=...,line=...::message``) that GitHub shows on the growing lines.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import TYPE_CHECKING, Any, Sequence

from rich.console import Console
from rich.table import Table
from rich.text import Text

from jaxlint import __version__

from .figures import FIGURE_UNITS
from .lint_match import LineFinding, LineFindings
from .scale import CaseResult, run_lines
from .verdict import LineGrowth

if TYPE_CHECKING:  # pragma: no cover
    from .baseline import BaselineComparison

SCHEMA = "jaxlint.scale/1"

_FIGURE_ORDER = (
    "ops",
    "ops_inlined",
    "branches",
    "loops",
    "calls",
    "longest_run",
    "custom_calls",
    "constant_bytes",
    "max_depth",
    "trace_seconds",
    "lower_seconds",
    "compile_seconds",
    "compile_cpu_seconds",
    "compiled_temp_bytes",
    "compiled_argument_bytes",
    "compiled_output_bytes",
    "compiled_code_bytes",
)


def _figure_names(result: CaseResult) -> list[str]:
    present = {name for m in result.measurements for name in m.figures}
    ordered = [name for name in _FIGURE_ORDER if name in present]
    return ordered + sorted(present - set(ordered))


def _top_ops(result: CaseResult, limit: int = 8) -> dict[str, list[int]]:
    """The op kinds with the most ops at the largest n, with their count at each n."""
    if not result.measurements:
        return {}
    largest = result.measurements[-1].ops_by_name
    names = sorted(largest, key=lambda k: (-largest[k], k))[:limit]
    return {name: [m.ops_by_name.get(name, 0) for m in result.measurements] for name in names}


def _runs_across_n(result: CaseResult, limit: int = 10) -> list[dict[str, Any]]:
    """The longest runs, each with its repeats at every n (0 where it is absent)."""
    per_key: dict[tuple[str, int, tuple[str, ...]], list[int]] = {}
    for index, measurement in enumerate(result.measurements):
        for run in measurement.runs:
            key = (run["path"], run["line"], tuple(run["pattern"]))
            counts = per_key.setdefault(key, [0] * len(result.measurements))
            counts[index] = max(counts[index], run["repeats"])
    ordered = sorted(per_key.items(), key=lambda item: (-item[1][-1], item[0]))[:limit]
    return [{"path": p, "line": l, "pattern": list(pattern), "repeats": counts} for (p, l, pattern), counts in ordered]


def _case_lines(result: CaseResult) -> list[tuple[str, int]]:
    if result.verdict is None:
        return []
    return [(line.path, line.line) for flag in result.verdict.flags for line in flag.lines]


def case_to_json(result: CaseResult, findings: LineFindings | None = None) -> dict[str, Any]:
    names = _figure_names(result)
    verdict = result.verdict
    lint = [
        {"path": path, "line": line, **finding.to_json()}
        for path, line in dict.fromkeys(_case_lines(result))
        for finding in (findings or {}).get((path, line), [])
    ]
    site = getattr(result, "site", None)
    return {
        "name": result.name,
        "n": result.ns,
        "verdict": result.status,
        "axis": getattr(result, "axis", "n"),
        "site": {"path": site[0], "line": site[1]} if site else None,
        "notes": list(getattr(result, "notes", [])),
        "skipped": getattr(result, "skipped", None),
        "error": result.error,
        "details": result.details,
        "figures": {name: [m.figures.get(name) for m in result.measurements] for name in names},
        "fits": {
            name: {"order": fit.order, "per_n": fit.per_n, "coefficient": fit.coefficient, "exponent": fit.exponent,
                   "judged": name not in verdict.unjudged}
            for name, fit in (verdict.fits.items() if verdict else ())
        },
        "flags": [asdict(flag) for flag in (verdict.flags if verdict else [])],
        "top_ops": _top_ops(result),
        "runs": _runs_across_n(result),
        "constant_lines": [asdict(line) for line in _constant_lines(result)],
        "compile_timeouts": result.compile_timeouts,
        "lint": lint,
    }


def to_json(
    results: Sequence[CaseResult],
    *,
    platform: str | None = None,
    notes: Sequence[str] = (),
    findings: LineFindings | None = None,
    gate: "BaselineComparison | None" = None,
) -> dict[str, Any]:
    return {
        "schema": SCHEMA,
        "jaxlint_version": __version__,
        "platform": platform,
        "notes": list(notes),
        "baseline": gate.to_json() if gate is not None else None,
        "cases": [case_to_json(r, findings) for r in results],
    }


def _fit_text(result: CaseResult, name: str) -> str:
    from .scale import UNJUDGED_NOTE

    assert result.verdict is not None
    fit = result.verdict.fits.get(name)
    if fit is None:
        return "-"
    text = fit.describe(FIGURE_UNITS.get(name, ""))
    if name in result.verdict.unjudged:
        text += f" ({UNJUDGED_NOTE})"
    return text


def _format_value(name: str, value: float | None) -> str:
    if value is None:
        return "-"
    if name.endswith("_seconds"):
        return f"{value:.3f}"
    return f"{int(value):,}"


def _counts(line: LineGrowth) -> str:
    return " → ".join(f"{c:,}" for c in line.counts)


def _gained(line: LineGrowth) -> str:
    return ", ".join(f"+{k} {op.removeprefix('stablehlo.')}" for op, k in list(line.gained.items())[:4])


def _sections(result: CaseResult) -> list[tuple[str, list[LineGrowth]]]:
    """(heading, lines) to show under a case: op growth by line, then growing runs."""
    assert result.verdict is not None
    sections = []
    shown = next((f for f in result.verdict.flags if f.lines and f.figure != "longest_run"), None)
    if shown is not None:
        sections.append((f"source lines whose {shown.figure} grow (count at each n)", shown.lines))
    runs = next((f for f in result.verdict.flags if f.figure == "longest_run"), None)
    growing_runs = runs.lines if runs is not None else run_lines(result.measurements)
    if growing_runs:
        sections.append(("unrolled runs that grow (repeats of one op pattern in a row, at each n)", growing_runs))
    constants = _constant_lines(result)
    if constants:
        sections.append(("source lines whose constant bytes grow (bytes at each n)", constants))
    return sections


def _constant_lines(result: CaseResult) -> list[LineGrowth]:
    """Lines whose dense constants grow (a closed-over array baked into the program)."""
    from .attribute import CONSTANT_BYTES_KEY
    from .verdict import growing_lines

    fit = result.verdict.fits.get("constant_bytes") if result.verdict else None
    if fit is None or fit.order == "constant":
        return []
    return growing_lines(result.measurements, frozenset({CONSTANT_BYTES_KEY}))


def _print_finding(console: Console, finding: LineFinding, indent: str) -> None:
    console.print(Text.assemble((f"{indent}{finding.code} ", "bold magenta"), f"{finding.name}: {finding.message}"), soft_wrap=True)
    if finding.after is not None:
        for text in (finding.before or "").splitlines():
            console.print(Text(f"{indent}  - {text.strip()}", style="red"), soft_wrap=True)
        for text in finding.after.splitlines():
            console.print(Text(f"{indent}  + {text.strip()}", style="green"), soft_wrap=True)


_STATUS_STYLE = {"ok": "bold green", "fail": "bold red", "error": "bold yellow", "skipped": "bold blue"}
_STATUS_WORD = {"skipped": "SKIP"}


def print_case_header(console: Console, result: Any) -> bool:
    """``STATUS  name``, and for a case that could not be measured its error and the user's
    traceback. False when the case errored (nothing more to show). ``result`` has ``status``,
    ``name``, ``error`` and ``details`` (scale's and residuals' case results both do)."""
    word = _STATUS_WORD.get(result.status, result.status.upper())
    console.print(
        Text.assemble((f"{word:5}", _STATUS_STYLE[result.status]), " ", (getattr(result, "title", result.name), "bold")),
        soft_wrap=True,
    )
    for note in getattr(result, "notes", []):
        console.print(f"  note: {note}", markup=False, soft_wrap=True)
    skipped = getattr(result, "skipped", None)
    if skipped is not None:
        console.print(f"  {skipped}", markup=False, soft_wrap=True)
        console.print()
        return False
    if result.error is None:
        return True
    console.print(f"  error: {result.error}", markup=False, soft_wrap=True)
    if result.details:
        console.print(result.details.rstrip(), markup=False, highlight=False, soft_wrap=True)
    console.print()
    return False


def render_table(
    results: Sequence[CaseResult],
    console: Console,
    *,
    findings: LineFindings | None = None,
    notes: Sequence[str] = (),
    gate: "BaselineComparison | None" = None,
) -> None:
    for note in notes:
        console.print(f"note: {note}", markup=False, soft_wrap=True)
    for result in results:
        if not print_case_header(console, result):
            continue
        assert result.verdict is not None
        flagged = {flag.figure for flag in result.verdict.flags}
        table = Table(show_edge=True, header_style="bold")
        table.add_column("figure")
        for n in result.ns:
            table.add_column(f"n={n:,}", justify="right")
        table.add_column("fit")
        table.add_column("")
        for name in _figure_names(result):
            description = _fit_text(result, name)
            mark = Text("FLAG", style="bold red") if name in flagged else Text("")
            table.add_row(name, *[_format_value(name, m.figures.get(name)) for m in result.measurements], description, mark)
        console.print(table)
        if result.verdict.unjudged:
            from .scale import UNJUDGED_WHY

            console.print(f"  {UNJUDGED_WHY}", markup=False, soft_wrap=True)
        for flag in result.verdict.flags:
            console.print(Text.assemble(("  flag ", "bold red"), flag.message))
        explained: set[tuple[str, int]] = set()  # a line's lint finding is shown once per case
        for heading, lines in _sections(result):
            console.print(f"  {heading}:", markup=False)
            for line in lines:
                console.print(f"    {line.path}:{line.line}  {_counts(line)}  ({_gained(line)})", markup=False, highlight=False, soft_wrap=True)
                if (line.path, line.line) in explained:
                    continue
                explained.add((line.path, line.line))
                for finding in (findings or {}).get((line.path, line.line), []):
                    _print_finding(console, finding, "      ")
        console.print()
    if gate is not None:
        _print_gate(console, gate)


def _print_gate(console: Console, gate: "BaselineComparison") -> None:
    head = f"baseline {gate.path} (tolerance {gate.tolerance:.1%}, {gate.compared} figures compared)"
    if gate.ok:
        console.print(Text.assemble(("OK    ", "bold green"), head), soft_wrap=True)
    else:
        console.print(Text.assemble(("FAIL  ", "bold red"), head, f": {len(gate.regressions)} grew"), soft_wrap=True)
        for regression in gate.regressions:
            console.print(f"  {regression.describe()}", markup=False, soft_wrap=True)
    for name in gate.unmatched_cases:
        console.print(f"  note: {name} is not in the baseline (not gated)", markup=False, soft_wrap=True)
    for name, old in getattr(gate, "migrated", {}).items():
        console.print(f"  note: {name} matched the baseline's {old} (keyed by line; --save-baseline re-keys it)", markup=False, soft_wrap=True)


# ---------------------------------------------------------------------------------------------
# Markdown (a PR comment)


def _md_escape(text: str) -> str:
    return text.replace("|", "\\|")


def render_markdown(
    results: Sequence[CaseResult],
    *,
    findings: LineFindings | None = None,
    notes: Sequence[str] = (),
    gate: "BaselineComparison | None" = None,
    platform: str | None = None,
) -> str:
    failed = sum(r.status not in ("ok", "skipped") for r in results)
    gate_failed = gate is not None and not gate.ok
    verdict = "FAIL" if failed or gate_failed else "OK"
    out = [f"## jaxlint scale: {verdict}", ""]
    summary = f"{sum(r.status == 'ok' for r in results)} of {len(results)} case(s) ok"
    if platform:
        summary += f", lowered for `{platform}`"
    out += [summary + ".", ""]
    out += [f"> note: {note}" for note in notes]
    if notes:
        out.append("")
    for result in results:
        out += [f"### {_STATUS_WORD.get(result.status, result.status.upper())} `{result.name}`", ""]
        if result.title != result.name:
            out += [f"_{result.title[len(result.name):].strip()}_", ""]
        out += [f"> note: {_md_escape(note)}" for note in result.notes]
        if result.notes:
            out.append("")
        if result.skipped is not None:
            out += [result.skipped, ""]
            continue
        if result.error is not None:
            out += [f"error: {result.error}", ""]
            if result.details:
                out += ["<details><summary>details</summary>", "", "```", result.details.rstrip(), "```", "", "</details>", ""]
            continue
        assert result.verdict is not None
        flagged = {flag.figure for flag in result.verdict.flags}
        out.append("| figure | " + " | ".join(f"n={n:,}" for n in result.ns) + " | fit | |")
        out.append("| --- | " + " | ".join("---:" for _ in result.ns) + " | --- | --- |")
        for name in _figure_names(result):
            description = _fit_text(result, name)
            values = " | ".join(_format_value(name, m.figures.get(name)) for m in result.measurements)
            out.append(f"| {name} | {values} | {_md_escape(description)} | {'**FLAG**' if name in flagged else ''} |")
        out.append("")
        if result.verdict.unjudged:
            from .scale import UNJUDGED_WHY

            out += [f"_{UNJUDGED_WHY}_", ""]
        for flag in result.verdict.flags:
            out.append(f"- **flag** {_md_escape(flag.message)}")
        if result.verdict.flags:
            out.append("")
        explained: set[tuple[str, int]] = set()
        for heading, lines in _sections(result):
            out += [f"**{heading[0].upper() + heading[1:]}**", ""]
            for line in lines:
                out.append(f"- `{line.path}:{line.line}` {_counts(line)} ({_gained(line)})")
                if (line.path, line.line) in explained:
                    continue
                explained.add((line.path, line.line))
                for finding in (findings or {}).get((line.path, line.line), []):
                    out.append(f"  - **{finding.code}** {finding.name}: {finding.message}")
                    if finding.after is not None:
                        out += ["    ```diff"]
                        out += [f"    - {t.strip()}" for t in (finding.before or "").splitlines()]
                        out += [f"    + {t.strip()}" for t in finding.after.splitlines()]
                        out += ["    ```"]
            out.append("")
    if gate is not None:
        head = f"Baseline `{gate.path}` (tolerance {gate.tolerance:.1%}, {gate.compared} figures compared)"
        out += [f"### {'FAIL' if gate_failed else 'OK'} {head}", ""]
        out += [f"- {_md_escape(r.describe())}" for r in gate.regressions]
        out += [f"- note: `{name}` is not in the baseline (not gated)" for name in gate.unmatched_cases]
        out.append("")
    return "\n".join(out).rstrip() + "\n"


# ---------------------------------------------------------------------------------------------
# GitHub workflow annotations


def _gh_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _gh_property(text: str) -> str:
    return _gh_data(text).replace(":", "%3A").replace(",", "%2C")


def _in_workspace(path: str) -> bool:
    """Whether GitHub can show an annotation on this file: a relative path under the
    current directory that exists (not site-packages, not ``<no user frame>``)."""
    import os

    if os.path.isabs(path) or path.startswith(("<", "..")):
        return False
    return os.path.isfile(path)


def _line_message(line: LineGrowth, findings: LineFindings | None, *, named: bool) -> str:
    message = f"{line.path}:{line.line}: " if named else ""
    message += f"{_counts(line)} ({_gained(line)})"
    for finding in (findings or {}).get((line.path, line.line), []):
        message += f"\n{finding.code} {finding.name}: {finding.message}"
        if finding.after is not None:
            message += f"\nfix: {finding.after.strip()}"
    return message


def render_github(
    results: Sequence[CaseResult],
    *,
    findings: LineFindings | None = None,
    notes: Sequence[str] = (),
    gate: "BaselineComparison | None" = None,
) -> str:
    """One ``::error`` per growing line of the user's files (on that line), per other flag,
    per failed case. Lines outside the working directory (a library's) cannot carry an
    annotation: they go into the message of the case's own annotation, on the user's call
    site when there is one."""
    out = [f"::notice title=jaxlint scale::{_gh_data(note)}" for note in notes]
    for result in results:
        title = _gh_property(f"jaxlint scale {result.name}")
        site = getattr(result, "site", None)
        at_site = f"file={_gh_property(site[0])},line={site[1]}," if site and _in_workspace(site[0]) else ""
        if getattr(result, "skipped", None) is not None:
            out.append(f"::notice {at_site}title={title}::{_gh_data(result.skipped or '')}")
            continue
        if result.error is not None:
            out.append(f"::error {at_site}title={title}::{_gh_data(result.error)}")
            continue
        assert result.verdict is not None
        if result.verdict.ok:
            out.append(f"::notice {at_site}title={title}::{_gh_data(f'{result.title}: no figure grows past the bar')}")
            continue
        annotated: set[tuple[str, int]] = set()
        elsewhere: list[str] = []  # library lines, told in the case's own annotation
        for flag in result.verdict.flags:
            user_lines = [line for line in flag.lines if _in_workspace(line.path)]
            for line in flag.lines:
                if (line.path, line.line) in annotated:
                    continue
                annotated.add((line.path, line.line))
                text = _line_message(line, findings, named=line not in user_lines)
                if line in user_lines:
                    location = f"file={_gh_property(line.path)},line={line.line}"
                    out.append(f"::error {location},title={title}::{_gh_data(f'{result.title}: {flag.message}; this line: ' + text)}")
                else:
                    elsewhere.append(text)
            if not user_lines:
                message = f"{result.title}: {flag.message}"
                if elsewhere:
                    message += "\ngrowing lines outside this repository:\n" + "\n".join(elsewhere)
                    elsewhere = []
                out.append(f"::error {at_site}title={title}::{_gh_data(message)}")
    if gate is not None:
        title = _gh_property(f"jaxlint baseline {gate.path}")
        for regression in gate.regressions:
            out.append(f"::error title={title}::{_gh_data(regression.describe() + f' (tolerance {gate.tolerance:.1%})')}")
    return "\n".join(out) + ("\n" if out else "")
