"""Measure one (case, n) in a fresh process: ``python -m jaxlint.analyzer.worker REQUEST RESULT``.

A fresh process per n keeps jax's trace/lower caches (and warm imports) from distorting the
timings of later sizes. The request and the result are JSON files, so the user's own prints
on stdout can never corrupt the answer.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from .cases import Target, TargetError, build_case, case_names, load_module
from .lower import LoweringError
from .measure import measure


def run_request(request: dict[str, Any]) -> dict[str, Any]:
    path, name, n = request["path"], request["name"], int(request["n"])
    try:
        module = load_module(path)
        case_names(module, Target(path, name))  # a named error for a missing or non-callable NAME
        built = build_case(module, path, name, n)
        measurement = measure(built.fn, built.args, built.kwargs, n=n, platform=request.get("platform"))
    except TargetError as error:
        return {"error": str(error), "details": error.details}
    except LoweringError as error:
        return {"error": f"{path}::{name} at n={n}: {error}", "details": error.details}
    return {"measurement": measurement.to_json()}


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: python -m jaxlint.analyzer.worker REQUEST.json RESULT.json", file=sys.stderr)
        return 2
    with open(argv[0]) as handle:
        request = json.load(handle)
    result = run_request(request)
    with open(argv[1], "w") as handle:
        json.dump(result, handle)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
