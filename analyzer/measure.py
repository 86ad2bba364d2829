"""One size n, measured: lower -> walk -> figures -> attribute, as a plain record.

A :class:`Measurement` is what crosses the process boundary when each n is lowered in a
fresh subprocess, so it holds only JSON-able data.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Mapping, Sequence

from .attribute import SourceLine, attribute_lines
from .figures import compute_figures
from .runs import RUNS_KEPT
from .lower import LoweredProgram, lower_call
from .walk import walk_module


@dataclass
class Measurement:
    """Figures of the program lowered at one size n."""

    n: int | None
    figures: dict[str, float]
    ops_by_name: dict[str, int]
    custom_call_targets: dict[str, int]
    # "path:line" -> {op name: inlined count}
    lines: dict[str, dict[str, int]] = field(default_factory=dict)
    platform: str = "cpu"
    # The longest unrolled runs: {"path", "line", "pattern": [op names], "repeats"}
    runs: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "Measurement":
        return cls(**data)


def measure_lowered(program: LoweredProgram, n: int | None = None) -> Measurement:
    walk = walk_module(program.module)
    sized = compute_figures(walk)
    figures = dict(sized.figures)
    figures["trace_seconds"] = program.trace_seconds
    figures["lower_seconds"] = program.lower_seconds
    lines = {str(line): dict(ops) for line, ops in sorted(attribute_lines(walk).items())}
    return Measurement(
        n=n,
        figures=figures,
        ops_by_name=sized.ops_by_name,
        custom_call_targets=sized.custom_call_targets,
        lines=lines,
        platform=program.platform,
        runs=[run.to_json() for run in sized.runs[:RUNS_KEPT]],
    )


def measure(
    fn: Callable[..., Any],
    args: Sequence[Any] = (),
    kwargs: Mapping[str, Any] | None = None,
    *,
    n: int | None = None,
    platform: str | None = None,
) -> Measurement:
    """Lower ``jax.jit(fn)(*args, **kwargs)`` and measure its StableHLO program."""
    return measure_lowered(lower_call(fn, args, kwargs, platform=platform), n=n)


def measure_call(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Measurement:
    """Convenience for tests and notebooks: ``measure_call(f, x, y).figures["ops_inlined"]``."""
    return measure(fn, args, kwargs)


def parse_line_key(key: str) -> SourceLine:
    """Inverse of ``str(SourceLine)``: ``"pkg/mod.py:12"`` -> SourceLine."""
    path, _, line = key.rpartition(":")
    return SourceLine(path, int(line))
