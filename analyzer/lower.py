"""Stage 1 — lower: a Python call to its StableHLO module, with trace and lower timed apart.

Counting StableHLO (not the jaxpr, not optimised HLO) is deliberate: the jaxpr shows
``jnp.stack([x] * n)`` as one equation at any n, and XLA folds the n-operand concatenate away
in optimised HLO — that folding is exactly the compile cost we want to expose.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Sequence

import jax

PLATFORMS = ("cpu", "cuda", "rocm", "tpu")


@dataclass
class LoweredProgram:
    """The StableHLO module of one call, and how long tracing and lowering took."""

    module: Any  # jaxlib.mlir.ir.Module; kept as Any so this stage needs no MLIR import
    trace_seconds: float
    lower_seconds: float
    platform: str
    lowered: Any  # the jax.stages.Lowered, for a later compile


class LoweringError(RuntimeError):
    """The user's function could not be traced or lowered.

    ``str(error)`` is one line naming the stage; ``details`` holds jax's full message.
    """

    def __init__(self, stage: str, error: Exception) -> None:
        text = str(error).strip()
        first_line = text.splitlines()[0] if text else ""
        super().__init__(f"{stage} failed: {type(error).__name__}: {first_line}")
        self.details = f"{type(error).__name__}: {text}"


def lower_call(
    fn: Callable[..., Any],
    args: Sequence[Any] = (),
    kwargs: Mapping[str, Any] | None = None,
    *,
    platform: str | None = None,
) -> LoweredProgram:
    """Trace ``jax.jit(fn)(*args, **kwargs)`` and lower it to StableHLO.

    ``fn`` may already be jitted (``jax.jit`` of a jitted function is a cheap wrapper whose
    program is the inner one behind one ``func.call``). ``platform`` lowers for another
    backend (``cuda``/``tpu`` work on a CPU-only machine when there are no host callbacks).
    """
    kwargs = dict(kwargs or {})
    if platform is not None and platform not in PLATFORMS:
        raise ValueError(f"platform {platform!r} is not one of {', '.join(PLATFORMS)}")
    jitted = jax.jit(fn)
    start = time.perf_counter()
    try:
        traced = jitted.trace(*args, **kwargs)
    except Exception as error:  # the user's code raised while tracing
        raise LoweringError("tracing", error) from error
    traced_at = time.perf_counter()
    try:
        if platform is None:
            lowered = traced.lower()
        else:
            lowered = traced.lower(lowering_platforms=(platform,))
    except Exception as error:
        raise LoweringError("lowering", error) from error
    lowered_at = time.perf_counter()
    module = lowered.compiler_ir("stablehlo")
    return LoweredProgram(
        module=module,
        trace_seconds=traced_at - start,
        lower_seconds=lowered_at - traced_at,
        platform=platform or jax.default_backend(),
        lowered=lowered,
    )
