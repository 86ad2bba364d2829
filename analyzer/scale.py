"""Measure a target's cases at every size n and judge how they grow.

By default each n is lowered in a fresh subprocess (``worker``): caches distort timings
when several sizes share a process. ``in_process=True`` is faster when only counts matter.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

from .cases import Target, TargetError, build_case, case_names, load_module
from .lower import LoweringError
from .measure import Measurement, measure
from .verdict import CaseVerdict, judge

ProgressCallback = Callable[[str, int], None]  # (case name, n) after each measurement


@dataclass
class CaseResult:
    """Everything measured for one case; ``error`` set when it could not be measured."""

    name: str
    ns: list[int]
    measurements: list[Measurement] = field(default_factory=list)
    verdict: CaseVerdict | None = None
    error: str | None = None
    details: str | None = None

    @property
    def status(self) -> str:
        if self.error is not None:
            return "error"
        return "ok" if self.verdict is not None and self.verdict.ok else "fail"


def _measure_in_subprocess(
    path: str, name: str, n: int, platform: str | None, timeout: float | None
) -> Measurement:
    with tempfile.TemporaryDirectory(prefix="jaxlint-") as scratch:
        request_path = os.path.join(scratch, "request.json")
        result_path = os.path.join(scratch, "result.json")
        with open(request_path, "w") as handle:
            json.dump({"path": path, "name": name, "n": n, "platform": platform}, handle)
        try:
            completed = subprocess.run(
                [sys.executable, "-m", "jaxlint.analyzer.worker", request_path, result_path],
                capture_output=True,
                text=True,
                timeout=timeout,
                cwd=os.getcwd(),
            )
        except subprocess.TimeoutExpired:
            raise TargetError(f"{path}::{name}: lowering did not finish in {timeout:g} s at n={n}") from None
        if not os.path.exists(result_path):
            tail = "\n".join(completed.stderr.strip().splitlines()[-20:])
            raise TargetError(
                f"{path}::{name}: the measuring process died at n={n} (exit code {completed.returncode})",
                details=tail or None,
            )
        with open(result_path) as handle:
            result: dict[str, Any] = json.load(handle)
    if "error" in result:
        raise TargetError(result["error"], details=result.get("details"))
    return Measurement.from_json(result["measurement"])


def run_scale(
    target: Target,
    sizes: Sequence[int],
    *,
    in_process: bool = False,
    timeout: float | None = None,
    platform: str | None = None,
    max_order: str = "constant",
    progress: ProgressCallback | None = None,
) -> list[CaseResult]:
    """Measure every selected case of ``target`` at each n; a failing case never stops the others."""
    ns = sorted(set(sizes))
    if len(ns) < 2:
        raise ValueError("--n needs at least two distinct sizes to fit growth")
    # The parent imports the user's file only when it must: to run in-process, or to find the
    # @jaxlint.case functions. A named case in subprocess mode is loaded by the workers alone.
    module = None
    if in_process or target.name is None:
        module = load_module(target.path)  # raises TargetError for import problems
        names = case_names(module, target)
    else:
        names = [target.name]
    results: list[CaseResult] = []
    for name in names:
        result = CaseResult(name=f"{os.path.basename(target.path)}::{name}", ns=ns)
        try:
            for n in ns:
                if module is not None and in_process:
                    built = build_case(module, target.path, name, n)
                    try:
                        measurement = measure(built.fn, built.args, built.kwargs, n=n, platform=platform)
                    except LoweringError as error:
                        raise TargetError(f"{target.path}::{name} at n={n}: {error}", details=error.details) from error
                else:
                    measurement = _measure_in_subprocess(target.path, name, n, platform, timeout)
                result.measurements.append(measurement)
                if progress is not None:
                    progress(result.name, n)
            result.verdict = judge(result.measurements, max_order=max_order)
        except TargetError as error:
            result.error, result.details = str(error), error.details
        results.append(result)
    return results
