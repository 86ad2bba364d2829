"""Report for ``jaxlint residuals``: a rich table, GitHub markdown, or a versioned JSON document.

JSON schema ``jaxlint.residuals/1`` (stable; new keys may be added, none removed or renamed):

    {"schema": "jaxlint.residuals/1", "jaxlint_version": str, "max_order": str,
     "cases": [{"name": str, "n": [int], "verdict": "ok" | "fail" | "error",
                "error": str | null, "details": str | null,
                "figures": {figure: [value per n]},     # residual_bytes, residuals[, compiled_temp_bytes, compiled_peak_bytes]
                "fits": {figure: {"order", "per_n", "coefficient", "exponent"}},
                "flags": [{"figure", "order", "message",
                           "lines": [{"path", "line", "counts": [bytes per n], "gained": {dtype: bytes}}]}],
                "largest": [{"shape": [int], "dtype", "nbytes", "kind", "source", "count"}],  # at the largest n;
                                 # identical residuals grouped: nbytes each, count of them
                "lines": {"path:line": [bytes per n]},
                "adjoints": null | {"library", "gradient_n", "reference", "cheapest", "ranked_by", "summary": [str], "unchecked": str | null,
                    "results": [{"label", "short", "exact", "tradeoff", "figures": {figure: [per n]},
                                 "fits": {figure: {...}}, "gradient_difference", "tolerance",
                                 "agrees", "grad_seconds", "gradient_error", "error"}]}}]}
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any, Sequence

from rich.console import Console
from rich.table import Table
from rich.text import Text

from jaxlint import __version__

from .adjoints import AdjointComparison, AdjointResult
from .fit import Fit
from .report import print_case_header
from .residual_growth import ResidualCaseResult
from .residuals import RESIDUAL_FIGURES, RESIDUAL_UNITS, Residual

SCHEMA = "jaxlint.residuals/1"



def _fit_json(fits: dict[str, Fit]) -> dict[str, Any]:
    return {
        name: {"order": fit.order, "per_n": fit.per_n, "coefficient": fit.coefficient, "exponent": fit.exponent}
        for name, fit in fits.items()
    }


def _figures(measurements: Sequence[Any]) -> dict[str, list[float | None]]:
    # A figure measured at some n only (the compiled peak for the ranking, at the largest n) is
    # listed with null elsewhere.
    present = [name for name in RESIDUAL_FIGURES if any(name in m.figures for m in measurements)]
    return {name: [m.figures.get(name) for m in measurements] for name in present}


def _adjoints_json(comparison: AdjointComparison) -> dict[str, Any]:
    return {
        "library": comparison.library,
        "gradient_n": comparison.gradient_n,
        "reference": comparison.reference,
        "cheapest": comparison.cheapest,
        "ranked_by": comparison.ranked_by,
        "summary": comparison.summary,
        "unchecked": comparison.unchecked,
        "results": [
            {
                "label": r.label,
                "short": r.short,
                "exact": r.exact,
                "tradeoff": r.tradeoff,
                "figures": _figures(r.measurements),
                "fits": _fit_json(r.fits),
                "gradient_difference": r.gradient_difference,
                "tolerance": r.tolerance,
                "agrees": r.agrees,
                "grad_seconds": r.grad_seconds,
                "gradient_error": r.gradient_error,
                "error": r.error,
            }
            for r in comparison.results
        ],
    }


def case_to_json(result: ResidualCaseResult) -> dict[str, Any]:
    measurements = result.measurements
    verdict = result.verdict
    sources = sorted({source for m in measurements for source in m.lines})
    return {
        "name": result.name,
        "n": result.ns,
        "verdict": result.status,
        "error": result.error,
        "details": result.details,
        "figures": _figures(measurements),
        "fits": _fit_json(verdict.fits) if verdict else {},
        "flags": [asdict(flag) for flag in (verdict.flags if verdict else [])],
        "largest": [asdict(r) for r in measurements[-1].largest] if measurements else [],
        "lines": {source: [m.lines.get(source, 0) for m in measurements] for source in sources},
        "adjoints": _adjoints_json(result.adjoints) if result.adjoints is not None else None,
    }


def to_json(results: Sequence[ResidualCaseResult], max_order: str) -> dict[str, Any]:
    return {
        "schema": SCHEMA,
        "jaxlint_version": __version__,
        "max_order": max_order,
        "cases": [case_to_json(r) for r in results],
    }


# --- human formats ---------------------------------------------------------------------------


def _count(value: float | None) -> str:
    return "-" if value is None else f"{int(value):,}"


def _describe(fit: Fit | None, name: str) -> str:
    return fit.describe(RESIDUAL_UNITS[name]) if fit is not None else "-"


def _group_text(residual: Residual) -> str:
    """``float64[500] ×2   8,000 B`` (the count only when several identical residuals)."""
    times = f"×{residual.count:,}" if residual.count > 1 else ""
    return f"{residual.type_text:<16} {times:>6} {residual.total_bytes:>9,} B"


def _gradient_cell(result: AdjointResult) -> str:
    """``ok 3.1e-16`` / ``DIFFERS 3.8e-01``: relative difference from the reference gradient."""
    if result.error is not None or result.gradient_error is not None:
        return "error"
    if result.agrees is None:
        return "not run"
    return f"{'ok' if result.agrees else 'DIFFERS'} {result.gradient_difference:.1e}"


def _adjoint_rows(comparison: AdjointComparison) -> tuple[list[str], list[list[str]]]:
    """Residual bytes per n and their growth; the compiled gradient's peak bytes at the largest n
    when measured (what the ranking uses); the gradient check and its run time."""
    with_peak = any(r.figure("compiled_peak_bytes") is not None for r in comparison.results)
    header = ["adjoint", *[f"n={n:,}" for n in comparison.ns], "growth"]
    if with_peak:
        header.append(f"peak n={comparison.ns[-1]:,}")
    header += ["gradient", "grad ms"]
    rows: list[list[str]] = []
    for r in comparison.results:
        if r.error is not None:
            rows.append([r.short, *["-"] * (len(header) - 3), "error", "-"])
            continue
        row = [r.short, *[_count(m.figures.get("residual_bytes")) for m in r.measurements]]
        fit = r.fits.get("residual_bytes")
        row.append("-" if fit is None else "shrinks" if fit.per_n < 0 else fit.order)
        if with_peak:
            row.append(_count(r.figure("compiled_peak_bytes")))
        row += [_gradient_cell(r), f"{r.grad_seconds * 1e3:.2f}" if r.grad_seconds is not None else "-"]
        rows.append(row)
    return header, rows


def _adjoint_notes(comparison: AdjointComparison) -> list[str]:
    """Below the table: the tolerances, each failure, and the recommendation."""
    notes = []
    if comparison.reference is not None:
        notes.append(
            f"gradient: max relative difference from {comparison.reference} at n={comparison.gradient_n:,} "
            "(allowed: sqrt(eps) for exact adjoints, --backsolve-rtol for Backsolve)"
        )
    notes += [f"{r.short}: {r.error}" for r in comparison.results if r.error is not None]
    notes += [f"{r.short}: the gradient failed: {r.gradient_error}" for r in comparison.results if r.gradient_error is not None]
    return notes + comparison.summary


def _figure_rows(result: ResidualCaseResult) -> list[list[str]]:
    assert result.verdict is not None
    flagged = {flag.figure for flag in result.verdict.flags}
    rows = []
    for name, values in _figures(result.measurements).items():
        fit = result.verdict.fits.get(name)
        rows.append([name, *[_count(v) for v in values], _describe(fit, name), "FLAG" if name in flagged else ""])
    return rows


def render_table(results: Sequence[ResidualCaseResult], console: Console) -> None:
    for result in results:
        if not print_case_header(console, result):
            continue
        assert result.verdict is not None
        table = Table(show_edge=True, header_style="bold")
        for column in ["figure", *[f"n={n:,}" for n in result.ns], "fit", ""]:
            table.add_column(column, justify="right" if column.startswith("n=") else "left")
        for row in _figure_rows(result):
            table.add_row(*row[:-1], Text(row[-1], style="bold red"))
        console.print(table)
        largest = result.measurements[-1]
        if largest.largest:
            console.print(f"  largest residuals at n={largest.n:,}:", markup=False)
            for r in largest.largest:
                console.print(f"    {_group_text(r)}  {r.kind:<20} {r.source}", markup=False, highlight=False, soft_wrap=True)
        for flag in result.verdict.flags:
            console.print(Text.assemble(("  flag ", "bold red"), flag.message))
        shown = next((flag for flag in result.verdict.flags if flag.lines), None)
        if shown is not None:
            console.print("  source lines whose residual bytes grow (bytes at each n):", markup=False)
            for line in shown.lines:
                counts = " → ".join(f"{c:,}" for c in line.counts)
                gained = ", ".join(f"+{k:,} B {dtype}" for dtype, k in line.gained.items())
                console.print(f"    {line.path}:{line.line}  {counts}  ({gained})", markup=False, highlight=False, soft_wrap=True)
        if result.adjoints is not None:
            _render_adjoints(result.adjoints, console)
        console.print()


def _adjoints_title(comparison: AdjointComparison) -> str:
    peak = any(r.figure("compiled_peak_bytes") is not None for r in comparison.results)
    return f"adjoints ({comparison.library}), residual bytes" + ("; peak = compiled gradient's peak bytes" if peak else "")


def _render_adjoints(comparison: AdjointComparison, console: Console) -> None:
    console.print(f"  {_adjoints_title(comparison)}:", markup=False)
    header, rows = _adjoint_rows(comparison)
    table = Table(show_edge=True, header_style="bold")
    for column in header:
        table.add_column(column, justify="right" if column.startswith(("n=", "peak", "grad ms")) else "left", no_wrap=column == "adjoint")
    for row in rows:
        table.add_row(*row)
    console.print(table)
    for line in _adjoint_notes(comparison):
        console.print(f"  {line}", markup=False, highlight=False, soft_wrap=True)


def _markdown_table(header: list[str], rows: list[list[str]]) -> list[str]:
    def cells(values: list[str]) -> str:
        return "| " + " | ".join(v.replace("|", "\\|") for v in values) + " |"

    return [cells(header), "| " + " | ".join("---" for _ in header) + " |", *[cells(r) for r in rows]]


def to_markdown(results: Sequence[ResidualCaseResult]) -> str:
    """GitHub-flavoured markdown (a PR comment): a table per case, flags, and the adjoint table."""
    out: list[str] = []
    for result in results:
        out.append(f"### {result.status.upper()} `{result.name}`")
        out.append("")
        if result.error is not None:
            out += [f"error: {result.error}", ""]
            continue
        rows = [row[:-1] + (["**FLAG**"] if row[-1] else [""]) for row in _figure_rows(result)]
        out += _markdown_table(["figure", *[f"n={n:,}" for n in result.ns], "fit", ""], rows)
        out.append("")
        largest = result.measurements[-1]
        if largest.largest:
            out.append(f"Largest residuals at n={largest.n:,}:")
            out.append("")
            out += [
                f"- `{r.type_text}`{f' ×{r.count:,}' if r.count > 1 else ''}: {r.total_bytes:,} B, {r.kind}, `{r.source}`"
                for r in largest.largest
            ]
            out.append("")
        assert result.verdict is not None
        out += [f"- **flag** {flag.message}" for flag in result.verdict.flags]
        if result.adjoints is not None:
            comparison = result.adjoints
            title = _adjoints_title(comparison)
            out += ["", f"{title[0].upper()}{title[1:]}:", ""]
            out += _markdown_table(*_adjoint_rows(comparison))
            out.append("")
            out += [f"- {line}" for line in _adjoint_notes(comparison)]
        out.append("")
    return "\n".join(out).rstrip() + "\n"
