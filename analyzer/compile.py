"""``--compile``: XLA compile seconds and the compiled program's memory, per n.

The lowering figures say the program grows; compiling says what that costs. Compiling is
the slow part (diffrax 0.6.1's #606 program: 2.3 s / 94 s / > 15 min at 1k / 10k / 30k save
points), so each n compiles in its own fresh process with jax's persistent compilation
cache off, and the worker writes its lowering figures *before* it compiles: when the
compile runs past ``--compile-timeout`` the process is killed, the lowering figures are
kept, and the timeout itself becomes a finding.
"""

from __future__ import annotations

import time
from typing import Any

# Figures added by a compile, with their units (merged into figures.FIGURE_UNITS).
COMPILE_FIGURE_UNITS = {
    "compile_seconds": "s",
    # CPU time of the compiling process: what the compile costs on an idle machine, and far
    # less disturbed than wall time by other work on a shared one (projections use it).
    "compile_cpu_seconds": "s",
    "compiled_temp_bytes": "bytes",
    "compiled_argument_bytes": "bytes",
    "compiled_output_bytes": "bytes",
    "compiled_code_bytes": "bytes",
}
COMPILE_FIGURES = tuple(COMPILE_FIGURE_UNITS)

DEFAULT_COMPILE_TIMEOUT = 120.0

# jax's CompiledMemoryStats attribute behind each memory figure.
_MEMORY_FIELDS = {
    "compiled_temp_bytes": "temp_size_in_bytes",
    "compiled_argument_bytes": "argument_size_in_bytes",
    "compiled_output_bytes": "output_size_in_bytes",
    "compiled_code_bytes": "generated_code_size_in_bytes",
}


def disable_compilation_cache() -> None:
    """A cache hit would time a file read, not a compile."""
    import jax

    jax.config.update("jax_enable_compilation_cache", False)


def compile_figures(lowered: Any) -> dict[str, float]:
    """Compile a ``jax.stages.Lowered`` and measure it: seconds, then memory_analysis() bytes
    (left out where the backend reports none)."""
    start, start_cpu = time.perf_counter(), time.process_time()
    compiled = lowered.compile()
    figures: dict[str, float] = {
        "compile_seconds": time.perf_counter() - start,
        "compile_cpu_seconds": time.process_time() - start_cpu,
    }
    try:
        stats = compiled.memory_analysis()
    except (NotImplementedError, RuntimeError):  # some backends have no memory analysis
        stats = None
    if stats is not None:
        for figure, attribute in _MEMORY_FIELDS.items():
            value = getattr(stats, attribute, None)
            if value is not None:
                figures[figure] = float(value)
    return figures


def timeout_message(seconds: float, n: int) -> str:
    """The finding a compile timeout becomes."""
    return f"compile did not finish in {seconds:g} s at n={n}"
