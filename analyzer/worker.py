"""Measure one (case, n) in a fresh process: ``python -m jaxlint.analyzer.worker REQUEST RESULT``.

A fresh process per n keeps jax's trace/lower caches (and warm imports) from distorting the
timings of later sizes. The request and the result are JSON files, so the user's own prints
on stdout can never corrupt the answer.

Request keys: ``path``, ``n``, ``platform``, ``compile`` (bool), and either ``name`` (a case
function ``NAME(n)``) or ``site`` (``"/abs/script.py:LINE"``: a plain script's diffeqsolve
call, re-captured here by running the script until that call is reached).

The result file is replaced atomically at each phase: ``{"phase": "lowered", "measurement"}``
as soon as the lowering is measured, then ``{"phase": "compiled", ...}`` with the compile
figures added. A parent that kills us during a long compile still reads the lowering.
Errors: ``{"error": one line, "details": traceback or None}``.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any, Callable

from .cases import Target, TargetError, build_case, case_names, load_module
from .lower import LoweringError, lower_call
from .measure import Measurement, measure_lowered


def _write(path: str, payload: dict[str, Any]) -> None:
    scratch = f"{path}.part"
    with open(scratch, "w") as handle:
        json.dump(payload, handle)
    os.replace(scratch, path)


def _build(request: dict[str, Any]) -> tuple[str, Callable[..., Any], tuple[Any, ...], dict[str, Any], Any]:
    """(label for errors, fn, args, kwargs, the captured call or None) for the request."""
    path, n = request["path"], int(request["n"])
    if "site" in request:
        from .script import CallSite, build_call, capture_script

        site = CallSite.from_key(request["site"])
        capture = capture_script(path, wanted=[site])
        call = next((c for c in capture.calls if c.site == site), None)
        if call is None:
            raise TargetError(f"{site.name}: the script did not reach this diffeqsolve call when run again")
        fn, args = build_call(call, n)
        return site.name, fn, args, {}, call
    name = request["name"]
    module = load_module(path)
    case_names(module, Target(path, name))  # a named error for a missing or non-callable NAME
    built = build_case(module, path, name, n)
    return f"{path}::{name}", built.fn, built.args, built.kwargs, None


def run_request(request: dict[str, Any], result_path: str | None = None) -> dict[str, Any]:
    """Measure the request; with ``result_path``, write each phase there as it completes."""
    n = int(request["n"])
    compile_it = bool(request.get("compile"))
    if compile_it:
        from .compile import disable_compilation_cache

        disable_compilation_cache()
    call = None
    try:
        label, fn, args, kwargs, call = _build(request)
        program = lower_call(fn, args, kwargs, platform=request.get("platform"))
        measurement = measure_lowered(program, n=n)
    except TargetError as error:
        return _finish(result_path, {"error": str(error), "details": error.details})
    except LoweringError as error:
        explained = None
        if call is not None:
            from .script import explain_lowering_error

            explained = explain_lowering_error(call, error)
        message = explained or f"{label} at n={n}: {error}"
        return _finish(result_path, {"error": message, "details": error.details})
    result: dict[str, Any] = {"phase": "lowered", "measurement": measurement.to_json()}
    if result_path is not None:
        _write(result_path, result)
    if compile_it:
        from .compile import compile_figures

        try:
            measurement.figures.update(compile_figures(program.lowered))
        except Exception as error:  # XLA rejected the program: report, keep the lowering
            return _finish(result_path, {"error": f"{label} at n={n}: compiling failed: {type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}", "details": str(error)})
        result = {"phase": "compiled", "measurement": measurement.to_json()}
    return _finish(result_path, result)


def _finish(result_path: str | None, result: dict[str, Any]) -> dict[str, Any]:
    if result_path is not None:
        _write(result_path, result)
    return result


def measurement_of(result: dict[str, Any]) -> Measurement:
    return Measurement.from_json(result["measurement"])


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: python -m jaxlint.analyzer.worker REQUEST.json RESULT.json", file=sys.stderr)
        return 2
    with open(argv[0]) as handle:
        request = json.load(handle)
    run_request(request, argv[1])
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
