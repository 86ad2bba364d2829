"""Which adjoint to pick: re-measure a solve's residuals with each adjoint and compare gradients.

An adjoint decides how ``diffeqsolve`` is differentiated, and so what reverse mode stores:

- ``RecursiveCheckpointAdjoint(checkpoints=k)``: the exact gradient of the discrete solve;
  stores k states and recomputes the steps between them (fewer checkpoints, more recompute);
- ``BacksolveAdjoint``: solves the continuous adjoint equations backwards in time; memory
  does not grow with the steps, but the gradient is only as good as that backwards solve;
- ``DirectAdjoint``: the exact gradient through a bounded loop; supports forward mode too,
  at the price of memory that grows with ``max_steps``.

How the adjoint reaches the user's code: the case function takes it, ``NAME(n, adjoint=...)``,
and passes it to its ``diffeqsolve`` call. The adjoints come from the library the case
uses, read from the parameter's default (a diffrax adjoint selects diffrax's; anything else,
or no default, selects :mod:`jaxlint.solver`'s).

Gradients are compared at the largest n against the first exact adjoint that ran: exact
adjoints must agree to ``sqrt(eps)`` of the gradient's dtype; ``BacksolveAdjoint`` within
``backsolve_rtol`` (its error is set by the backwards solve's step size or tolerances).

Ranking is by what a user pays: the compiled gradient's peak memory at the largest n
(arguments + outputs + XLA's temporaries, :class:`.residuals.CompiledMemory`), compiled for
that one n by default. Residual bytes alone mislead: ``DirectAdjoint`` saves few residuals but
its compiled gradient allocates buffers for every step of ``max_steps`` (17–20x a checkpointed
adjoint's temporaries on the diffrax #572 problem). ``rank_by="residuals"`` skips the compile
and ranks by residual bytes, and the advice says so.
"""

from __future__ import annotations

import contextlib
import importlib
import inspect
import logging
import math
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, Sequence

import jax
import numpy as np

from .cases import TargetError
from .fit import Fit
from .residual_fit import ProgressCallback, fit_residuals
from .residual_sources import CaseSource
from .residuals import DifferentiableCall, ResidualError, ResidualMeasurement, differentiable, measure_differentiable

LIBRARIES = ("jaxlint.solver", "diffrax")
DEFAULT_CHECKPOINTS = (8, 64)
DEFAULT_BACKSOLVE_RTOL = 1e-2
RANKINGS = ("peak", "residuals")  # compiled peak memory (compiles once, at the largest n) / residual bytes
_RANK_FIGURE = {"peak": ("compiled_peak_bytes", "compiled peak bytes"), "residuals": ("residual_bytes", "residual bytes")}


@dataclass(frozen=True)
class AdjointChoice:
    """One adjoint to try, with what it costs and gives in words."""

    label: str  # how to write it: "RecursiveCheckpointAdjoint(checkpoints=8)"
    short: str  # a table column's worth: "RecursiveCheckpoint(8)"
    adjoint: Any
    exact: bool  # gives the gradient of the discrete solve (vs an approximation of it)
    tradeoff: str


@dataclass
class AdjointResult:
    """An adjoint's residual figures at each n and its gradient compared with the reference."""

    label: str
    short: str
    exact: bool
    tradeoff: str
    measurements: list[ResidualMeasurement] = field(default_factory=list)
    fits: dict[str, Fit] = field(default_factory=dict)
    gradient_difference: float | None = None  # max |g - g_ref| / max |g_ref|
    tolerance: float | None = None
    grad_seconds: float | None = None  # best of three runs of the compiled gradient
    gradient_error: str | None = None  # the residuals were measured, but the gradient did not run
    error: str | None = None  # nothing could be measured
    details: str | None = None

    @property
    def agrees(self) -> bool | None:
        if self.gradient_difference is None or self.tolerance is None:
            return None
        return self.gradient_difference <= self.tolerance

    def figure(self, name: str) -> float | None:
        """The figure at the largest n (None if missing)."""
        return self.measurements[-1].figures.get(name) if self.measurements else None


@dataclass
class AdjointComparison:
    library: str
    ns: list[int]
    gradient_n: int
    reference: str | None
    results: list[AdjointResult]
    cheapest: str | None = None
    ranked_by: str = "residual_bytes"  # the figure the advice compared: compiled_peak_bytes or residual_bytes
    summary: list[str] = field(default_factory=list)
    unchecked: str | None = None  # why no gradient was run, when none could be

    @property
    def disagreements(self) -> list[str]:
        """Exact adjoints whose gradient differs from the reference: a solver bug, so a finding."""
        return [r.label for r in self.results if r.exact and r.agrees is False]


def adjoint_choices(library: str, checkpoints: Sequence[int] = DEFAULT_CHECKPOINTS) -> list[AdjointChoice]:
    """The adjoints to compare from ``library`` (``jaxlint.solver`` or ``diffrax``)."""
    if library not in LIBRARIES:
        raise ValueError(f"library {library!r} is not one of {', '.join(LIBRARIES)}")
    solver = importlib.import_module(library)
    choices = [
        AdjointChoice(
            "RecursiveCheckpointAdjoint()",
            "RecursiveCheckpoint()",
            solver.RecursiveCheckpointAdjoint(),
            True,
            "exact; the library picks the checkpoint count from max_steps",
        )
    ]
    for count in sorted(set(checkpoints)):
        choices.append(
            AdjointChoice(
                f"RecursiveCheckpointAdjoint(checkpoints={count})",
                f"RecursiveCheckpoint({count})",
                solver.RecursiveCheckpointAdjoint(checkpoints=count),
                True,
                f"exact; stores {count} checkpoints and recomputes the steps between them",
            )
        )
    if hasattr(solver, "BacksolveAdjoint"):
        choices.append(
            AdjointChoice(
                "BacksolveAdjoint()",
                "Backsolve()",
                solver.BacksolveAdjoint(),
                False,
                "memory flat in steps; gradient of the continuous adjoint, only as accurate as the backwards solve",
            )
        )
    choices.append(
        AdjointChoice("DirectAdjoint()", "Direct()", solver.DirectAdjoint(), True, "exact; forward mode too; memory grows with max_steps")
    )
    return choices


def library_of(factory: Callable[..., Any], where: str) -> str:
    """Which solver library a case uses, from the default of its ``adjoint`` parameter."""
    try:
        parameter = inspect.signature(factory).parameters.get("adjoint")
    except (TypeError, ValueError):
        parameter = None
    if parameter is None:
        raise TargetError(
            f"{where} takes no `adjoint` parameter: --adjoints needs NAME(n, adjoint=...) "
            "that passes it on to diffeqsolve"
        )
    default = parameter.default
    if default is inspect.Parameter.empty or default is None:
        return "jaxlint.solver"
    return "diffrax" if type(default).__module__.split(".")[0] == "diffrax" else "jaxlint.solver"


@contextlib.contextmanager
def _quiet_callbacks() -> Iterator[None]:
    """jax logs a full traceback when a host callback raises (equinox's runtime checks do);
    the error is reported once, in the table, so keep that log off the user's terminal."""
    callback_logger = logging.getLogger("jax._src.callback")
    level = callback_logger.level
    callback_logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        callback_logger.setLevel(level)


def runtime_error_summary(error: Exception) -> str:
    """One line: an equinox runtime check's own message rather than XLA's wrapper around it."""
    text = str(error).strip()
    for line in text.splitlines():
        if "RuntimeError: " in line and "CpuCallback" not in line:
            return f"{type(error).__name__}: {line.split('RuntimeError: ', 1)[1].strip()}"
    return f"{type(error).__name__}: {text.splitlines()[0] if text else ''}"


def _flat_gradient(call: DifferentiableCall) -> tuple[np.ndarray, float, float]:
    """The gradient flattened to one vector, its best-of-three run time, and sqrt(eps) of its dtype."""
    grad = jax.jit(call.gradient())
    with _quiet_callbacks():
        jax.block_until_ready(grad(call.fixed, *call.inputs))  # compile and run once
    best = math.inf
    for _ in range(3):
        start = time.perf_counter()
        values = jax.block_until_ready(grad(call.fixed, *call.inputs))
        best = min(best, time.perf_counter() - start)
    leaves = [np.asarray(v) for v in jax.tree_util.tree_leaves(values)]
    eps = max(float(np.finfo(leaf.dtype).eps) for leaf in leaves)
    return np.concatenate([leaf.ravel() for leaf in leaves]), best, math.sqrt(eps)


def _relative_difference(value: np.ndarray, reference: np.ndarray) -> float:
    scale = float(np.max(np.abs(reference))) if reference.size else 0.0
    difference = float(np.max(np.abs(value - reference))) if reference.size else 0.0
    return difference / scale if scale > 0 else difference


def recommend(comparison: AdjointComparison) -> None:
    """Name the cheapest adjoint whose gradient agrees, and what a cheaper one would cost.

    Cheapest by memory at the largest n: the compiled gradient's peak bytes when every adjoint
    that ran has them (what a user pays, backward-pass buffers included), else residual bytes
    (said in the advice); ties go to fewer residual bytes, then the faster gradient.
    """
    n = comparison.ns[-1]
    ran = [r for r in comparison.results if r.error is None and r.measurements]
    by_peak = bool(ran) and all(r.figure("compiled_peak_bytes") is not None for r in ran)
    figure, what = _RANK_FIGURE["peak" if by_peak else "residuals"]
    comparison.ranked_by = figure

    def cost(r: AdjointResult) -> tuple[float, float, float]:
        return (r.figure(figure) or 0.0, r.figure("residual_bytes") or 0.0, r.grad_seconds or 0.0)

    for r in ran:
        if r.exact and r.agrees is False:
            comparison.summary.append(
                f"DISAGREES: {r.label}'s gradient differs from {comparison.reference}'s by "
                f"{r.gradient_difference:.2g} (relative; allowed {r.tolerance:.2g}): both are exact, so one is wrong"
            )
    if comparison.unchecked is not None:
        # No gradient ran: only an exact adjoint can be recommended without checking it.
        comparison.summary.append(f"gradients not compared: {comparison.unchecked}")
        candidates = [r for r in ran if r.exact]
    else:
        candidates = [r for r in ran if r.agrees]
    if not candidates:
        comparison.summary.append("no adjoint to recommend: none ran with a gradient that agrees")
        return
    best = min(candidates, key=cost)
    comparison.cheapest = best.label
    growth = best.fits.get(figure)
    order = f", {growth.order} in n" if growth is not None else ""
    comparison.summary.append(
        f"cheapest: {best.label}: {int(cost(best)[0]):,} {what} at n={n:,}{order}; trade-off: {best.tradeoff}"
    )
    for other in sorted(ran, key=cost):
        if cost(other) >= cost(best):
            break
        if other.gradient_difference is not None:
            accuracy = (
                f"its gradient differs by {other.gradient_difference:.2g} (relative; allowed {other.tolerance:.2g})"
            )
        elif comparison.unchecked is not None and not other.exact:
            accuracy = "its gradient is an approximation that could not be checked here"
        else:
            continue  # its gradient failed to run: said in the notes
        comparison.summary.append(f"{other.label} needs less ({int(cost(other)[0]):,} {what}) but {accuracy}: {other.tradeoff}")
    if not by_peak:
        comparison.summary.append(
            "ranked by residual bytes only: the compiled gradient's own buffers (e.g. DirectAdjoint's, "
            "per max_steps) are not counted; rank by compiled peak memory (the default) to include them"
        )


def compare_adjoints(
    source: CaseSource,
    ns: Sequence[int],
    *,
    checkpoints: Sequence[int] = DEFAULT_CHECKPOINTS,
    backsolve_rtol: float = DEFAULT_BACKSOLVE_RTOL,
    compile: bool = False,
    rank_by: str = "peak",
    largest: int = 5,
    progress: ProgressCallback | None = None,
) -> AdjointComparison:
    """Measure the case with each adjoint at each n, and compare the gradients at the largest n.

    ``compile``: compile the gradient at every n (its memory figures then get a fit);
    ``rank_by="peak"`` compiles it at the largest n at least, to rank by peak memory.
    """
    if rank_by not in RANKINGS:
        raise ValueError(f"rank_by {rank_by!r} is not one of {', '.join(RANKINGS)}")
    library = library_of(source.factory, source.where)
    ns = sorted(set(ns))
    comparison = AdjointComparison(library=library, ns=ns, gradient_n=ns[-1], reference=None, results=[])
    gradients: dict[str, np.ndarray] = {}
    for choice in adjoint_choices(library, checkpoints):
        result = AdjointResult(label=choice.label, short=choice.short, exact=choice.exact, tradeoff=choice.tradeoff)
        comparison.results.append(result)
        try:
            for n in ns:
                built = source.build(n, adjoint=choice.adjoint)
                call = differentiable(built.fn, built.args, built.kwargs)
                compile_here = compile or (rank_by == "peak" and n == ns[-1])
                result.measurements.append(measure_differentiable(call, n=n, compile=compile_here, largest=largest))
                if progress is not None:
                    progress(f"{source.name} {choice.short}", n)
            result.fits = fit_residuals(result.measurements)
        except (TargetError, ResidualError) as error:
            result.error, result.details = str(error), error.details
            continue
        if call.abstract:  # a captured script call: shapes only, nothing to run
            comparison.unchecked = "the call was captured from a script with its shapes only, so no gradient can run"
            continue
        try:
            gradients[choice.label], result.grad_seconds, eps_tolerance = _flat_gradient(call)
        except Exception as error:  # e.g. a runtime check failed while running the gradient
            result.gradient_error, result.details = runtime_error_summary(error), str(error).strip()
            continue
        result.tolerance = eps_tolerance if choice.exact else backsolve_rtol

    # The reference is the first exact adjoint that ran; everything is compared with it.
    comparison.reference = next((r.label for r in comparison.results if r.exact and r.label in gradients), None)
    if comparison.reference is not None:
        reference = gradients[comparison.reference]
        for result in comparison.results:
            if result.label in gradients:
                result.gradient_difference = _relative_difference(gradients[result.label], reference)
    recommend(comparison)
    return comparison


def adjoint_runner(
    *,
    checkpoints: Sequence[int] = DEFAULT_CHECKPOINTS,
    backsolve_rtol: float = DEFAULT_BACKSOLVE_RTOL,
    compile: bool = False,
    rank_by: str = "peak",
    largest: int = 5,
) -> Callable[..., AdjointComparison]:
    """The ``adjoints`` hook of :func:`.residual_growth.run_residuals` with these settings."""

    def run(source: CaseSource, ns: Sequence[int], progress: ProgressCallback | None) -> AdjointComparison:
        return compare_adjoints(
            source, ns, checkpoints=checkpoints, backsolve_rtol=backsolve_rtol,
            compile=compile, rank_by=rank_by, largest=largest, progress=progress,
        )

    return run
