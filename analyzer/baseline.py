"""The CI gate: save a run's figures as a baseline, and fail when a later run grew past it.

``--save-baseline F`` writes, per case and per n, every figure of the run, plus the
platform it was lowered for (counts differ between platforms, so a baseline is per
platform) and the jaxlint/jax versions. ``--baseline F --tolerance 5%`` compares each
structural figure (ops, inlined ops, branches, loops, calls, longest run) at each n the
two runs share: a figure above ``old × (1 + tolerance)`` fails the gate. A script's cases are
keyed by function and ordinal (``solve.py:step#1``), so lines added above a call do not
unmatch it; a baseline from before, keyed by line (``solve.py:24``), is matched to them
(:func:`_old_keys`) and re-saved with the new keys by ``--save-baseline``. Timings are kept
in the file for the reader but never gated: this machine's noise is not a regression.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from typing import Any

from jaxlint import __version__

from .figures import STRUCTURAL_FIGURES
from .scale import ScaleRun

SCHEMA = "jaxlint.baseline/1"


class BaselineError(Exception):
    """The baseline file cannot be used; the message names the file and the problem."""


@dataclass(frozen=True)
class Regression:
    case: str
    figure: str
    n: int
    old: float
    new: float

    @property
    def growth(self) -> float:
        return math.inf if self.old == 0 else self.new / self.old - 1

    def describe(self) -> str:
        change = "new" if self.old == 0 else f"{self.growth:+.1%}"
        return f"{self.case}: {self.figure} at n={self.n}: {self.old:,.0f} → {self.new:,.0f} ({change})"


@dataclass
class BaselineComparison:
    path: str
    tolerance: float
    regressions: list[Regression] = field(default_factory=list)
    compared: int = 0  # (case, figure, n) triples compared
    unmatched_cases: list[str] = field(default_factory=list)  # cases of this run not in the baseline
    migrated: dict[str, str] = field(default_factory=dict)  # this run's case -> the old key it matched

    @property
    def ok(self) -> bool:
        return not self.regressions

    def to_json(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "tolerance": self.tolerance,
            "ok": self.ok,
            "compared": self.compared,
            "unmatched_cases": self.unmatched_cases,
            "migrated": self.migrated,
            "regressions": [
                {"case": r.case, "figure": r.figure, "n": r.n, "old": r.old, "new": r.new} for r in self.regressions
            ],
        }


_TOLERANCE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*%?\s*$")


def parse_tolerance(text: str) -> float:
    """``5%`` or ``5`` -> 0.05 (always a percentage)."""
    match = _TOLERANCE.match(text)
    if match is None:
        raise ValueError(f"{text!r} is not a percentage (examples: 5%, 0.5%, 0)")
    return float(match.group(1)) / 100


def baseline_document(run: ScaleRun) -> dict[str, Any]:
    import jax

    cases = {}
    for result in run.results:
        if result.error is not None or result.skipped is not None:
            continue
        names = sorted({name for m in result.measurements for name in m.figures})
        cases[result.name] = {
            "n": result.ns,
            "figures": {name: [m.figures.get(name) for m in result.measurements] for name in names},
        }
        if result.site is not None:  # shown to the reader; never the key
            cases[result.name]["line"] = result.site[1]
        if result.axis != "n":
            cases[result.name]["axis"] = result.axis
    return {
        "schema": SCHEMA,
        "jaxlint_version": __version__,
        "jax_version": jax.__version__,
        "platform": run.platform,
        "target": run.target,
        "cases": cases,
    }


def save_baseline(path: str, run: ScaleRun) -> None:
    failed = [r.name for r in run.results if r.error is not None]
    if failed:
        raise BaselineError(f"{path}: not written: {', '.join(failed)} could not be measured")
    try:
        with open(path, "w") as handle:
            json.dump(baseline_document(run), handle, indent=2)
            handle.write("\n")
    except OSError as error:
        raise BaselineError(f"{path}: cannot write the baseline: {error.strerror}") from error


def load_baseline(path: str) -> dict[str, Any]:
    """Read and check a baseline file; every problem is a :class:`BaselineError` naming it."""
    try:
        with open(path) as handle:
            text = handle.read()
    except FileNotFoundError:
        raise BaselineError(f"{path}: no such baseline file (write one with --save-baseline {path})") from None
    except OSError as error:
        raise BaselineError(f"{path}: cannot read the baseline: {error.strerror}") from error
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        raise BaselineError(f"{path}: not valid JSON (line {error.lineno}, column {error.colno}: {error.msg})") from None
    if not isinstance(document, dict) or document.get("schema") != SCHEMA:
        found = document.get("schema") if isinstance(document, dict) else type(document).__name__
        raise BaselineError(f"{path}: not a jaxlint baseline (schema {found!r}, expected {SCHEMA!r})")
    if not isinstance(document.get("platform"), str):
        raise BaselineError(f"{path}: malformed baseline: no platform recorded")
    cases = document.get("cases")
    if not isinstance(cases, dict):
        raise BaselineError(f"{path}: malformed baseline: 'cases' is not an object")
    for name, case in cases.items():
        ns = case.get("n") if isinstance(case, dict) else None
        figures = case.get("figures") if isinstance(case, dict) else None
        if not (isinstance(ns, list) and all(isinstance(n, int) for n in ns) and isinstance(figures, dict)):
            raise BaselineError(f"{path}: malformed baseline: case {name!r} needs 'n' (list of sizes) and 'figures'")
        for figure, values in figures.items():
            if not (isinstance(values, list) and len(values) == len(ns)):
                raise BaselineError(f"{path}: malformed baseline: case {name!r} figure {figure!r} needs one value per n")
    return document


_OLD_SCRIPT_KEY = re.compile(r"^(?P<file>.+\.py):(?P<line>\d+)$")


def _old_keys(document: dict[str, Any], run: ScaleRun) -> dict[str, str]:
    """This run's script cases -> keys of a baseline written before cases were keyed by
    function (``solve.py:24``, by line). A case whose old line is unchanged matches it
    directly; otherwise, per file, the old keys and this run's cases are paired in line
    order when there are as many of each (lines added above a call move it, not reorder)."""
    old_by_file: dict[str, list[tuple[int, str]]] = {}
    for key in document["cases"]:
        match = _OLD_SCRIPT_KEY.match(key)
        if match:
            old_by_file.setdefault(match.group("file"), []).append((int(match.group("line")), key))
    if not old_by_file:
        return {}
    pairs: dict[str, str] = {}
    new_by_file: dict[str, list[tuple[int, str]]] = {}
    for result in run.results:
        if result.name in document["cases"] or result.site is None:
            continue
        direct = next((alias for alias in result.aliases if alias in document["cases"]), None)
        if direct is not None:
            pairs[result.name] = direct
            continue
        new_by_file.setdefault(result.name.split(":", 1)[0], []).append((result.site[1], result.name))
    for file, new in new_by_file.items():
        old = [entry for entry in sorted(old_by_file.get(file, [])) if entry[1] not in pairs.values()]
        if old and len(old) == len(new):
            for (_, old_key), (_, new_key) in zip(old, sorted(new)):
                pairs[new_key] = old_key
    return pairs


def compare(document: dict[str, Any], run: ScaleRun, tolerance: float, path: str) -> BaselineComparison:
    """Structural figures of ``run`` against the baseline, at every n both have."""
    if document["platform"] != run.platform:
        raise BaselineError(
            f"{path}: recorded for platform {document['platform']}, but this run lowers for {run.platform} "
            f"(keep one baseline per platform, or pass --platform {document['platform']})"
        )
    comparison = BaselineComparison(path=path, tolerance=tolerance)
    migration = _old_keys(document, run)
    for result in run.results:
        if result.error is not None or result.skipped is not None:
            continue
        old_case = document["cases"].get(result.name)
        if old_case is None and result.name in migration:
            old_case = document["cases"][migration[result.name]]
            comparison.migrated[result.name] = migration[result.name]
        if old_case is None:
            comparison.unmatched_cases.append(result.name)
            continue
        old_index = {n: i for i, n in enumerate(old_case["n"])}
        for figure in STRUCTURAL_FIGURES:
            old_values = old_case["figures"].get(figure)
            if old_values is None:
                continue
            for measurement in result.measurements:
                index = old_index.get(measurement.n)  # type: ignore[arg-type]
                new = measurement.figures.get(figure)
                if index is None or new is None or old_values[index] is None:
                    continue
                old = float(old_values[index])
                comparison.compared += 1
                if new > old * (1 + tolerance):
                    comparison.regressions.append(Regression(result.name, figure, int(measurement.n or 0), old, float(new)))
    if comparison.compared == 0 and any(r.error is None for r in run.results):
        raise BaselineError(
            f"{path}: shares no case and size n with this run (baseline cases: "
            f"{', '.join(sorted(document['cases'])) or 'none'}); re-create it with --save-baseline"
        )
    return comparison
