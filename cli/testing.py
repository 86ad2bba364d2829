"""Guard a program's size in your own tests: ``assert_program_size`` for any test runner.

    from jaxlint.testing import assert_program_size

    def make_solve(n):            # as for `jaxlint scale file.py::make_solve`
        return solve, (y0, jnp.linspace(0.0, 1.0, n))

    assert_program_size(make_solve, n=[16, 64, 256], max_order="constant")

Each n is lowered in this process (like ``jaxlint scale --in-process``), measured, fitted and
judged as ``jaxlint scale`` does; a failure raises :class:`ProgramSizeError` (an
``AssertionError``) whose message is the same growth table and flagged source lines, with the
matching lint rule and its rewrite. Only the deterministic figures are judged and shown (op
counts and the like): trace and lower seconds are left out, so a test never fails on a busy
machine. With pytest, the ``jaxlint_scale`` fixture (:mod:`jaxlint.pytest_plugin`) does the
same and adds ``--jaxlint-baseline FILE``.
"""

from __future__ import annotations

import inspect
import io
import os
from typing import TYPE_CHECKING, Any, Callable, Mapping, Sequence

if TYPE_CHECKING:  # pragma: no cover
    from jaxlint.analyzer.baseline import BaselineComparison
    from jaxlint.analyzer.scale import CaseResult, ScaleRun

DEFAULT_SIZES = (16, 64, 256)
_REPORT_WIDTH = 120


class ProgramSizeError(AssertionError):
    """The program grew past ``max_order`` or past the baseline; the message is the report."""

    def __init__(self, message: str, run: "ScaleRun") -> None:
        super().__init__(message)
        self.run = run


def case_name(factory: Callable[..., Any]) -> str:
    """``file.py::name``, as ``jaxlint scale file.py::name`` names the case (so baselines match)."""
    try:
        path = inspect.getsourcefile(factory) or "<unknown>"
    except TypeError:
        path = "<unknown>"
    return f"{os.path.basename(path)}::{getattr(factory, '__qualname__', repr(factory))}"


def _built(factory: Callable[..., Any], name: str, n: int) -> tuple[Callable[..., Any], tuple, dict]:
    """``factory(n)`` as ``(fn, args, kwargs)``; a wrong shape is a one-line TypeError."""
    built = factory(n)
    hint = "expected (fn, args) or (fn, args, kwargs)"
    if not isinstance(built, tuple) or len(built) not in (2, 3):
        raise TypeError(f"{name}({n}) returned {type(built).__name__}; {hint}")
    fn, args = built[0], built[1]
    kwargs = built[2] if len(built) == 3 else {}
    if not callable(fn):
        raise TypeError(f"{name}({n}) returned a non-callable fn ({type(fn).__name__}); {hint}")
    if not isinstance(args, (tuple, list)) or not isinstance(kwargs, Mapping):
        raise TypeError(f"{name}({n}) returned args {type(args).__name__} and kwargs {type(kwargs).__name__}; {hint}")
    return fn, tuple(args), dict(kwargs)


def measure_case(
    factory: Callable[..., Any],
    n: Sequence[int] = DEFAULT_SIZES,
    *,
    max_order: str = "constant",
    name: str | None = None,
    platform: str | None = None,
) -> "ScaleRun":
    """Lower ``factory(n)`` at each n, measure and judge it; nothing is raised for growth."""
    from jaxlint.analyzer.measure import measure
    from jaxlint.analyzer.scale import CaseResult, ScaleRun, resolved_platform, run_lines
    from jaxlint.analyzer.verdict import TIMING_FIGURES, judge

    sizes = sorted(set(int(size) for size in n))
    if len(sizes) < 2:
        raise ValueError(f"n={list(n)!r}: growth needs at least two distinct sizes")
    label = name or case_name(factory)
    result = CaseResult(name=label, ns=sizes)
    for size in sizes:
        fn, args, kwargs = _built(factory, label, size)
        measurement = measure(fn, args, kwargs, n=size, platform=platform)
        # Clock readings are noisy: never judged in a test (jaxlint scale reports them).
        measurement.figures = {k: v for k, v in measurement.figures.items() if k not in TIMING_FIGURES}
        result.measurements.append(measurement)
    result.verdict = judge(result.measurements, max_order=max_order)
    for flag in result.verdict.flags:  # as `jaxlint scale` does: a growing run names its lines
        if flag.figure == "longest_run" and not flag.lines:
            flag.lines = run_lines(result.measurements)
    return ScaleRun(target=label, platform=resolved_platform(platform), results=[result])


def compare_with_baseline(run: "ScaleRun", document: dict[str, Any], path: str, tolerance: float = 0.0) -> "BaselineComparison | None":
    """The baseline gate for this run's case; None when the baseline does not hold the case."""
    from jaxlint.analyzer.baseline import compare

    if not any(result.name in document.get("cases", {}) for result in run.results):
        return None
    return compare(document, run, tolerance, path)


def render_report(run: "ScaleRun", gate: "BaselineComparison | None" = None) -> str:
    """The text ``jaxlint scale`` prints for this run: table, flags, growing lines, lint rewrites."""
    from rich.console import Console

    from jaxlint.analyzer.lint_match import findings_for_lines, flagged_lines
    from jaxlint.analyzer.report import render_table

    problems: list[str] = []
    findings = findings_for_lines(flagged_lines(run.results), problems)
    buffer = io.StringIO()
    console = Console(file=buffer, width=_REPORT_WIDTH, color_system=None, highlight=False)
    render_table(run.results, console, findings=findings, notes=run.notes, gate=gate)
    return buffer.getvalue().rstrip() + "\n"


def assert_program_size(
    factory: Callable[..., Any],
    n: Sequence[int] = DEFAULT_SIZES,
    *,
    max_order: str = "constant",
    name: str | None = None,
    platform: str | None = None,
    baseline: str | None = None,
    tolerance: float = 0.0,
) -> "ScaleRun":
    """Fail (:class:`ProgramSizeError`) when ``factory(n)``'s program grows past ``max_order``
    (``constant``: a structural figure may not grow at all), or, with ``baseline`` (a file
    written by ``jaxlint scale --save-baseline`` or ``pytest --jaxlint-save-baseline``), when a
    structural figure grew past ``old × (1 + tolerance)``. Returns the run (figures per n)."""
    __tracebackhide__ = True  # pytest: the failure points at the test, not here
    run = measure_case(factory, n, max_order=max_order, name=name, platform=platform)
    gate = None
    if baseline is not None:
        from jaxlint.analyzer.baseline import load_baseline

        gate = compare_with_baseline(run, load_baseline(baseline), baseline, tolerance)
        if gate is None:
            run.notes.append(f"{run.results[0].name} is not in the baseline {baseline} (not gated)")
    if not run.results[0].verdict.ok or (gate is not None and not gate.ok):  # type: ignore[union-attr]
        raise ProgramSizeError(render_report(run, gate), run)
    return run


def figures_per_n(run: "ScaleRun", figure: str = "ops_inlined") -> dict[int, float]:
    """``{n: value}`` of one figure of a one-case run (for extra assertions in a test)."""
    result: "CaseResult" = run.results[0]
    return {int(m.n or 0): m.figures[figure] for m in result.measurements}


__all__ = [
    "DEFAULT_SIZES", "ProgramSizeError", "assert_program_size", "case_name", "compare_with_baseline",
    "figures_per_n", "measure_case", "render_report",
]
