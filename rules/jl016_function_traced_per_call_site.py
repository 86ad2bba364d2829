"""JL016 function-traced-per-call-site: one user function traced at several call sites (pitfall P5)."""

from __future__ import annotations

from typing import ClassVar

import libcst as cst

from jaxlint.rules._base import Invalid, LintRule, Valid
from jaxlint.rules._patterns import FileMemo, SizeClassifier, name_words
from jaxlint.rules._scopes import Scope, calls_when_run, code_of, defining_scope

# Library roots whose functions are primitives or cheap wrappers, not "user functions".
_LIBRARY_ROOTS = (
    "builtins.", "jax.", "numpy.", "math.", "functools.", "operator.", "itertools.", "typing.",
    "collections.", "equinox.", "jaxtyping.", "scipy.",
)
# Array methods: `x.sum()` in both branches is not a repeated user function.
_ARRAY_METHODS = frozenset(
    {
        "sum", "mean", "max", "min", "prod", "reshape", "astype", "transpose", "squeeze", "ravel", "flatten",
        "at", "set", "get", "add", "multiply", "clip", "dot", "conj", "real", "imag", "item", "tolist",
        "all", "any", "argmax", "argmin", "cumsum", "std", "var", "round", "swapaxes", "T",
    }
)
# Names that read as a vector field / solver step: the functions a stage loop re-traces.
_VECTOR_FIELD_WORDS = frozenset(
    {
        "f", "fn", "fun", "func", "vf", "rhs", "drift", "diffusion", "step", "stepper", "model",
        "dynamics", "term", "solve", "solver", "residual", "jac", "jacobian", "ode",
    }
)


def _reads_as_vector_field(name: str) -> bool:
    """``vector_field``, ``rk4_step``, ``f``, ``term.vf``: the last word names the function's
    role (``_assert_term_compatible`` merely mentions a term)."""
    words = [w.lower() for w in name_words(name)]
    if words[-2:] == ["vector", "field"]:
        return True
    return bool(words) and words[-1] in _VECTOR_FIELD_WORDS


class FunctionTracedPerCallSite(LintRule):
    CODE = "JL016"
    NAME = "function-traced-per-call-site"
    MESSAGE = (
        "the same function is called in several branches of a `lax.cond`/`lax.switch`, or once per "
        "iteration of a Python loop in traced code: it is traced and compiled at every call site"
    )
    WHY = """
        JAX inlines every call it traces: a function called in both branches of `lax.cond` is traced
        twice and its ops appear twice in the program (both branches are always compiled), and a
        vector field called in a Python loop over Runge–Kutta stages appears once per stage. The
        program, and compile time, grow with the number of call sites. diffrax moved its stages
        into a loop primitive (diffrax#94, PR #124), and met the cond case in PR #453, #290 and
        #174; `eqx.internal.noinline` on a repeated expensive call halved diffrax's own gradient
        compile benchmark (15.5 s to 6.3 s). Rewrite: select the arguments with `jnp.where` and
        call once, loop with `lax.fori_loop`/`lax.scan`, or `noinline`. In loops the rule only
        counts calls whose name ends like a vector field or step (`f`, `vf`, `rhs`,
        `vector_field`, `rk4_step`, `term.vf`, `self.step`): a cheap helper is not worth a loop
        primitive.
    """
    PITFALL = "P5"
    REFERENCES = ("diffrax PR #453", "diffrax#290", "diffrax PR #174", "diffrax#94", "diffrax PR #124")
    TRACED_ONLY = False  # lax.cond traces both branches anywhere; the loop half checks tracing itself
    FIX_SAFETY = "none"
    PREFILTER = ("cond", "switch", "for ")
    REQUIRES = ("jax.lax.cond", "jax.lax.switch", "traced:for")

    VALID: ClassVar[list[str | Valid]] = [
        # Different functions per branch; jnp functions are primitives, not user functions.
        """
import jax
import jax.numpy as jnp

def accept(y, dt):
    return y + dt

def reject(y, dt):
    return y

@jax.jit
def step(ok, y, dt):
    return jax.lax.cond(ok, lambda: accept(jnp.sin(y), dt), lambda: reject(jnp.sin(y), dt))
""",
        # Each layer is a different function; relu is not a vector field.
        """
import equinox as eqx
import jax

def relu(x):
    return jax.nn.relu(x)

class MLP(eqx.Module):
    layers: tuple

    @eqx.filter_jit
    def __call__(self, x):
        for layer in self.layers:
            x = relu(layer(x))
        return x
""",
        # The call is hoisted out of the cond: traced once.
        """
import jax
import jax.numpy as jnp

def vector_field(t, y):
    return -y

@jax.jit
def step(t, y, dt, accept):
    k = vector_field(t, y)
    return jax.lax.cond(accept, lambda: y + dt * k, lambda: y)
""",
        # Plain Python stage loop: nothing is traced.
        """
def rk4(f, t, y, h):
    ks = []
    for c in (0.0, 0.5, 0.5, 1.0):
        ks.append(f(t + c * h, y))
    return ks
""",
        # A trace-time check per term (the name mentions a term, it is not a vector field).
        """
import jax

def _assert_term_compatible(term, arg):
    assert term is not None

@jax.jit
def check(terms, args):
    for term, arg in zip(terms, args):
        _assert_term_compatible(term, arg)
    return args

@jax.jit
def partition(leaves, filter_fn):
    kept = []
    for leaf in leaves:
        if filter_fn(leaf):
            kept.append(leaf)
    return kept

class Formatter:
    @jax.jit
    def format(self, fields):
        out = {}
        for name in ("a", "b", "c"):
            out.update(self.format_field(fields, name))
        return out
""",
    ]

    INVALID: ClassVar[list[Invalid]] = [
        Invalid(
            """
import jax
import jax.numpy as jnp

def solver_step(y, dt):
    return y + dt * jnp.sin(y)

@jax.jit
def adaptive(ok, y, dt):
    return jax.lax.cond(ok, lambda: solver_step(y, dt), lambda: solver_step(y, dt / 2))
""",
            expected_message_contains="`solver_step`",
        ),
        Invalid(
            """
import jax
from jax import lax

def expensive(x):
    return x @ x.T

@jax.jit
def f(i, x):
    def first(v):
        return expensive(v) + 1
    def second(v):
        return expensive(v) - 1
    return lax.switch(i, [first, second, lambda v: v], x)
""",
            expected_message_contains="2 branches",
        ),
        Invalid(
            """
import jax

A = ((), (0.5,), (0.0, 0.5), (0.0, 0.0, 1.0))
C = (0.0, 0.5, 0.5, 1.0)

def rk4_step(vector_field, t, y, h):
    ks = []
    for i in range(4):
        yi = y + h * sum(a * k for a, k in zip(A[i], ks))
        ks.append(vector_field(t + C[i] * h, yi))
    return y + h * (ks[0] + 2 * ks[1] + 2 * ks[2] + ks[3]) / 6

solve = jax.jit(rk4_step, static_argnums=0)
""",
            expected_message_contains="once per iteration",
        ),
        Invalid(
            """
import equinox as eqx
import jax

class Solver(eqx.Module):
    stages: int = 3

    def step(self, t, y):
        return -y

    @eqx.filter_jit
    def __call__(self, t, y):
        for _ in range(self.stages):
            y = self.step(t, y)
        return y
""",
            expected_message_contains="`self.step`",
        ),
    ]

    def __init__(self, context) -> None:
        super().__init__(context)
        self.memo = FileMemo(context)

    # -- cond / switch --
    def visit_Call(self, node: cst.Call) -> None:
        qualified = self.context.qualified_name(node.func)
        if qualified == "jax.lax.cond":
            if len(node.args) < 3 or any(a.keyword is not None or a.star for a in node.args[:3]):
                return
            branches = [node.args[1].value, node.args[2].value]
            kind = "lax.cond"
        elif qualified == "jax.lax.switch":
            if len(node.args) < 2 or node.args[1].keyword is not None or node.args[1].star:
                return
            listed = node.args[1].value
            if not isinstance(listed, (cst.List, cst.Tuple)):
                return
            branches = [e.value for e in listed.elements if isinstance(e, cst.Element)]
            kind = "lax.switch"
        else:
            return
        seen_in: dict[str, int] = {}
        for branch in branches:
            for key in sorted(set(self._branch_callees(branch, node))):
                seen_in[key] = seen_in.get(key, 0) + 1
        repeated = sorted(key for key, count in seen_in.items() if count >= 2)
        if not repeated:
            return
        key = repeated[0]
        where = "both branches" if seen_in[key] == 2 and len(branches) == 2 else f"{seen_in[key]} branches"
        self.report(
            node,
            f"`{key}` is called in {where} of `{kind}`: it is traced and compiled once per branch; call it "
            "once outside with `jnp.where`-selected arguments (or wrap it in `eqx.internal.noinline`)",
        )

    def _branch_callees(self, branch: cst.BaseExpression, at: cst.CSTNode) -> list[str]:
        """User functions a branch calls: in a lambda's body, a def's body, or the branch itself."""
        found: list[str] = []
        if isinstance(branch, cst.Lambda):
            body: cst.CSTNode | None = branch.body
        else:
            own = self._user_callee(branch, at, strict=False)
            if own is not None:
                found.append(own)
            definition = self._find_def(branch.value, at) if isinstance(branch, cst.Name) else None
            body = definition.body if definition is not None else None
        if body is not None:
            for call in calls_when_run(body):
                key = self._user_callee(call.func, call, strict=False)
                if key is not None:
                    found.append(key)
        return found

    def _find_def(self, name: str, at: cst.CSTNode) -> cst.FunctionDef | None:
        scope = defining_scope(name, at, self.context, self.memo.scopes)
        body = scope.body if isinstance(scope, (cst.FunctionDef, cst.Module)) else None
        if isinstance(body, cst.IndentedBlock):
            statements = body.body
        elif isinstance(scope, cst.Module):
            statements = scope.body
        else:
            return None
        for statement in statements:
            if isinstance(statement, cst.FunctionDef) and statement.name.value == name:
                return statement
        return None

    # -- stage loops --
    def visit_For(self, node: cst.For) -> None:
        classifier = self.memo.classifier(node)
        if classifier.loop_size(node.iter) is not None:
            return  # a loop over a problem size: JL002 reports the loop itself
        times = self._stage_loop(node.iter, classifier)
        if times is None:
            return
        reason = self.context.traced_reason(node)
        if reason is None:
            return
        loop_bound = set(_loop_bound_names(node))
        reported: set[str] = set()
        for call in calls_when_run(node.body):
            key = self._user_callee(call.func, call, strict=True, excluded=loop_bound)
            if key is None or key in reported:
                continue
            reported.add(key)
            self.report(
                call,
                f"`{key}` is traced once per iteration of this Python loop over stages ({times}) in traced "
                f"code ({reason}): once per iteration in the program; loop with `lax.fori_loop`/`lax.scan` so "
                "it is traced once (or wrap it in `eqx.internal.noinline`)",
            )

    def _stage_loop(self, iterable: cst.BaseExpression, classifier: SizeClassifier) -> str | None:
        """How often a loop over *stages* runs ("4 times", "once per stage"), or None when the
        loop is not one: a few literal items, or a count/collection named after stages or a
        tableau. Loops over other collections (leaves, arguments) are left alone."""
        count = classifier.literal_count(iterable)
        if count is not None:
            return f"{count} times" if count >= 2 else None
        if isinstance(iterable, cst.Call):
            qualified = self.context.qualified_name(iterable.func)
            args = [a.value for a in iterable.args if a.keyword is None and not a.star]
            if qualified == "builtins.range" and args:
                stop = args[0] if len(args) == 1 else args[1]
                if isinstance(stop, cst.Call) and self.context.qualified_name(stop.func) == "builtins.len" and stop.args:
                    stop = stop.args[0].value
                return "once per stage" if _names_stages(stop) else None
            if qualified in ("builtins.enumerate", "builtins.reversed", "builtins.zip"):
                found = [self._stage_loop(a, classifier) for a in args]
                return next((f for f in found if f is not None), None)
            return None
        return "once per stage" if _names_stages(iterable) else None

    # -- what counts as a user function --
    def _user_callee(
        self, func: cst.BaseExpression, at: cst.CSTNode, *, strict: bool, excluded: set[str] = frozenset()
    ) -> str | None:
        """A display key for a call target that is user code (not jax/numpy/builtins, not an
        array method). ``strict`` (loops): only names that read as a vector field or step."""
        if isinstance(func, cst.Attribute):
            chain = code_of(func)
            root = func
            while isinstance(root, cst.Attribute):
                root = root.value
            if isinstance(root, cst.Name) and (root.value == "self" or self._is_parameter(root.value, at)):
                # `self.step(...)`, `solver.step(...)`, `term.vf(...)`: a method of a solver object
                if func.attr.value in _ARRAY_METHODS or root.value in excluded:
                    return None
                if strict and not _reads_as_vector_field(func.attr.value):
                    return None
                return chain
            qualified = self.context.qualified_name(func)
            if qualified is None or qualified.startswith(_LIBRARY_ROOTS) or qualified == chain:
                return None  # a method on a local value, or a library function
            return None if strict and not _reads_as_vector_field(func.attr.value) else chain
        if not isinstance(func, cst.Name) or func.value in excluded:
            return None
        name = func.value
        if strict and not _reads_as_vector_field(name):
            return None
        scope = defining_scope(name, at, self.context, self.memo.scopes)
        if isinstance(scope, cst.Lambda):
            return None
        if isinstance(scope, cst.FunctionDef):
            bindings: Scope = self.memo.scopes(scope)
            values = bindings.values.get(name, [])
            if bindings.is_parameter(name) and len(values) == 1:
                return name
            if bindings.is_def(name):
                return name
            return None if strict else name
        qualified = self.context.qualified_name(func)
        if qualified is None or qualified.startswith(_LIBRARY_ROOTS):
            return None
        if qualified != name:
            return name  # imported from user code (e.g. diffrax.diffeqsolve)
        bound = self.memo.module_bindings.get(name)
        if bound is None:
            return None
        return name if self._is_module_def(name) else None

    def _is_parameter(self, name: str, at: cst.CSTNode) -> bool:
        """``name`` is a (never rebound) parameter of the def it resolves to (not of a lambda:
        a branch lambda's parameter is the operand, whose methods are data methods)."""
        scope = defining_scope(name, at, self.context, self.memo.scopes)
        if not isinstance(scope, cst.FunctionDef):
            return False
        bindings = self.memo.scopes(scope)
        return bindings.is_parameter(name) and len(bindings.values.get(name, [])) == 1

    def _is_module_def(self, name: str) -> bool:
        return any(isinstance(s, cst.FunctionDef) and s.name.value == name for s in self.context.module.body)


_STAGE_WORDS = frozenset({"stage", "stages", "tableau", "substep", "substeps", "nstages"})


def _names_stages(expr: cst.BaseExpression) -> bool:
    """``num_stages``, ``self.stages``, ``self.tableau.c``: a name about RK stages."""
    names: list[str] = []
    while isinstance(expr, (cst.Attribute, cst.Subscript)):
        if isinstance(expr, cst.Attribute):
            names.append(expr.attr.value)
        expr = expr.value
    if isinstance(expr, cst.Name):
        names.append(expr.value)
    return any(word.lower() in _STAGE_WORDS for name in names for word in name_words(name))


def _loop_bound_names(loop: cst.For) -> list[str]:
    """The loop target and every name assigned in the loop body (they change per iteration)."""
    names: list[str] = []

    class _Targets(cst.CSTVisitor):
        def visit_Name(self, node: cst.Name) -> None:
            names.append(node.value)

    loop.target.visit(_Targets())

    class _Assigned(cst.CSTVisitor):
        def visit_AssignTarget(self, node: cst.AssignTarget) -> None:
            node.target.visit(_Targets())

    loop.body.visit(_Assigned())
    return names
