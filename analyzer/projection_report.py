"""Report of ``--project-compile``: a table, JSON and markdown, every figure labelled a projection."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from .projection import (
    CENTRAL_CEILING_EXPONENT,
    EXPONENT_MARGIN,
    RISE_PRIOR,
    UPPER_CEILING_EXPONENT,
    CompileProjection,
    Projected,
    format_seconds,
)

RANGE_NOTE = (
    "compile seconds ~ floor + a·x^b with b fitted on the last calibration compiles and rising by its "
    f"measured rise per doubling (at least {RISE_PRIOR:g}): the central value takes half that rise (up to "
    f"b = {CENTRAL_CEILING_EXPONENT:g}, or the fitted b if higher), the upper end all of it (up to b = "
    f"{UPPER_CEILING_EXPONENT:g}) + {EXPONENT_MARGIN:g}, "
    f"the lower end none (the smallest exponent seen − {EXPONENT_MARGIN:g}); past a killed compile, all three "
    "grow from its time limit"
)


def _bytes(value: float) -> str:
    for unit, size in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if value >= size:
            return f"{value / size:.3g} {unit}"
    return f"{value:.0f} B"


def _cell(p: Projected, fmt: Any) -> str:
    if p.measured:
        return f"{fmt(p.value)} (measured)"
    return f"~{fmt(p.value)} ({fmt(p.low)}–{fmt(p.high)})"


def calibration_line(projection: CompileProjection) -> str:
    done = [s for s in projection.samples if s.seconds is not None]
    sizes = ", ".join(f"{s.n:,}: {s.seconds:.3g} s" for s in done) or "none"
    return (f"calibration ({projection.spent:.1f} s compiling of a {projection.budget:g} s budget, "
            f"{projection.elapsed:.0f} s in all; CPU seconds per compile at n = {sizes}); stopped: {projection.stopped}")


def render_projection(console: Console, projection: CompileProjection) -> None:
    """Below a case's scale table: projected compile seconds and memory per requested n."""
    style = {"flag": "bold red", "flat": "yellow", "ok": "green"}.get(projection.verdict, "")
    console.print(Text.assemble(("  compile PROJECTION ", "bold"), (f"[{projection.verdict}] ", style), projection.message))
    if projection.seconds:
        table = Table(show_edge=True, header_style="bold")
        table.add_column("n (projected)")
        table.add_column("compile seconds (CPU)", justify="right")
        if projection.memory:
            table.add_column("compiled memory", justify="right")
        for index, p in enumerate(projection.seconds):
            row = [f"{p.n:,}", _cell(p, format_seconds)]
            if projection.memory:
                row.append(_cell(projection.memory[index], _bytes))
            table.add_row(*row)
        console.print(table)
        console.print(f"  fitted against {projection.axis}; {RANGE_NOTE}", markup=False, highlight=False, soft_wrap=True)
    console.print(f"  {calibration_line(projection)}", markup=False, highlight=False, soft_wrap=True)


def _projected_json(p: Projected) -> dict[str, Any]:
    return {"n": p.n, "x": p.x, "value": p.value, "low": p.low, "high": p.high, "measured": p.measured}


def projection_to_json(projection: CompileProjection) -> dict[str, Any]:
    """``compile_projection`` of a case in ``jaxlint.scale/1`` (every value a projection unless ``measured``)."""
    return {
        "kind": "projection",
        "verdict": projection.verdict,
        "message": projection.message,
        "axis": projection.axis,
        "budget_seconds": projection.budget,
        "calibration_seconds": projection.spent,
        "calibration_elapsed_seconds": projection.elapsed,
        "stopped": projection.stopped,
        "floor_seconds": projection.floor,
        "exponents": projection.exponents,
        "range": RANGE_NOTE,
        "calibration": [s.to_json() for s in projection.samples],
        "compile_seconds": [_projected_json(p) for p in projection.seconds],
        "compiled_memory_bytes": [_projected_json(p) for p in projection.memory],
    }


def projection_markdown(projection: CompileProjection) -> list[str]:
    out = [f"**Compile projection** ({projection.verdict}): {projection.message}", ""]
    if projection.seconds:
        header = "| n | projected compile (CPU s) |" + (" projected memory |" if projection.memory else "")
        out += [header, "| ---: | ---: |" + (" ---: |" if projection.memory else "")]
        for index, p in enumerate(projection.seconds):
            row = f"| {p.n:,} | {_cell(p, format_seconds)} |"
            if projection.memory:
                row += f" {_cell(projection.memory[index], _bytes)} |"
            out.append(row)
        out += ["", f"Fitted against {projection.axis}; {RANGE_NOTE}."]
    out += ["", calibration_line(projection).capitalize() + "."]
    return out
