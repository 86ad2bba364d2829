"""Which inputs of a call are save times: arrays handed to ``SaveAt(ts=...)``.

``jaxlint residuals`` differentiates a case with respect to its floating-point arguments. A
solve's save times are floating arrays too, but nobody differentiates with respect to them
(``BacksolveAdjoint`` cannot: jax fails with a bare "Unexpected tangent"), and counting their
tangents distorts the memory figures. So before differentiating, the call is traced once with
every ``SubSaveAt`` construction observed, and an argument that *is* a saved ``ts`` (the same
traced value, as when ``fn(y0, ts)`` builds ``SaveAt(ts=ts)``) is held fixed.

Observing construction needs no change to the user's code or the solver: Equinox runs every
class's ``__check_init__`` after ``__init__``, looked up on the class at call time, so one is
installed on ``SubSaveAt`` (of ``jaxlint.solver`` and, when imported, of ``diffrax``) for the
duration of the trace and removed afterwards. A ``ts`` computed from an argument inside the
call, or built inside a nested ``jit``, is not the argument itself and is not detected: pass
such an argument as a keyword (keywords are always held fixed).
"""

from __future__ import annotations

import contextlib
import sys
from typing import Any, Callable, Iterator, Sequence

import jax

# (module, class) whose instances carry a ``ts`` field; a module not yet imported is skipped
# (the call cannot construct its class either).
_SAVE_CLASSES = (("jaxlint.solver", "SubSaveAt"), ("diffrax", "SubSaveAt"))
_MISSING = object()


@contextlib.contextmanager
def _observing_save_times(seen: list[Any]) -> Iterator[None]:
    patched: list[tuple[type, Any]] = []
    try:
        for module_name, class_name in _SAVE_CLASSES:
            cls = getattr(sys.modules.get(module_name), class_name, None)
            if not isinstance(cls, type) or any(cls is done for done, _ in patched):
                continue
            own = cls.__dict__.get("__check_init__", _MISSING)

            def check(self: Any, _own: Any = own) -> None:
                ts = getattr(self, "ts", None)
                if ts is not None:
                    seen.append(ts)
                if _own is not _MISSING:
                    _own(self)

            patched.append((cls, own))
            type.__setattr__(cls, "__check_init__", check)
        yield
    finally:
        for cls, own in patched:
            if own is _MISSING:
                type.__delattr__(cls, "__check_init__")
            else:
                type.__setattr__(cls, "__check_init__", own)


def save_time_positions(function: Callable[..., Any], leaves: Sequence[Any], candidates: Sequence[int]) -> set[int]:
    """Positions among ``candidates`` whose leaf ``function(*leaves)`` passes as ``SaveAt(ts=...)``.

    ``function`` is traced once (abstractly: nothing runs). A call that cannot be traced here
    yields nothing: the real measurement reports its error in its own words.
    """
    if not candidates:
        return set()
    seen: list[Any] = []
    traced: dict[int, Any] = {}

    def probe(*values: Any) -> Any:
        traced.update({position: values[position] for position in candidates})
        return function(*values)

    try:
        with _observing_save_times(seen):
            jax.make_jaxpr(probe)(*leaves)
    except Exception:  # noqa: BLE001 - the measurement proper reports it
        return set()
    return {position for position, value in traced.items() if any(value is ts for ts in seen)}
