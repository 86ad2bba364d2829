"""JL008 python-scalar-recompile: Python numbers that change per loop iteration passed where they are
static (``diffeqsolve``, step-size controllers, ``eqx.filter_jit`` functions) (pitfall P8)."""

from __future__ import annotations

from typing import ClassVar

import libcst as cst

from jaxlint.rules._base import Invalid, LintRule, Valid
from jaxlint.rules._patterns import FileMemo
from jaxlint.rules._scopes import CallsWhenRun, bind_arguments, code_of, namespace_alias

# diffeqsolve's parameters in order, and those whose value may be a traced array.
_SOLVE_PARAMETERS = ("terms", "solver", "t0", "t1", "dt0", "y0", "args")
_SOLVE_DYNAMIC = frozenset({"t0", "t1", "dt0", "y0", "args"})
_SOLVER_PACKAGES = ("diffrax.", "jaxlint.solver.")
_CONTROLLERS = frozenset({"PIDController", "ConstantStepSize", "StepTo", "ClipStepSizeController"})
_FILTER_JIT = "equinox.filter_jit"
_NUMBER_CALLS = frozenset({"builtins.float", "builtins.int", "builtins.round", "builtins.abs", "builtins.min", "builtins.max"})


class _Body(CallsWhenRun):
    """Assignments and calls of a loop body, in order, outside nested defs/lambdas/classes."""

    def __init__(self) -> None:
        super().__init__()
        self.assignments: list[tuple[str, cst.BaseExpression, bool]] = []  # (name, value, augmented)

    def visit_Assign(self, node: cst.Assign) -> None:
        if len(node.targets) == 1 and isinstance(node.targets[0].target, cst.Name):
            self.assignments.append((node.targets[0].target.value, node.value, False))

    def visit_AugAssign(self, node: cst.AugAssign) -> None:
        if isinstance(node.target, cst.Name):
            self.assignments.append((node.target.value, node.value, True))


def _is_number_literal(expr: cst.BaseExpression) -> bool:
    if isinstance(expr, (cst.Integer, cst.Float)):
        return True
    if isinstance(expr, cst.UnaryOperation):
        return _is_number_literal(expr.expression)
    if isinstance(expr, cst.BinaryOperation):
        return _is_number_literal(expr.left) and _is_number_literal(expr.right)
    return False


def _is_number_sequence(expr: cst.BaseExpression) -> bool:
    return isinstance(expr, (cst.List, cst.Tuple, cst.Set)) and bool(expr.elements) and all(
        isinstance(e, cst.Element) and _is_number_literal(e.value) for e in expr.elements
    )


class PythonScalarRecompile(LintRule):
    CODE = "JL008"
    NAME = "python-scalar-recompile"
    MESSAGE = (
        "a Python number that changes every loop iteration is passed where it is static "
        "(`eqx.filter_jit` functions, `diffeqsolve`, step-size controllers): each new value recompiles; "
        "pass `jnp.asarray(value)`"
    )
    WHY = """
        `eqx.filter_jit` (which `diffeqsolve` uses) treats every non-array leaf of its arguments,
        Python floats and ints included, as static: part of the compilation cache key. A sweep
        `for rtol in [1e-3, 1e-6, 1e-9]: diffeqsolve(..., PIDController(rtol=rtol, ...))` therefore
        traces and compiles the whole solve once per value (~1.2 s per call here), where
        `jnp.asarray(rtol)` compiles once and reuses the program (0.00 s after the first call).
        Compile count grows linearly with the number of distinct values. (`jax.jit` static
        arguments recompile per value too, but there static was chosen on purpose, often for
        shapes: not reported.)
    """
    PITFALL = "P8"
    REFERENCES = ("diffrax#466", "equinox#1062", "equinox#640")
    TRACED_ONLY = False  # the sweep loop runs in plain Python (the rule skips traced loops)
    FIX_SAFETY = "unsafe"
    PREFILTER = ("diffeqsolve", "Controller", "StepSize", "StepTo", "filter_jit")
    REQUIRES = ("diffrax", "jaxlint.solver", "equinox.filter_jit")

    VALID: ClassVar[list[str | Valid]] = [
        # Arrays: one compilation for all values.
        """
import diffrax
import jax.numpy as jnp

def sweep(term, solver, y0):
    for rtol in [1e-3, 1e-6, 1e-9]:
        controller = diffrax.PIDController(rtol=jnp.asarray(rtol), atol=1e-9)
        diffrax.diffeqsolve(term, solver, 0.0, 1.0, 0.01, y0, stepsize_controller=controller)
""",
        # The same literal every iteration: one compilation, reused.
        """
import diffrax

def repeat(term, solver, ys):
    for y0 in ys:
        diffrax.diffeqsolve(term, solver, t0=0.0, t1=1.0, dt0=0.01, y0=y0)
""",
        # NumPy scalars are arrays to equinox; jax.jit (not static) traces Python numbers.
        """
import equinox as eqx
import jax
import numpy as np

@eqx.filter_jit
def solve(x, scale):
    return x * scale

@jax.jit
def plain(x, scale):
    return x * scale

def sweep(x):
    for scale in np.linspace(0.1, 1.0, 10):
        solve(x, scale)
    for k in range(10):
        plain(x, k * 0.1)
""",
    ]

    INVALID: ClassVar[list[Invalid]] = [
        Invalid(
            """
import diffrax
import jax.numpy as jnp

def sweep(term, solver, y0):
    for rtol in [1e-3, 1e-6, 1e-9]:
        controller = diffrax.PIDController(rtol=rtol, atol=1e-9)
        diffrax.diffeqsolve(term, solver, 0.0, 1.0, 0.01, y0, stepsize_controller=controller)
""",
            expected_replacement="""
import diffrax
import jax.numpy as jnp

def sweep(term, solver, y0):
    for rtol in [1e-3, 1e-6, 1e-9]:
        controller = diffrax.PIDController(rtol=jnp.asarray(rtol), atol=1e-9)
        diffrax.diffeqsolve(term, solver, 0.0, 1.0, 0.01, y0, stepsize_controller=controller)
""",
            expected_message_contains="`PIDController`",
        ),
        Invalid(
            """
import jax
from diffrax import diffeqsolve

def horizons(term, solver, y0):
    out = []
    for i in range(10):
        t1 = 1.0 + i
        out.append(diffeqsolve(term, solver, t0=0.0, t1=t1, dt0=0.01, y0=y0))
    return out
""",
            expected_replacement="""
import jax
from diffrax import diffeqsolve

def horizons(term, solver, y0):
    out = []
    for i in range(10):
        t1 = 1.0 + i
        out.append(diffeqsolve(term, solver, t0=0.0, t1=jax.numpy.asarray(t1), dt0=0.01, y0=y0))
    return out
""",
        ),
        Invalid(
            """
import equinox as eqx

@eqx.filter_jit
def loss(model, x, weight):
    return weight * model(x)

def train(model, x):
    weight = 0.0
    while weight < 1.0:
        loss(model, x, weight)
        weight += 0.1
""",
            expected_message_contains="`eqx.filter_jit`",
        ),
        Invalid(
            """
import equinox as eqx
import jax.numpy as jnp

@eqx.filter_jit
def run(model, y0, args):
    return model(y0, args)

def sweep(model, y0):
    gammas = (0.1, 0.2, 0.5)
    for i, gamma in enumerate(gammas):
        run(model, y0, (gamma, 2.0))
""",
            expected_replacement="""
import equinox as eqx
import jax.numpy as jnp

@eqx.filter_jit
def run(model, y0, args):
    return model(y0, args)

def sweep(model, y0):
    gammas = (0.1, 0.2, 0.5)
    for i, gamma in enumerate(gammas):
        run(model, y0, (jnp.asarray(gamma), 2.0))
""",
        ),
    ]

    def __init__(self, context) -> None:
        super().__init__(context)
        self.memo = FileMemo(context)
        self._filter_jitted: set[str] | None = None
        self.reported: set[cst.CSTNode] = set()

    # -- which module functions are filter-jitted --
    @property
    def filter_jitted(self) -> set[str]:
        """Module-level names of ``eqx.filter_jit`` functions (decorated, or ``f = filter_jit(g)``)."""
        if self._filter_jitted is None:
            self._filter_jitted = set()
            for statement in self.context.module.body:
                if isinstance(statement, cst.FunctionDef) and any(
                    self._is_filter_jit(d.decorator) for d in statement.decorators
                ):
                    self._filter_jitted.add(statement.name.value)
            for name, value in self.memo.constants.items():
                if isinstance(value, cst.Call) and value.args and self._is_filter_jit(value.func):
                    self._filter_jitted.add(name)
        return self._filter_jitted

    def _is_filter_jit(self, decorator: cst.BaseExpression) -> bool:
        if self.context.qualified_name(decorator) == _FILTER_JIT:
            return True
        # eqx.filter_jit(donate="all") as a decorator factory
        return isinstance(decorator, cst.Call) and self.context.qualified_name(decorator.func) == _FILTER_JIT

    # -- loops --
    def visit_For(self, node: cst.For) -> None:
        if self.context.traced_reason(node) is not None:
            return
        varying = set(self._number_targets(node.target, node.iter, node))
        self._check_loop(node, varying)

    def visit_While(self, node: cst.While) -> None:
        if self.context.traced_reason(node) is not None:
            return
        self._check_loop(node, set())

    def visit_CompFor(self, node: cst.CompFor) -> None:
        if self.context.traced_reason(node) is not None:
            return
        varying = set(self._number_targets(node.target, node.iter, node))
        if not varying:
            return
        comprehension = self.context.parent(node)
        element = getattr(comprehension, "elt", None)
        if isinstance(element, cst.Call):
            self._check_call(element, varying)

    def _check_loop(self, loop: cst.For | cst.While, varying: set[str]) -> None:
        body = _Body()
        loop.body.visit(body)
        for name, value, augmented in body.assignments:
            if augmented and _is_number_literal(value) and self._starts_as_number(name, loop):
                varying.add(name)
        for _ in range(2):  # names computed from names computed from the loop variable
            for name, value, augmented in body.assignments:
                if not augmented and self._varying_number(value, varying):
                    varying.add(name)
        # A name also rebound to something else in the loop (`r = jnp.asarray(r)`) may be an
        # array where it is used: stay silent on it.
        for name, value, augmented in body.assignments:
            if not augmented and not self._varying_number(value, varying):
                varying.discard(name)
        if not varying:
            return
        for call in body.calls:
            self._check_call(call, varying)

    def _starts_as_number(self, name: str, loop: cst.CSTNode) -> bool:
        """``name`` is also bound to a number literal in the loop's function (or module)."""
        scope = self.memo.local_scope(loop)
        values = scope.values.get(name, []) if scope is not None else self.memo.module_bindings.get(name, [])
        return any(_is_number_literal(v) for v in values)

    def _number_targets(self, target: cst.BaseExpression, iterable: cst.BaseExpression, at: cst.CSTNode) -> list[str]:
        """Loop variables that are Python numbers: over range(), literal number lists,
        enumerate() indices, zip() of those."""
        if isinstance(iterable, cst.Call):
            qualified = self.context.qualified_name(iterable.func)
            args = [a.value for a in iterable.args if a.keyword is None and not a.star]
            if qualified == "builtins.enumerate" and args and isinstance(target, cst.Tuple) and len(target.elements) == 2:
                first, second = (e.value for e in target.elements)
                names = [first.value] if isinstance(first, cst.Name) else []
                return names + self._number_targets(second, args[0], at)
            if qualified == "builtins.zip" and isinstance(target, cst.Tuple) and len(target.elements) == len(args):
                return [n for e, a in zip(target.elements, args) for n in self._number_targets(e.value, a, at)]
        if isinstance(target, cst.Name) and self._is_numbers(iterable, at):
            return [target.value]
        return []

    def _is_numbers(self, iterable: cst.BaseExpression, at: cst.CSTNode) -> bool:
        if _is_number_sequence(iterable):
            return True
        if isinstance(iterable, cst.Call):
            if self.context.qualified_name(iterable.func) == "builtins.range":
                return True
            if isinstance(iterable.func, cst.Attribute) and iterable.func.attr.value == "tolist":
                return True
        if isinstance(iterable, cst.Name):
            scope = self.memo.local_scope(at)
            if scope is not None and iterable.value in scope.bound:
                value = scope.single_values().get(iterable.value)
            else:
                value = self.memo.constants.get(iterable.value)
            return value is not None and value is not iterable and self._is_numbers(value, at)
        if isinstance(iterable, cst.ListComp):
            return self._is_numbers(iterable.for_in.iter, at) and not _has_calls(iterable.elt)
        return False

    def _varying_number(self, expr: cst.BaseExpression, varying: set[str]) -> bool:
        """A Python number that depends on a varying name (and on nothing array-valued)."""
        if isinstance(expr, cst.Name):
            return expr.value in varying
        if isinstance(expr, cst.UnaryOperation):
            return self._varying_number(expr.expression, varying)
        if isinstance(expr, cst.BinaryOperation):
            sides = (expr.left, expr.right)
            return all(_is_number_literal(s) or self._varying_number(s, varying) for s in sides) and any(
                self._varying_number(s, varying) for s in sides
            )
        if isinstance(expr, cst.Call) and self.context.qualified_name(expr.func) in _NUMBER_CALLS:
            return any(_mentions(a.value, varying) for a in expr.args)
        return False

    # -- the calls that make the value static --
    def _check_call(self, call: cst.Call, varying: set[str]) -> None:
        qualified = self.context.qualified_name(call.func) or ""
        short = qualified.rpartition(".")[2]
        from_solver = qualified.startswith(_SOLVER_PACKAGES)
        if from_solver and short == "diffeqsolve":
            bound = bind_arguments(call, _SOLVE_PARAMETERS)
            if bound is None:
                return
            for name in sorted(_SOLVE_DYNAMIC & bound.keys(), key=_SOLVE_PARAMETERS.index):
                self._check_value(bound[name], varying, f"`{short}`'s `{name}`")
        elif from_solver and short in _CONTROLLERS:
            for arg in call.args:
                if not arg.star:
                    label = f"`{short}`'s `{arg.keyword.value}`" if arg.keyword else f"`{short}`"
                    self._check_value(arg, varying, label)
        elif isinstance(call.func, cst.Name) and call.func.value in self.filter_jitted and qualified == call.func.value:
            for arg in call.args:
                if not arg.star:
                    self._check_value(arg, varying, f"`{call.func.value}` (an `eqx.filter_jit` function)")

    def _check_value(self, arg: cst.Arg, varying: set[str], label: str) -> None:
        value = arg.value
        elements = [e.value for e in value.elements] if isinstance(value, cst.Tuple) else [value]
        for element in elements:
            if element in self.reported or not self._varying_number(element, varying):
                continue
            self.reported.add(element)
            alias = namespace_alias(self.context.module, "jax.numpy")
            fix: dict = {}
            if alias is not None:
                asarray = cst.Attribute(value=alias, attr=cst.Name("asarray"))
                # jnp.asarray(0.1) is float32, a Python float is weakly typed: promotion may differ
                fix = {"replacement": cst.Call(func=asarray, args=[cst.Arg(element)]), "unsafe": True}
            self.report(
                element,
                f"`{code_of(element)}` is a Python number that changes every loop iteration, passed to {label}: "
                "under `eqx.filter_jit` non-array leaves are static, so each new value recompiles; pass "
                f"`jnp.asarray({code_of(element)})`",
                **fix,
            )


def _mentions(expr: cst.CSTNode, names: set[str]) -> bool:
    found = False

    class _Find(cst.CSTVisitor):
        def visit_Name(self, node: cst.Name) -> None:
            nonlocal found
            found = found or node.value in names

    expr.visit(_Find())
    return found


def _has_calls(expr: cst.CSTNode) -> bool:
    found = False

    class _Find(cst.CSTVisitor):
        def visit_Call(self, node: cst.Call) -> None:
            nonlocal found
            found = True

    expr.visit(_Find())
    return found
