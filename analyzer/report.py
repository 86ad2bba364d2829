"""Stage 7 — report: a rich table per case, or a versioned JSON document.

JSON schema ``jaxlint.scale/1`` (stable; new keys may be added, none removed or renamed):

    {"schema": "jaxlint.scale/1", "jaxlint_version": str,
     "cases": [{"name": str, "n": [int], "verdict": "ok" | "fail" | "error",
                "error": str | null, "details": str | null,
                "figures": {figure: [value per n]},
                "fits": {figure: {"order", "per_n", "coefficient", "exponent"}},
                "flags": [{"figure", "order", "message",
                           "lines": [{"path", "line", "counts": [per n], "gained": {op: int}}]}],
                "top_ops": {op name: [count per n]}}]}
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any, Sequence

from rich.console import Console
from rich.table import Table
from rich.text import Text

from jaxlint import __version__

from .figures import FIGURE_UNITS
from .scale import CaseResult

SCHEMA = "jaxlint.scale/1"

_FIGURE_ORDER = (
    "ops",
    "ops_inlined",
    "branches",
    "loops",
    "calls",
    "custom_calls",
    "constant_bytes",
    "max_depth",
    "trace_seconds",
    "lower_seconds",
)


def _figure_names(result: CaseResult) -> list[str]:
    present = set(result.measurements[0].figures) if result.measurements else set()
    ordered = [name for name in _FIGURE_ORDER if name in present]
    return ordered + sorted(present - set(ordered))


def _top_ops(result: CaseResult, limit: int = 8) -> dict[str, list[int]]:
    """The op kinds with the most ops at the largest n, with their count at each n."""
    if not result.measurements:
        return {}
    largest = result.measurements[-1].ops_by_name
    names = sorted(largest, key=lambda k: (-largest[k], k))[:limit]
    return {name: [m.ops_by_name.get(name, 0) for m in result.measurements] for name in names}


def case_to_json(result: CaseResult) -> dict[str, Any]:
    names = _figure_names(result)
    verdict = result.verdict
    return {
        "name": result.name,
        "n": result.ns,
        "verdict": result.status,
        "error": result.error,
        "details": result.details,
        "figures": {name: [m.figures.get(name) for m in result.measurements] for name in names},
        "fits": {
            name: {"order": fit.order, "per_n": fit.per_n, "coefficient": fit.coefficient, "exponent": fit.exponent}
            for name, fit in (verdict.fits.items() if verdict else ())
        },
        "flags": [asdict(flag) for flag in (verdict.flags if verdict else [])],
        "top_ops": _top_ops(result),
    }


def to_json(results: Sequence[CaseResult]) -> dict[str, Any]:
    return {"schema": SCHEMA, "jaxlint_version": __version__, "cases": [case_to_json(r) for r in results]}


def _format_value(name: str, value: float | None) -> str:
    if value is None:
        return "-"
    if name.endswith("_seconds"):
        return f"{value:.3f}"
    return f"{int(value):,}"


def render_table(results: Sequence[CaseResult], console: Console) -> None:
    for result in results:
        status_style = {"ok": "bold green", "fail": "bold red", "error": "bold yellow"}[result.status]
        console.print(Text.assemble((f"{result.status.upper():5}", status_style), " ", (result.name, "bold")), soft_wrap=True)
        if result.error is not None:
            console.print(f"  error: {result.error}", markup=False, soft_wrap=True)
            if result.details:
                console.print(result.details.rstrip(), markup=False, highlight=False, soft_wrap=True)
            console.print()
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
            fit = result.verdict.fits.get(name)
            description = fit.describe(FIGURE_UNITS.get(name, "")) if fit else "-"
            mark = Text("FLAG", style="bold red") if name in flagged else Text("")
            table.add_row(name, *[_format_value(name, m.figures.get(name)) for m in result.measurements], description, mark)
        console.print(table)
        for flag in result.verdict.flags:
            console.print(Text.assemble(("  flag ", "bold red"), flag.message))
        shown = next((flag for flag in result.verdict.flags if flag.lines), None)
        if shown is not None:
            console.print(f"  source lines whose {shown.figure} grow (count at each n):", markup=False)
            for line in shown.lines:
                counts = " → ".join(f"{c:,}" for c in line.counts)
                gained = ", ".join(f"+{k} {op.removeprefix('stablehlo.')}" for op, k in list(line.gained.items())[:4])
                console.print(f"    {line.path}:{line.line}  {counts}  ({gained})", markup=False, highlight=False, soft_wrap=True)
        console.print()
