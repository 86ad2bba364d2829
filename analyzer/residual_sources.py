"""What ``jaxlint residuals`` measures: case functions, or the diffeqsolve calls of a plain script.

Either way a source is a factory ``(n, adjoint=...) -> (fn, args, kwargs)``:

- ``file.py::NAME`` / ``@jaxlint.case``: the user's ``NAME(n)``; ``--adjoints`` needs it to
  take an ``adjoint`` keyword and pass it on to its ``diffeqsolve``.
- a plain script (no case marked): each intercepted ``diffeqsolve`` call site
  (:mod:`.script`), re-built with n save points. Its gradient is taken with respect to the
  floating arrays of ``terms``, ``y0`` and ``args`` (the model), holding the times, solver
  and controller fixed; the output differentiated is the solution's ``ys``. The adjoint is
  replaced directly in the call, and its default tells which library the call used.
  Captured calls keep only shapes and dtypes, so their gradients are traced and compiled but
  never run.
"""

from __future__ import annotations

import functools
import inspect
import os
import types
from dataclasses import dataclass
from typing import Any, Callable

from .cases import BuiltCase, Target, TargetError, build_case, case_names, load_module
from .script import CapturedCall, capture_script, has_case_markers, with_save_points

# The arguments of diffeqsolve that make up the model being differentiated.
MODEL_ARGUMENTS = ("terms", "y0", "args")

_NO_ADJOINT = object()  # "build the case as it is": distinct from an explicit adjoint=None


@dataclass
class CaseSource:
    """One thing to measure at each n."""

    name: str  # in reports: "file.py::NAME" or "solve.py:12" (a call site)
    where: str  # in messages: "path/file.py::NAME" or "solve.py:12"
    factory: Callable[..., Any]  # (n[, adjoint=...]) -> (fn, args[, kwargs])
    from_script: bool

    def build(self, n: int, adjoint: Any = _NO_ADJOINT) -> BuiltCase:
        """The case at size n (with ``adjoint`` passed in when given)."""
        factory = self.factory if adjoint is _NO_ADJOINT else functools.partial(self.factory, adjoint=adjoint)
        if self.from_script:  # our own factory: its errors are already TargetErrors in our words
            return BuiltCase(*factory(n))
        path, _, name = self.where.rpartition("::")
        return build_case(types.SimpleNamespace(**{name: factory}), path, name, n)  # type: ignore[arg-type]


def _call_site_factory(call: CapturedCall) -> Callable[..., Any]:
    """``factory(n, adjoint=<the solver's default>)`` re-building one captured call."""
    parameter = call.signature.parameters.get("adjoint")
    default = None if parameter is None or parameter.default is inspect.Parameter.empty else parameter.default

    def factory(n: int, adjoint: Any = default) -> tuple[Any, ...]:
        if call.problems:
            raise TargetError(
                f"{call.site.name}: cannot re-build this call on its own: {call.problems[0]}; "
                "pass such values to diffeqsolve through `args=` (or make the holder an eqx.Module)"
            )
        arguments = with_save_points(call, n)
        if parameter is not None and adjoint is not None:
            arguments["adjoint"] = adjoint
        model = {name: arguments.pop(name) for name in MODEL_ARGUMENTS if name in arguments}
        solve_fn = call.function

        def solve(model: dict[str, Any], **fixed: Any) -> Any:
            return solve_fn(**model, **fixed).ys

        return solve, (model,), arguments

    return factory


def case_sources(target: Target) -> list[CaseSource]:
    """The sources a target selects; runs the user's file (an import, or the whole script)."""
    if target.name is None and not has_case_markers(target.path):
        capture = capture_script(target.path)  # TargetError when it raises or never solves
        return [CaseSource(call.site.name, call.site.name, _call_site_factory(call), True) for call in capture.calls]
    module = load_module(target.path)
    base = os.path.basename(target.path)
    return [
        CaseSource(f"{base}::{name}", f"{target.path}::{name}", getattr(module, name), False)
        for name in case_names(module, target)
    ]
