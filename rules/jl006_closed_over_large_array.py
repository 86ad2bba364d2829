"""JL006 closed-over-large-array: a large global or closed-over array used in traced code (pitfall P6)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import libcst as cst

from jaxlint.rules._base import Invalid, LintRule, Valid
from jaxlint.rules._patterns import LARGE_ARRAY_ELEMENTS, LOADED, FileMemo, array_elements, describe_elements
from jaxlint.rules._scopes import defining_scope

# Reading these from an array is trace-time metadata, not its values.
_METADATA_ATTRIBUTES = frozenset({"shape", "ndim", "dtype", "size", "nbytes", "itemsize"})
_METADATA_CALLS = frozenset(
    {"builtins.len", "jax.numpy.shape", "jax.numpy.ndim", "jax.numpy.size", "numpy.shape", "numpy.ndim", "numpy.size", "builtins.isinstance"}
)


@dataclass(frozen=True)
class _LargeArray:
    elements: int
    label: str
    value: cst.BaseExpression


class ClosedOverLargeArray(LintRule):
    CODE = "JL006"
    NAME = "closed-over-large-array"
    MESSAGE = (
        "a large array from an enclosing scope is used in traced code: it is baked into the program as a "
        "constant; pass it as an argument (or keep it as an `eqx.Module` field)"
    )
    WHY = """
        An array that traced code reads from a global or a closure is not an input of the compiled
        program: JAX embeds its values as a constant. The program's constant bytes grow with the
        array (4 kB / 40 kB / 400 kB at 1k / 10k / 100k elements), XLA constant-folds through it,
        and compile time grows with its size: a closed-over 200000×10×10 array took 4.1 s to compile
        against 0.03 s as an argument. The rule fires for arrays made by NumPy / jax.numpy
        constructors with at least 10,000 elements (from literal shapes or module constants), and for
        arrays read from files (`np.load`, `np.loadtxt`), when a traced function reads their values.
    """
    PITFALL = "P6"
    REFERENCES = ("jax#14655", "jax#10596", "jax#10585")
    TRACED_ONLY = True
    FIX_SAFETY = "none"
    PREFILTER = (
        "zeros", "ones", "empty", "full", "eye", "identity", "arange", "linspace", "logspace", "geomspace",
        "random", "load", "fromfile", "memmap", "frombuffer",
    )
    REQUIRES = ("numpy", "jax.numpy")

    VALID: ClassVar[list[str | Valid]] = [
        # Passed as an argument: an input of the program, not a constant.
        """
import jax
import numpy as np

TABLE = np.random.randn(1000, 1000)

@jax.jit
def apply(table, x):
    return table @ x

y = apply(TABLE, np.ones(1000))
""",
        # Small arrays (a Butcher tableau) and shape-only uses are fine.
        """
import jax
import jax.numpy as jnp
import numpy as np

C = np.array([0.0, 0.5, 1.0])
GRID = np.zeros((1000, 1000))

@jax.jit
def step(y):
    n = GRID.shape[0] + len(GRID)
    return y * C[1] + n
""",
        # Used only in plain Python, and shadowed by a parameter in traced code.
        """
import jax
import numpy as np

DATA = np.load("data.npy")

def summary():
    return DATA.mean()

@jax.jit
def f(DATA):
    return DATA.sum()
""",
    ]

    INVALID: ClassVar[list[Invalid]] = [
        Invalid(
            """
import jax
import numpy as np

TABLE = np.random.randn(200000, 10, 10)

@jax.jit
def lookup(i):
    return TABLE[i].sum()
""",
            expected_message_contains="20,000,000 elements",
        ),
        Invalid(
            """
import jax
import jax.numpy as jnp
import numpy as np

N = 500

def make_model():
    weights = jnp.ones((N, N))

    def vector_field(t, y, args):
        return weights @ y

    return jax.jit(vector_field)
""",
            expected_message_contains="`weights`",
        ),
        Invalid(
            """
import diffrax
import numpy as np

forcing = np.loadtxt("forcing.csv")

def vector_field(t, y, args):
    return -y + forcing[0]

term = diffrax.ODETerm(vector_field)
""",
            expected_message_contains="read from a file",
        ),
    ]

    def __init__(self, context) -> None:
        super().__init__(context)
        self.memo = FileMemo(context)
        self._module_arrays: dict[str, _LargeArray] | None = None
        # (def node, name) -> array, for big arrays bound inside functions (closures)
        self.closure_arrays: dict[tuple[cst.FunctionDef, str], _LargeArray] = {}
        self.closure_names: set[str] = set()
        self.reported: set[tuple[cst.CSTNode | None, str]] = set()

    @property
    def module_arrays(self) -> dict[str, _LargeArray]:
        if self._module_arrays is None:
            self._module_arrays = {}
            for name, value in self.memo.constants.items():
                found = self._large(value)
                if found is not None:
                    self._module_arrays[name] = found
        return self._module_arrays

    def _large(self, value: cst.BaseExpression) -> _LargeArray | None:
        found = array_elements(value, self.context, self.memo.constants)
        if found is None:
            return None
        elements, label = found
        if elements == LOADED or elements >= LARGE_ARRAY_ELEMENTS:
            return _LargeArray(elements, label, value)
        return None

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        # Record big arrays bound in this function; nested functions are visited later.
        for name, value in self.memo.scopes(node).single_values().items():
            found = self._large(value)
            if found is not None:
                self.closure_arrays[(node, name)] = found
                self.closure_names.add(name)

    def visit_Name(self, node: cst.Name) -> None:
        name = node.value
        if name not in self.closure_names and name not in self.module_arrays:
            return
        if not self._reads_values(node):
            return
        scope = defining_scope(name, node, self.context, self.memo.scopes)
        if isinstance(scope, cst.Module):
            array = self.module_arrays.get(name)
        elif isinstance(scope, cst.FunctionDef):
            array = self.closure_arrays.get((scope, name))
            if array is not None and (self.context.enclosing_function(node) is scope or self.context.is_traced(scope.body)):
                return  # used where it is made, or made in traced code: not a closed-over constant
        else:
            return
        if array is None:
            return
        reason = self.context.traced_reason(node)
        if reason is None:
            return
        user = self.context.enclosing_function(node)
        if (user, name) in self.reported:
            return
        self.reported.add((user, name))
        line = self.context.position(array.value)[0]
        self.report(
            node,
            f"`{name}` ({describe_elements(array.elements)}, `{array.label}(...)` at line {line}) is closed over "
            f"in traced code ({reason}): it is baked into the program as a constant; pass it as an argument "
            "(or keep it as an `eqx.Module` field)",
        )

    def _reads_values(self, node: cst.Name) -> bool:
        """True for a load of the array's values (not a store, an attribute name, a keyword,
        or shape/dtype metadata)."""
        parent = self.context.parent(node)
        if isinstance(parent, cst.Attribute):
            if parent.attr is node:
                return False
            return parent.attr.value not in _METADATA_ATTRIBUTES
        if isinstance(parent, cst.Arg):
            if parent.keyword is node:
                return False
            call = self.context.parent(parent)
            if isinstance(call, cst.Call) and self.context.qualified_name(call.func) in _METADATA_CALLS:
                return False
            return True
        if isinstance(parent, (cst.Param, cst.FunctionDef, cst.ClassDef, cst.ImportAlias, cst.AsName, cst.NameItem)):
            return False
        if isinstance(parent, cst.AssignTarget) and parent.target is node:
            return False
        if isinstance(parent, (cst.AugAssign, cst.AnnAssign)) and parent.target is node:
            return False
        if isinstance(parent, (cst.For, cst.CompFor)) and parent.target is node:
            return False
        if isinstance(parent, (cst.Element, cst.Tuple, cst.List)):
            # a tuple target (`a, b = ...`) stores; a tuple value loads: ask the grandparent
            holder = self.context.parent(parent if isinstance(parent, (cst.Tuple, cst.List)) else self.context.parent(parent))
            if isinstance(holder, (cst.AssignTarget, cst.For, cst.CompFor)):
                return False
        return True
