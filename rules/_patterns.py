"""What counts as a *size* and as a *large array*, from syntax alone (shared by the JL rules).

Everything here is syntax-only (no types, no execution) and errs towards "don't know": a
helper answers ``None`` rather than guess, and rules stay silent on ``None``. The questions:

- how many elements an array constructor makes (:func:`array_elements`), from literal
  shapes and module-level integer constants (``N = 1000``; ``np.zeros((N, N))``);
- whether an expression is a trace-time size that grows with the problem (``len(ts)``,
  ``max_steps``, ``x.shape[0]``) or a count fixed by the model's structure (``num_layers``,
  ``len(self.blocks)``, tree leaves, array rank) (:class:`SizeClassifier`);
- whether a loop iterates over such a size (:meth:`SizeClassifier.loop_size`).

:class:`FileMemo` keeps these facts (and the scopes of :mod:`jaxlint.rules._scopes`) for
one file, computed lazily: a rule instance lives for one file.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

import libcst as cst

from jaxlint.rules._scopes import Scope, ScopeCache, code_of, module_assignments, single_values

if TYPE_CHECKING:  # pragma: no cover
    from jaxlint.rules._context import RuleContext

# A loop or literal count up to this is a fixed, small program (same bar as JL001).
SMALL_LOOP_MAX = 16
# An array of at least this many elements is "large" when closed over or built in jit.
LARGE_ARRAY_ELEMENTS = 10_000
# Arrays read from files have a size only known at run time: data-sized, treat as large.
LOADED = -1

_NUMPY_ROOTS = ("numpy.", "jax.numpy.")
_LOADERS = frozenset({"load", "loadtxt", "genfromtxt", "fromfile", "memmap", "frombuffer"})
# constructor -> how its size is given: "shape" (first argument or shape=), "n" (n elements),
# "square" (n x n), "range" (arange), "num" (linspace's num), "dims" (randn's *dims)
_CONSTRUCTORS = {
    "zeros": "shape",
    "ones": "shape",
    "empty": "shape",
    "full": "shape",
    "eye": "square",
    "identity": "square",
    "arange": "range",
    "linspace": "num",
    "logspace": "num",
    "geomspace": "num",
    "random.randn": "dims",
    "random.rand": "dims",
    "random.random": "size",
    "random.random_sample": "size",
    "random.standard_normal": "size",
    "random.normal": "size",
    "random.uniform": "size",
    "random.randint": "size",
}
# Wrappers that keep the size of their first argument.
_SIZE_PRESERVING = frozenset({"array", "asarray", "asanyarray", "ascontiguousarray", "copy"})
_SIZE_PRESERVING_METHODS = frozenset({"reshape", "astype", "copy", "T", "ravel", "flatten", "transpose", "squeeze"})

# Name parts that mark a loop over model *structure* (layers, stages, tree leaves, array
# axes): its count is fixed by the architecture, not by the problem size.
_STRUCTURAL_WORDS = frozenset(
    {
        "layer", "layers", "block", "blocks", "module", "modules", "leaf", "leaves", "stage", "stages",
        "head", "heads", "level", "levels", "depth", "child", "children", "term", "terms", "field",
        "fields", "solver", "solvers", "component", "components", "ndim", "axis", "axes", "rank",
        "order", "branch", "branches", "param", "params", "weight", "weights", "bias", "biases",
        "tableau", "models", "nets", "keys", "tree", "trees", "shape", "shapes", "dims", "dimensions", "nd",
        # argument lists: a loop over a function's arguments or their avals is trace-time plumbing
        "args", "arguments", "nargs", "kwargs", "operands", "tracers", "avals", "dtypes", "specs",
        "shardings", "argnums", "argnames", "types",
        # spatial dimensions (2 or 3), a robot's links/joints and their degrees of freedom,
        # devices: fixed by the model or the machine, not by the data. (A bare `dim` is not: it
        # is often a state dimension, e.g. 2 * dim + 1 sigma points of an unscented filter.)
        "spatial", "devices", "device", "link", "links", "joint", "joints", "dof", "dofs",
        "attributes", "attrs",
    }
)
# Functions whose result is a size when an argument is (`int(n / 2)`, `math.ceil(n / k)`).
_SIZE_FUNCTIONS = frozenset(
    {"builtins.int", "builtins.min", "builtins.max", "builtins.abs", "builtins.round", "math.ceil", "math.floor"}
)
# Functions that keep the length of their first argument's leading axis.
_ORDER_PRESERVING = frozenset({"jax.numpy.flip", "numpy.flip", "jax.numpy.asarray", "numpy.asarray", "builtins.reversed"})
# Library code is not a size helper (`jnp.sum(x)` in a bound would fail under jit anyway).
_LIBRARY_ROOTS = ("builtins.", "jax.", "numpy.", "math.", "functools.", "operator.", "itertools.", "equinox.")
# Names that denote an array of times or samples when iterated directly (`for t in ts`).
_ARRAY_NAMES = frozenset({"ts", "times", "t_eval", "timesteps", "save_ts", "saveat_ts"})
_TREE_FUNCTIONS = frozenset(
    {
        "jax.tree_util.tree_leaves", "jax.tree_util.tree_flatten", "jax.tree.leaves", "jax.tree.flatten",
        "jax.tree_leaves", "jax.tree_flatten", "equinox.tree_flatten_one_level",
    }
)


def int_value(
    expr: cst.BaseExpression, constants: dict[str, cst.BaseExpression] | None = None, depth: int = 0
) -> int | None:
    """The integer an expression surely evaluates to, or None.

    Handles literals (``10_000``, ``1e4`` when integral), ``int(...)``, ``+ - * // **``, unary
    minus, and names in ``constants`` (module-level single assignments), recursively.
    """
    if depth > 20:
        return None
    if isinstance(expr, cst.Integer):
        return int(expr.evaluated_value)
    if isinstance(expr, cst.Float):
        value = float(expr.evaluated_value)
        return int(value) if value.is_integer() and abs(value) < 1e15 else None
    if isinstance(expr, cst.UnaryOperation) and isinstance(expr.operator, cst.Minus):
        inner = int_value(expr.expression, constants, depth + 1)
        return -inner if inner is not None else None
    if isinstance(expr, cst.Name) and constants and expr.value in constants:
        return int_value(constants[expr.value], constants, depth + 1)
    if isinstance(expr, cst.Call) and isinstance(expr.func, cst.Name) and expr.func.value == "int" and len(expr.args) == 1:
        return int_value(expr.args[0].value, constants, depth + 1)
    if isinstance(expr, cst.BinaryOperation):
        left = int_value(expr.left, constants, depth + 1)
        right = int_value(expr.right, constants, depth + 1)
        if left is None or right is None:
            return None
        operator = expr.operator
        if isinstance(operator, cst.Add):
            return left + right
        if isinstance(operator, cst.Subtract):
            return left - right
        if isinstance(operator, cst.Multiply):
            return left * right
        if isinstance(operator, cst.FloorDivide) and right != 0:
            return left // right
        if isinstance(operator, cst.Power) and 0 <= right <= 64 and abs(left) < 1 << 20:
            return left**right
    return None


def shape_elements(expr: cst.BaseExpression, constants: dict[str, cst.BaseExpression] | None) -> int | None:
    """Number of elements of a literal shape: ``(1000, 1000)`` -> 10**6, ``500`` -> 500."""
    if isinstance(expr, (cst.Tuple, cst.List)):
        sizes = []
        for element in expr.elements:
            if not isinstance(element, cst.Element):
                return None
            size = int_value(element.value, constants)
            if size is None or size < 0:
                return None
            sizes.append(size)
        return math.prod(sizes)
    size = int_value(expr, constants)
    return size if size is not None and size >= 0 else None


def _argument(call: cst.Call, position: int, keyword: str) -> cst.BaseExpression | None:
    for arg in call.args:
        if arg.keyword is not None and arg.keyword.value == keyword:
            return arg.value
    positional = [a for a in call.args if a.keyword is None and not a.star]
    return positional[position].value if position < len(positional) else None


def array_elements(
    expr: cst.BaseExpression, context: "RuleContext", constants: dict[str, cst.BaseExpression] | None
) -> tuple[int, str] | None:
    """(elements, constructor) of a NumPy / jax.numpy array made by ``expr``, when known.

    ``elements`` is :data:`LOADED` for arrays read from a file (``np.load``): data-sized.
    Size-preserving wrappers and methods (``jnp.asarray(np.load(f))``, ``.reshape``) are
    looked through.
    """
    if isinstance(expr, cst.Attribute) and expr.attr.value in _SIZE_PRESERVING_METHODS:
        return array_elements(expr.value, context, constants)
    if not isinstance(expr, cst.Call):
        return None
    if isinstance(expr.func, cst.Attribute) and expr.func.attr.value in _SIZE_PRESERVING_METHODS:
        inner = array_elements(expr.func.value, context, constants)
        if inner is not None:
            return inner
    qualified = context.qualified_name(expr.func)
    if qualified is None or not qualified.startswith(_NUMPY_ROOTS):
        return None
    short = qualified.split(".", 2)[-1] if qualified.startswith("jax.numpy.") else qualified.split(".", 1)[-1]
    label = ("jnp." if qualified.startswith("jax.") else "np.") + short
    if short in _LOADERS:
        return LOADED, label
    if short in _SIZE_PRESERVING and expr.args:
        return array_elements(expr.args[0].value, context, constants)
    kind = _CONSTRUCTORS.get(short)
    if kind is None:
        return None
    elements: int | None = None
    if kind == "shape":
        shape = _argument(expr, 0, "shape")
        elements = shape_elements(shape, constants) if shape is not None else None
    elif kind == "square":
        n = _argument(expr, 0, "N" if short == "eye" else "n")
        m = _argument(expr, 1, "M") if short == "eye" else None
        rows = int_value(n, constants) if n is not None else None
        columns = int_value(m, constants) if m is not None else rows
        elements = rows * columns if rows is not None and columns is not None else None
    elif kind == "range":
        bounds = [a.value for a in expr.args if a.keyword is None and not a.star]
        values = [int_value(b, constants) for b in bounds[:3]]
        if values and all(v is not None for v in values):
            elements = len(range(*values))  # type: ignore[arg-type]
    elif kind == "num":
        num = _argument(expr, 2, "num")
        elements = int_value(num, constants) if num is not None else 50
    elif kind == "dims":
        dims = [int_value(a.value, constants) for a in expr.args if a.keyword is None]
        elements = math.prod(dims) if dims and all(d is not None for d in dims) else None  # type: ignore[arg-type]
    elif kind == "size":
        size = _argument(expr, 99, "size")
        elements = shape_elements(size, constants) if size is not None else None
    if elements is None:
        return None
    return elements, label


def describe_elements(elements: int) -> str:
    return "data-sized: read from a file" if elements == LOADED else f"{elements:,} elements"


# --- Python values -------------------------------------------------------------------------------
_SCALAR_LITERALS = (cst.Integer, cst.Float, cst.Imaginary, cst.SimpleString, cst.ConcatenatedString, cst.FormattedString)


def is_python_scalar(expr: cst.BaseExpression, ints: frozenset[str] = frozenset()) -> bool:
    """``expr`` surely makes a Python scalar (or a tuple/list of them): literals, ``True``,
    ``None``, arithmetic and tuples of those, and the names in ``ints`` (a comprehension's
    ``range`` target). ``jnp.array`` of a list of these is converted on the host: one constant."""
    if isinstance(expr, _SCALAR_LITERALS):
        return True
    if isinstance(expr, cst.Name):
        return expr.value in ("True", "False", "None") or expr.value in ints
    if isinstance(expr, cst.UnaryOperation):
        return is_python_scalar(expr.expression, ints)
    if isinstance(expr, cst.BinaryOperation):
        return is_python_scalar(expr.left, ints) and is_python_scalar(expr.right, ints)
    if isinstance(expr, (cst.Tuple, cst.List)):
        return all(isinstance(e, cst.Element) and is_python_scalar(e.value, ints) for e in expr.elements)
    return False


# --- sizes vs structure -------------------------------------------------------------------------
def name_words(name: str) -> list[str]:
    return [w for w in re.split(r"[_\W]+|(?<=[a-z])(?=[A-Z])", name) if w]


def is_structural_name(name: str) -> bool:
    """``num_layers``, ``self.blocks``, ``n_stages``: a count fixed by the model's structure."""
    return any(word.lower() in _STRUCTURAL_WORDS for word in name_words(name))


# Words that make a name a count or an end point (`max_steps`, `n_iters`, `t1`, `N`).
_COUNT_WORDS = frozenset(
    {
        "n", "m", "num", "max", "steps", "step", "size", "len", "length", "count", "total", "iters",
        "iterations", "niter", "maxiter", "t1", "tf", "tend", "t_end", "end", "stop", "limit", "nsteps",
        "outsize", "out", "points", "samples",
    }
)


def is_count_name(name: str) -> bool:
    """``max_steps``, ``n_iters``, ``N``, ``t1``, ``out_size``: a name read as a count/end point."""
    if name in ("N", "M", "T"):
        return True
    return any(word.lower() in _COUNT_WORDS for word in name_words(name))


def last_identifier(expr: cst.BaseExpression) -> str | None:
    """``self.solver.ts`` -> "ts"; ``ts`` -> "ts"; ``ts[1:]`` -> "ts"; anything else -> None."""
    while isinstance(expr, cst.Subscript):
        expr = expr.value
    if isinstance(expr, cst.Attribute):
        return expr.attr.value
    if isinstance(expr, cst.Name):
        return expr.value
    return None


@dataclass(frozen=True)
class LoopSize:
    """Why a loop's trip count is a size: ``what`` is shown in messages (``range(len(ts))``)."""

    what: str
    count: int | None = None  # a literal count, when known


class SizeClassifier:
    """Decides whether an expression is a trace-time *size* (it grows with the problem).

    ``local_scope``: the enclosing function's bindings; its single assignments
    (``n = len(ts)``) are looked through; ``constants``: module-level single assignments.
    """

    def __init__(
        self,
        context: "RuleContext",
        constants: dict[str, cst.BaseExpression],
        local_scope: "Scope | None" = None,
    ) -> None:
        self.context = context
        self.local_values = local_scope.single_values() if local_scope is not None else {}
        # A local binding shadows a module constant of the same name.
        shadowed = local_scope.bound if local_scope is not None else frozenset()
        self.constants = {k: v for k, v in constants.items() if k not in shadowed}

    def is_size(self, expr: cst.BaseExpression, depth: int = 0) -> bool:
        """A count that grows with the problem: ``n``, ``max_steps``, ``len(ts)``,
        ``x.shape[0]``, a literal above :data:`SMALL_LOOP_MAX`; not ``num_layers`` or 4."""
        if depth > 8:
            return False
        literal = int_value(expr, self.constants)
        if literal is not None:
            return literal > SMALL_LOOP_MAX
        if isinstance(expr, cst.Name):
            if is_structural_name(expr.value) or expr.value in ("True", "False", "None"):
                return False  # `ndim_out = np.ndim(x) + len(dims)` is still a rank
            value = self.local_values.get(expr.value)
            if value is not None:
                return self.is_size(value, depth + 1)
            return True
        if isinstance(expr, cst.Attribute):
            if expr.attr.value == "size":
                return True
            return not is_structural_name(expr.attr.value) and expr.attr.value not in ("ndim",)
        if isinstance(expr, cst.Subscript):
            # x.shape[0], jnp.shape(x)[0]
            base = expr.value
            if isinstance(base, cst.Attribute) and base.attr.value == "shape":
                return True
            if isinstance(base, cst.Call) and self.context.qualified_name(base.func) in ("jax.numpy.shape", "numpy.shape"):
                return True
            return False
        if isinstance(expr, cst.Call):
            qualified = self.context.qualified_name(expr.func)
            if qualified == "builtins.len" and len(expr.args) == 1:
                return self.is_sized_collection(expr.args[0].value)
            if qualified in ("jax.numpy.size", "numpy.size"):
                return True
            if qualified in _SIZE_FUNCTIONS:
                return any(self.is_size(a.value, depth + 1) for a in expr.args)
            if qualified is not None and qualified.startswith(_LIBRARY_ROOTS):
                return False
            # A helper's result (`samples.ntheta(L, sampling)`, `sys.act_size()`): a size when
            # the helper is named as a count or is computed from one, unless named as structure.
            name = last_identifier(expr.func)
            if name is None or is_structural_name(name):
                return False
            return is_count_name(name) or any(self.is_size(a.value, depth + 1) for a in expr.args if not a.keyword)
        if isinstance(expr, cst.BinaryOperation):
            return self.is_size(expr.left, depth + 1) or self.is_size(expr.right, depth + 1)
        return False

    def is_sized_collection(self, expr: cst.BaseExpression) -> bool:
        """``len(X)`` grows with the problem unless X is structure (layers, tree leaves)."""
        if isinstance(expr, cst.Call):
            qualified = self.context.qualified_name(expr.func)
            if qualified in _TREE_FUNCTIONS:
                return False
            return array_elements(expr, self.context, self.constants) is not None
        name = last_identifier(expr)
        if name is None:
            return False
        if isinstance(expr, cst.Name):
            value = self.local_values.get(expr.value)
            if isinstance(value, cst.Call) and self.context.qualified_name(value.func) in _TREE_FUNCTIONS:
                return False
            if isinstance(value, (cst.Tuple, cst.List)):
                return False  # a literal collection: its length is written in the code
        return not is_structural_name(name)

    def is_array_iterable(self, expr: cst.BaseExpression, depth: int = 0) -> bool:
        """Iterating this walks an array's leading axis: ``jnp.linspace(...)``, ``ts``,
        ``jnp.arange(n)`` / ``np.arange(start=1, stop=model.NB)`` with a size as its end."""
        if depth > 8:
            return False
        if isinstance(expr, cst.Call):
            found = array_elements(expr, self.context, self.constants)
            if found is not None:
                return found[0] == LOADED or found[0] > SMALL_LOOP_MAX
            if self.context.qualified_name(expr.func) in _ORDER_PRESERVING and expr.args:
                return self.is_array_iterable(expr.args[0].value, depth + 1)  # jnp.flip(ms), ms.astype(int)
            if isinstance(expr.func, cst.Attribute) and expr.func.attr.value in _SIZE_PRESERVING_METHODS:
                return self.is_array_iterable(expr.func.value, depth + 1)
            return self._sized_range(expr)
        if isinstance(expr, cst.Name):
            value = self.local_values.get(expr.value)
            if value is not None and not isinstance(value, cst.Name):
                return self.is_array_iterable(value, depth + 1)
            return expr.value in _ARRAY_NAMES
        if isinstance(expr, cst.BinaryOperation):  # `jnp.arange(k, -1, -1) - k + el`: same length
            return self.is_array_iterable(expr.left, depth + 1) or self.is_array_iterable(expr.right, depth + 1)
        if isinstance(expr, cst.UnaryOperation):
            return self.is_array_iterable(expr.expression, depth + 1)
        if isinstance(expr, cst.Attribute):
            return expr.attr.value in _ARRAY_NAMES
        if isinstance(expr, cst.Subscript):  # ts[:-1], ts[1:]
            return self.is_array_iterable(expr.value, depth + 1)
        return False

    def _sized_range(self, call: cst.Call) -> bool:
        """``jnp.arange(n)``, ``np.linspace(a, b, num)`` whose length is not a literal: a size
        when its end / count is one."""
        qualified = self.context.qualified_name(call.func)
        if qualified is None or not qualified.startswith(_NUMPY_ROOTS):
            return False
        short = qualified.rsplit(".", 1)[-1]
        if _CONSTRUCTORS.get(short) == "range":
            # its length is |stop - start| / step: a size when either end is one
            ends = [_argument(call, 0, "start"), _argument(call, 1, "stop")]
            return any(end is not None and self.is_size(end) for end in ends)
        if _CONSTRUCTORS.get(short) == "num":
            num = _argument(call, 2, "num")
            return num is not None and self.is_size(num)
        return False

    def loop_size(self, iterable: cst.BaseExpression) -> LoopSize | None:
        """Why iterating ``iterable`` runs a size-many times, or None if it does not (or
        we cannot tell): ``range(...)`` bounds, ``enumerate``/``zip``/``reversed`` of
        sizes, direct iteration over arrays of times."""
        if isinstance(iterable, cst.Call):
            qualified = self.context.qualified_name(iterable.func)
            arguments = [a.value for a in iterable.args if a.keyword is None and not a.star]
            if qualified == "builtins.range" and arguments and len(arguments) == len(iterable.args):
                values = [int_value(a, self.constants) for a in arguments[:3]]
                if all(v is not None for v in values):
                    count = len(range(*values))  # type: ignore[arg-type]
                    return LoopSize(code_of(iterable), count) if count > SMALL_LOOP_MAX else None
                stop = arguments[0] if len(arguments) == 1 else arguments[1]
                if len(arguments) >= 2 and _negates(arguments[0], stop):
                    return None  # range(-k, k): axis indices, negative and positive
                if len(arguments) == 2:
                    offset = _offset(arguments[0], stop, self.constants)
                    if offset is not None:  # range(first, first + 7): 7 iterations
                        return LoopSize(code_of(iterable), offset) if offset > SMALL_LOOP_MAX else None
                return LoopSize(code_of(iterable)) if self.is_size(stop) else None
            if qualified in ("builtins.enumerate", "builtins.reversed") and arguments:
                inner = self.loop_size(arguments[0])
                return LoopSize(code_of(iterable), inner.count) if inner else None
            if qualified == "builtins.zip" and arguments:
                # zip stops at its shortest argument: one fixed-size argument bounds the loop
                inner_sizes = [self.loop_size(a) for a in arguments]
                if all(s is not None for s in inner_sizes) or self._pairwise(arguments):
                    return LoopSize(code_of(iterable))
                return None
        if self.is_array_iterable(iterable):
            return LoopSize(code_of(iterable))
        return None

    def _pairwise(self, arguments: list[cst.BaseExpression]) -> bool:
        """``zip(xs[:-1], xs[1:])``: consecutive pairs of one sequence, as long as it; a size
        unless the sequence is structure (``layer_sizes``) or a literal collection."""
        if len(arguments) < 2 or not all(
            isinstance(a, cst.Subscript) and any(isinstance(e.slice, cst.Slice) for e in a.slice) for a in arguments
        ):
            return False
        base = arguments[0].value  # type: ignore[attr-defined]
        if not all(a.value.deep_equals(base) for a in arguments[1:]):  # type: ignore[attr-defined]
            return False
        name = last_identifier(base)
        if name is None or is_structural_name(name):
            return False
        if isinstance(base, cst.Name):
            value = self.local_values.get(base.value, self.constants.get(base.value))
            if isinstance(value, (cst.Tuple, cst.List)):
                return False
        return True

    def literal_count(self, iterable: cst.BaseExpression, depth: int = 0) -> int | None:
        """The trip count of ``range(<literals>)``, a literal tuple/list, a name bound once to
        one (a Butcher tableau ``A = ((), (0.5,), ...)`` at module level), or ``np.array`` of
        one; else None."""
        if isinstance(iterable, (cst.Tuple, cst.List)):
            if any(isinstance(e, cst.StarredElement) for e in iterable.elements):
                return None
            return len(iterable.elements)
        if isinstance(iterable, cst.Name) and depth < 4:
            value = self.local_values.get(iterable.value, self.constants.get(iterable.value))
            return self.literal_count(value, depth + 1) if value is not None else None
        if (
            isinstance(iterable, cst.Call)
            and iterable.args
            and self.context.qualified_name(iterable.func) in ("numpy.array", "numpy.asarray", "jax.numpy.array", "jax.numpy.asarray")
            and isinstance(iterable.args[0].value, (cst.Tuple, cst.List))
        ):
            return self.literal_count(iterable.args[0].value, depth + 1)
        if isinstance(iterable, cst.Call) and self.context.qualified_name(iterable.func) == "builtins.range":
            values = [int_value(a.value, self.constants) for a in iterable.args]
            if iterable.args and all(v is not None for v in values) and len(values) <= 3:
                return len(range(*values))  # type: ignore[arg-type]
        return None


def _offset(start: cst.BaseExpression, stop: cst.BaseExpression, constants: dict[str, cst.BaseExpression]) -> int | None:
    """``stop == start + k`` with k a known integer -> k."""
    if isinstance(stop, cst.BinaryOperation) and isinstance(stop.operator, cst.Add):
        for same, other in ((stop.left, stop.right), (stop.right, stop.left)):
            if same.deep_equals(start):
                return int_value(other, constants)
    return None


def _negates(start: cst.BaseExpression, stop: cst.BaseExpression) -> bool:
    return (
        isinstance(start, cst.UnaryOperation)
        and isinstance(start.operator, cst.Minus)
        and start.expression.deep_equals(stop)
    )


# --- per-file memo -----------------------------------------------------------------------------
class FileMemo:
    """Lazily computed per-file facts a rule instance keeps (a rule lives for one file)."""

    def __init__(self, context: "RuleContext") -> None:
        self.context = context
        self.scopes = ScopeCache()
        self._constants: dict[str, cst.BaseExpression] | None = None
        self._module_bindings: dict[str, list[cst.BaseExpression]] | None = None

    @property
    def module_bindings(self) -> dict[str, list[cst.BaseExpression]]:
        if self._module_bindings is None:
            self._module_bindings = module_assignments(self.context.module)
        return self._module_bindings

    @property
    def constants(self) -> dict[str, cst.BaseExpression]:
        """Module-level names assigned exactly once: name -> value."""
        if self._constants is None:
            self._constants = single_values(self.module_bindings)
        return self._constants

    def local_scope(self, node: cst.CSTNode) -> Scope | None:
        """The bindings of the function enclosing ``node`` (None at module level)."""
        function = self.context.enclosing_function(node)
        return self.scopes(function) if function is not None else None

    def classifier(self, node: cst.CSTNode) -> SizeClassifier:
        return SizeClassifier(self.context, self.constants, self.local_scope(node))
