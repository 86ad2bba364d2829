"""Reverse-mode memory: what ``jax.vjp`` saves for the backward pass, at one size n.

Differentiating a solve stores *residuals*: the intermediate values the backward pass needs.
Through a plain ``lax.scan`` they are stacked per step (memory ∝ steps); a checkpointed loop
or an adjoint method trades them for recomputation. Their total is the memory figure a user
can change by picking an adjoint, so it is measured here the way jax itself defines it
(``jax._src.ad_checkpoint.saved_residuals``): trace ``jax.vjp`` and read the values its
pullback closes over. Residuals that are the function's own arguments are left out — the
caller holds them anyway (the same convention as the diffrax #572 table in PITFALLS.md).

What is differentiated: the case's ``fn`` reduced to a scalar (the sum of every floating
output leaf) with respect to its floating-point array arguments; other leaves stay fixed.
The backward pass is traced too, so a loop reverse mode cannot handle (a ``while_loop``
without a static bound) fails here with a message naming the loop's line.

Each residual is charged to a source line: the first frame outside jax/equinox internals of
the equation that produced it, looking *inside* jitted functions and loop bodies (a residual
leaving ``diffeqsolve`` is blamed on the line within the solver that computed it, not on the
``jit`` wrapper).
"""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import Any, Callable, Iterable, Mapping, Sequence

import jax
import jax.numpy as jnp
import numpy as np
from jax.extend.core import ClosedJaxpr, Jaxpr, JaxprEqn, Literal, jaxprs_in_params

from .attribute import display_path, is_internal
from .save_times import save_time_positions

RESIDUAL_FIGURES = ("residual_bytes", "residuals", "compiled_temp_bytes", "compiled_peak_bytes")
RESIDUAL_UNITS = {"residual_bytes": "bytes", "residuals": "residuals", "compiled_temp_bytes": "bytes", "compiled_peak_bytes": "bytes"}

UNKNOWN_SOURCE = "<unknown>"
_ANALYZER_DIR = os.path.join(os.path.dirname(os.path.realpath(__file__)), "")

# jax's own message when the transpose meets a while_loop; we name the loop's line instead.
_UNBOUNDED_LOOP = "Reverse-mode differentiation does not work for lax.while_loop"

# Parameters holding a sub-program whose outputs are the equation's outputs, one for one
# (jit, scan, while body, custom_vjp/custom_jvp calls, remat). ``cond`` is left out on
# purpose: its branches disagree about where an output comes from.
_ALIGNED_SUBPROGRAMS = ("jaxpr", "call_jaxpr", "fun_jaxpr", "body_jaxpr")


class ResidualError(Exception):
    """The function cannot be differentiated (or traced); ``details`` holds jax's full text."""

    def __init__(self, message: str, details: str | None = None) -> None:
        super().__init__(message)
        self.details = details


@dataclass(frozen=True)
class Residual:
    """One value saved for the backward pass."""

    shape: tuple[int, ...]
    dtype: str
    nbytes: int
    kind: str  # the primitive that produced it ("cos", "mul", "while", ...), or "constant"/"literal"
    source: str  # "path:line" to blame, or UNKNOWN_SOURCE
    count: int = 1  # in a summary: how many identical residuals (same type, kind and line) this stands for

    @property
    def total_bytes(self) -> int:
        return self.nbytes * self.count

    @property
    def type_text(self) -> str:
        return f"{self.dtype}[{','.join(str(d) for d in self.shape)}]"


@dataclass
class ResidualMeasurement:
    """Reverse-mode memory figures of one case at one size n."""

    n: int | None
    figures: dict[str, float]  # residual_bytes, residuals, [compiled_temp_bytes, compiled_peak_bytes]
    largest: list[Residual]  # the biggest groups of identical residuals, by total bytes
    lines: dict[str, int] = field(default_factory=dict)  # source "path:line" -> residual bytes
    dtypes_by_line: dict[str, dict[str, int]] = field(default_factory=dict)  # source -> dtype -> bytes


@dataclass
class DifferentiableCall:
    """``fn(*args, **kwargs)`` as ``function(fixed, *inputs)``: the sum of its floating outputs.

    ``inputs`` are differentiated; ``fixed`` are the other array leaves, passed in (not baked
    in as constants) so that saving one counts as saving an argument. Either may hold
    ``jax.ShapeDtypeStruct`` leaves: tracing, lowering and compiling need no values.
    """

    function: Callable[..., jax.Array]
    inputs: list[Any]
    fixed: list[Any] = field(default_factory=list)

    @property
    def abstract(self) -> bool:
        """True when some input is only a shape and dtype (nothing can be run)."""
        return any(isinstance(x, jax.ShapeDtypeStruct) for x in [*self.inputs, *self.fixed])

    def gradient(self) -> Callable[..., tuple[Any, ...]]:
        """``gradient(fixed, *inputs)``: the gradient with respect to every input."""
        return jax.grad(self.function, argnums=tuple(range(1, 1 + len(self.inputs))))


def _is_array(leaf: Any) -> bool:
    return isinstance(leaf, (jax.Array, np.ndarray, np.generic, jax.ShapeDtypeStruct))


def _is_float_array(leaf: Any) -> bool:
    # Python scalars and other objects stay static (closed over), as under eqx.filter_jit.
    return _is_array(leaf) and bool(jnp.issubdtype(leaf.dtype, jnp.inexact))


def _type_summary(tree: Any, limit: int = 4) -> str:
    leaves = jax.tree_util.tree_leaves(tree)
    shown = [
        f"{leaf.dtype}[{','.join(map(str, leaf.shape))}]" if hasattr(leaf, "dtype") else type(leaf).__name__
        for leaf in leaves[:limit]
    ]
    more = f", … {len(leaves) - limit} more" if len(leaves) > limit else ""
    return (", ".join(shown) + more) if shown else "nothing"


def differentiable(fn: Callable[..., Any], args: Sequence[Any] = (), kwargs: Mapping[str, Any] | None = None) -> DifferentiableCall:
    """Differentiate ``fn`` with respect to the floating-point array leaves of ``args``.

    Keyword arguments are held fixed (a case passes hyper-parameters that way: the way to
    mark an input as not differentiated), as are non-floating arrays and the arguments the
    call saves at (``SaveAt(ts=...)``, found by :func:`.save_times.save_time_positions`); other leaves (Python numbers, functions) are static. Raises
    :class:`ResidualError` when there is nothing to differentiate; an output without
    floating leaves is reported when the wrapper is traced.
    """
    arg_leaves, arg_tree = jax.tree_util.tree_flatten(tuple(args))
    kwarg_leaves, kwarg_tree = jax.tree_util.tree_flatten(dict(kwargs or {}))
    leaves = arg_leaves + kwarg_leaves
    floating = [i for i, leaf in enumerate(arg_leaves) if _is_float_array(leaf)]

    def call_with(*values: Any) -> Any:
        call_args = jax.tree_util.tree_unflatten(arg_tree, list(values[: len(arg_leaves)]))
        return fn(*call_args, **jax.tree_util.tree_unflatten(kwarg_tree, list(values[len(arg_leaves) :])))

    # Save times are floating arrays nobody differentiates with respect to: held fixed.
    save_times = save_time_positions(call_with, leaves, floating)
    differentiated = [i for i in floating if i not in save_times]
    held = [i for i, leaf in enumerate(leaves) if _is_array(leaf) and i not in set(differentiated)]
    if not differentiated:
        what = "only save times (SaveAt ts)" if save_times else "no floating-point array"
        raise ResidualError(
            f"nothing to differentiate: {what} among the positional arguments ({_type_summary(tuple(args))})"
        )

    def function(fixed: Sequence[Any], *inputs: Any) -> jax.Array:
        full = list(leaves)
        for position, value in [*zip(differentiated, inputs), *zip(held, fixed)]:
            full[position] = value
        out = call_with(*full)
        floats = [
            leaf for leaf in jax.tree_util.tree_leaves(out)
            if hasattr(leaf, "dtype") and jnp.issubdtype(leaf.dtype, jnp.inexact)
        ]
        if not floats:
            raise ResidualError(
                f"not differentiable: the function's output has no floating-point leaf ({_type_summary(out)})"
            )
        return sum((jnp.sum(jnp.real(leaf)) for leaf in floats[1:]), jnp.sum(jnp.real(floats[0])))

    return DifferentiableCall(function, [leaves[i] for i in differentiated], [leaves[i] for i in held])


# --- where a residual comes from -------------------------------------------------------------


def _frames(eqn: JaxprEqn) -> list[tuple[str, int]]:
    traceback = getattr(eqn.source_info, "traceback", None)
    if traceback is None:
        return []
    return [(frame.file_name, frame.line_num) for frame in traceback.frames]


@lru_cache(maxsize=65536)
def _blame_frames(frames: tuple[tuple[str, int], ...]) -> str:
    """The innermost frame outside the tracer's internals, stopping at jaxlint's own driver."""
    for path, line in frames:
        real = os.path.realpath(path) if os.path.isabs(path) else path
        if real.startswith(_ANALYZER_DIR):
            break  # everything further out is jaxlint calling the user's case, not the case
        if not is_internal(path):
            return f"{display_path(path)}:{line}"
    return UNKNOWN_SOURCE


def _aligned_subprogram(eqn: JaxprEqn) -> Jaxpr | None:
    for name in _ALIGNED_SUBPROGRAMS:
        program = eqn.params.get(name)
        if isinstance(program, ClosedJaxpr):
            program = program.jaxpr
        if isinstance(program, Jaxpr) and len(program.outvars) == len(eqn.outvars):
            return program
    return None


class _Producers:
    """Which equation (and output index) defines each variable, per (sub)program, cached."""

    def __init__(self) -> None:
        self._cache: dict[int, tuple[Jaxpr, dict[Any, tuple[JaxprEqn, int]]]] = {}

    def of(self, program: Jaxpr) -> dict[Any, tuple[JaxprEqn, int]]:
        cached = self._cache.get(id(program))
        if cached is None or cached[0] is not program:
            table = {var: (eqn, index) for eqn in program.eqns for index, var in enumerate(eqn.outvars)}
            cached = (program, table)
            self._cache[id(program)] = cached
        return cached[1]

    def origin(self, eqn: JaxprEqn, index: int) -> list[JaxprEqn]:
        """Follow output ``index`` of ``eqn`` into jit/loop bodies: the equations passed, outermost first."""
        chain = [eqn]
        for _ in range(64):  # nesting depth guard
            inner = _aligned_subprogram(eqn)
            if inner is None:
                break
            var = inner.outvars[index]
            if isinstance(var, Literal):
                break
            produced = self.of(inner).get(var)
            if produced is None:  # passed straight through from the sub-program's inputs
                break
            eqn, index = produced
            chain.append(eqn)
        return chain


def _blame_chain(chain: Sequence[JaxprEqn]) -> str:
    """The innermost equation's line; where its traceback is cut short (some of jax's and
    equinox's re-traces keep only a few frames), the nearest enclosing equation's."""
    for eqn in reversed(chain):
        source = _blame_frames(tuple(_frames(eqn)))
        if source != UNKNOWN_SOURCE:
            return source
    return UNKNOWN_SOURCE


def _residual(aval: Any, kind: str, source: str) -> Residual:
    shape = tuple(int(d) for d in aval.shape)
    dtype = aval.dtype  # may be a jax extended dtype (PRNG keys): no numpy name, but an itemsize
    name = dtype.name if isinstance(dtype, np.dtype) else str(dtype)
    itemsize = int(getattr(dtype, "itemsize", 0) or 0)
    return Residual(shape, name, int(np.prod(shape, dtype=np.int64)) * itemsize, kind, source)


def _unbounded_loop_lines(call: DifferentiableCall) -> list[str]:
    """Source lines of every while loop in the forward program (to name them in an error)."""
    closed = jax.make_jaxpr(call.function)(call.fixed, *call.inputs)
    lines: list[str] = []
    stack = [closed.jaxpr]
    while stack:
        program = stack.pop()
        for eqn in program.eqns:
            if eqn.primitive.name == "while":
                lines.append(_blame_frames(tuple(_frames(eqn))))
            for sub in jaxprs_in_params(eqn.params):
                stack.append(sub)
    return sorted(set(lines))


def trace_residuals(call: DifferentiableCall) -> list[Residual]:
    """The residuals of ``call``, leaving out arguments saved as they are (the caller holds them)."""

    def forward_and_backward(fixed: Sequence[Any], *inputs: Any) -> tuple[Any, Any, Any]:
        out, pullback = jax.vjp(lambda *xs: call.function(fixed, *xs), *inputs)
        # Tracing the pullback too surfaces what only the transpose rejects (while loops).
        return out, pullback, pullback(jnp.ones_like(out))

    try:
        closed, shapes = jax.make_jaxpr(forward_and_backward, return_shape=True)(call.fixed, *call.inputs)
    except ResidualError:
        raise
    except Exception as error:
        text = str(error).strip()
        if _UNBOUNDED_LOOP in text:
            try:
                where = ", ".join(_unbounded_loop_lines(call)) or UNKNOWN_SOURCE
            except Exception:  # the forward trace failing too is not worth a second error
                where = UNKNOWN_SOURCE
            raise ResidualError(
                f"not differentiable in reverse mode: a while_loop without a static trip count (at {where}); "
                "use lax.scan, fori_loop with static bounds, or a checkpointed loop with max_steps",
                details=f"{type(error).__name__}: {text}",
            ) from error
        first_line = text.splitlines()[0] if text else ""
        raise ResidualError(
            f"tracing the gradient failed: {type(error).__name__}: {first_line}", details=f"{type(error).__name__}: {text}"
        ) from error

    program = closed.jaxpr
    residual_count = jax.tree_util.tree_structure(shapes[1]).num_leaves
    residual_vars = program.outvars[1 : 1 + residual_count]
    arguments = set(program.invars)
    constants = set(program.constvars)
    producers = _Producers()
    top = producers.of(program)
    residuals: list[Residual] = []
    seen: set[Any] = set()
    for var in residual_vars:
        if isinstance(var, Literal):
            residuals.append(_residual(var.aval, "literal", UNKNOWN_SOURCE))
            continue
        if var in seen:  # the same buffer saved twice is stored once
            continue
        seen.add(var)
        if var in arguments:
            continue
        if var in constants:
            residuals.append(_residual(var.aval, "constant", UNKNOWN_SOURCE))
        else:
            eqn, index = top[var]
            chain = producers.origin(eqn, index)
            residuals.append(_residual(var.aval, chain[-1].primitive.name, _blame_chain(chain)))
    return residuals


@dataclass(frozen=True)
class CompiledMemory:
    """What XLA allocates to run the compiled gradient (``Compiled.memory_analysis()``).

    ``peak_bytes`` is arguments + outputs + temporaries − aliased: what the gradient holds at
    once at most. The residuals carried from the forward to the backward pass live among the
    temporaries, next to what the backward pass allocates for itself, so this (not the residual
    bytes alone) is what a user pays for an adjoint.
    """

    temp_bytes: int
    argument_bytes: int
    output_bytes: int
    alias_bytes: int

    @property
    def peak_bytes(self) -> int:
        return self.argument_bytes + self.output_bytes + self.temp_bytes - self.alias_bytes


def compiled_memory(call: DifferentiableCall) -> CompiledMemory | None:
    """Compile the gradient and read its memory figures (None if the backend reports none)."""
    try:
        stats = jax.jit(call.gradient()).lower(call.fixed, *call.inputs).compile().memory_analysis()
    except Exception as error:
        text = str(error).strip()
        raise ResidualError(
            f"compiling the gradient failed: {type(error).__name__}: {text.splitlines()[0] if text else ''}",
            details=f"{type(error).__name__}: {text}",
        ) from error
    if stats is None or getattr(stats, "temp_size_in_bytes", None) is None:
        return None
    return CompiledMemory(
        temp_bytes=int(stats.temp_size_in_bytes),
        argument_bytes=int(getattr(stats, "argument_size_in_bytes", 0) or 0),
        output_bytes=int(getattr(stats, "output_size_in_bytes", 0) or 0),
        alias_bytes=int(getattr(stats, "alias_size_in_bytes", 0) or 0),
    )


def summarise(residuals: Iterable[Residual], *, n: int | None, largest: int = 5) -> ResidualMeasurement:
    """Totals, the biggest residuals, and bytes per source line."""
    residuals = list(residuals)
    lines: Counter[str] = Counter()
    dtypes: dict[str, Counter[str]] = {}
    for residual in residuals:
        lines[residual.source] += residual.nbytes
        dtypes.setdefault(residual.source, Counter())[residual.dtype] += residual.nbytes
    groups = Counter(residuals)  # identical (type, kind, line) residuals listed once, with a count
    ordered = sorted(
        (replace(residual, count=count) for residual, count in groups.items()),
        key=lambda r: (-r.total_bytes, r.source, r.kind, r.dtype),
    )
    return ResidualMeasurement(
        n=n,
        figures={"residual_bytes": sum(r.nbytes for r in residuals), "residuals": len(residuals)},
        largest=ordered[:largest],
        lines=dict(sorted(lines.items())),
        dtypes_by_line={source: dict(sorted(counts.items())) for source, counts in sorted(dtypes.items())},
    )


def measure_differentiable(call: DifferentiableCall, *, n: int | None = None, compile: bool = False, largest: int = 5) -> ResidualMeasurement:
    """Residual figures of an already-wrapped call (see :func:`measure_residuals`)."""
    measurement = summarise(trace_residuals(call), n=n, largest=largest)
    if compile:
        memory = compiled_memory(call)
        if memory is not None:
            measurement.figures["compiled_temp_bytes"] = memory.temp_bytes
            measurement.figures["compiled_peak_bytes"] = memory.peak_bytes
    return measurement


def measure_residuals(
    fn: Callable[..., Any],
    args: Sequence[Any] = (),
    kwargs: Mapping[str, Any] | None = None,
    *,
    n: int | None = None,
    compile: bool = False,
    largest: int = 5,
) -> ResidualMeasurement:
    """Residual bytes and count of reverse mode through ``fn(*args, **kwargs)``.

    ``compile=True`` adds ``compiled_temp_bytes`` (XLA's temporaries for the compiled gradient,
    which include what the backward pass allocates for itself) and ``compiled_peak_bytes``
    (see :class:`CompiledMemory`).
    """
    return measure_differentiable(differentiable(fn, args, kwargs), n=n, compile=compile, largest=largest)
