"""The child process of a ``scale`` session: runs the user's code and streams events.

Run as ``python -m jaxlint.analyzer.session_child REQUEST.json EVENTS.jsonl`` by
:class:`.session._Child`; see :mod:`.session` for the events and how a child's end is read.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any

from .cases import Target, TargetError
from .guard import Activity, UserExit, guarded
from .scale import SizeMeasurement, measure_at, measure_target, prepared_cases


def _child(request: dict[str, Any], events_path: str) -> None:
    handle = open(events_path, "a", buffering=1)

    def emit(event: dict[str, Any]) -> None:
        handle.write(json.dumps(event) + "\n")
        handle.flush()

    target = Target(request["path"], request.get("name"))
    options = {key: request.get(key) for key in ("argv", "size", "platform", "capture_only")}
    options["argv"] = options["argv"] or []
    options["capture_only"] = bool(options["capture_only"])
    where = str(target)
    try:
        if request["mode"] in ("session", "list"):
            measure_target(target, request["ns"], emit, **options)
        else:  # one case at one n, in a fresh process: lower, then (optionally) compile
            n = request["ns"][0]
            if request.get("compile"):
                from .compile import disable_compilation_cache

                disable_compilation_cache()
            try:
                with prepared_cases(target, wanted_site=request.get("site_key"), **options) as cases:
                    case = next((c for c in cases if c.name == request["case"]), None)
                    if case is None:
                        raise TargetError(f"{request['case']}: the script did not reach this call when run again")
                    where = case.name
                    sized: SizeMeasurement = measure_at(case, n)
                    emit({"event": "measured", "name": case.name, "n": n, "measurement": sized.measurement.to_json(), "notes": sized.notes})
                    if request.get("compile"):
                        from .compile import compile_figures

                        try:
                            sized.measurement.figures.update(compile_figures(sized.program.lowered))
                        except Exception as error:  # XLA rejected the program: report it, keep the lowering
                            first = str(error).splitlines()[0] if str(error) else ""
                            raise TargetError(f"{case.name} at n={n}: compiling failed: {type(error).__name__}: {first}", details=str(error)) from error
                        emit({"event": "measured", "name": case.name, "n": n, "measurement": sized.measurement.to_json(), "notes": sized.notes})
            except TargetError as error:
                emit({"event": "case_error", "name": request["case"], "error": str(error), "details": error.details})
        emit({"event": "done"})
    except KeyboardInterrupt:
        emit({"event": "interrupted"})
    except UserExit as exit_:
        emit({"event": "user_exit", "message": f"{where}: the user's code called os._exit({exit_.code})"})
    except SystemExit as exit_:
        emit({"event": "user_exit", "message": f"{where}: the user's code called sys.exit({exit_.code!r})"})
    finally:
        handle.close()


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: python -m jaxlint.analyzer.session_child REQUEST.json EVENTS.jsonl", file=sys.stderr)
        return 2
    with open(argv[0]) as handle:
        request = json.load(handle)
    # Our stdout is the parent's stderr already; os._exit from the user's code must still be told apart.
    with guarded(None, Activity(), redirect=False):
        _child(request, argv[1])
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)  # never wait for threads the user's code left running


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
