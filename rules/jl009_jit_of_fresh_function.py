"""JL009 jit-of-fresh-function: ``jax.jit`` of a new lambda/closure/partial each loop or call (pitfall P9)."""

from __future__ import annotations

import re
from typing import ClassVar

import libcst as cst

from jaxlint.rules._base import Invalid, LintRule, Valid
from jaxlint.rules._patterns import FileMemo
from jaxlint.rules._scopes import RunsNowVisitor, code_of, defining_scope

JITS = frozenset({"jax.jit", "jax.pmap", "equinox.filter_jit", "equinox.filter_pmap", "jax.experimental.pjit.pjit"})
_PARTIALS = frozenset({"functools.partial", "equinox.Partial"})
# Wrappers whose cache tells bound methods apart by identity: `obj.method` is a new object
# every time it is read, so each read misses. `jax.pmap` and `eqx.filter_jit` compare bound
# methods by equality and find them again (measured: 3 traces vs 1 in three calls).
_IDENTITY_JITS = frozenset({"jax.jit", "jax.experimental.pjit.pjit"})
# jax transforms return a new closure every time they are called (measured: three calls of
# `eqx.filter_jit(jax.vmap(obj.f))` trace 3 times). equinox's `filter_vmap` & co. return a
# Module that compares equal when its fields do: `eqx.filter_jit(eqx.filter_vmap(obj.f))`
# traces once, so they are not listed.
_TRANSFORMS = frozenset(
    {"jax.vmap", "jax.grad", "jax.value_and_grad", "jax.jacfwd", "jax.jacrev", "jax.hessian", "jax.checkpoint",
     "jax.remat", "jax.named_call"}
)
# Functions that run once per program: once per call is once.
_RUNS_ONCE = re.compile(r"test|main$|_main$|setUp|tearDown")
_SCOPE_BOUNDARIES = (cst.FunctionDef, cst.Lambda, cst.ClassDef)



_ROOT_LOCATION = re.compile(r"at `?([^\s`()]+?):\d+`?\)?\s*$")


def traced_only_from_tests(reason: str) -> bool:
    """True when the chain that makes code traced starts in a test file (``jitted at
    tests/test_model.py:12``): the library's users still call it eagerly, so an eager-cost
    finding stands. (Rules about traced cost keep counting it: tests exercise real traces.)"""
    match = _ROOT_LOCATION.search(reason)
    if match is None:
        return False
    parts = match.group(1).replace("\\", "/").split("/")
    name = parts[-1]
    return ("tests" in parts[:-1] or "test" in parts[:-1] or name.startswith("test_")
            or name.endswith("_test.py") or name == "conftest.py")

class _Uses(cst.CSTVisitor):
    """How a function body uses a name: called (in a loop or not), returned, or stored."""

    def __init__(self, name: str) -> None:
        super().__init__()
        self.name = name
        self.loop_depth = 0
        self.called_straight = False
        self.called_in_loop = False
        self.escapes = False  # returned, stored, appended, passed on: reused beyond this call

    def _is_name(self, node: cst.CSTNode) -> bool:
        return isinstance(node, cst.Name) and node.value == self.name

    def visit_For(self, node: cst.For) -> None:
        self.loop_depth += 1

    def leave_For(self, node: cst.For) -> None:
        self.loop_depth -= 1

    def visit_While(self, node: cst.While) -> None:
        self.loop_depth += 1

    def leave_While(self, node: cst.While) -> None:
        self.loop_depth -= 1

    def visit_Call(self, node: cst.Call) -> None:
        if self._is_name(node.func):
            if self.loop_depth:
                self.called_in_loop = True
            else:
                self.called_straight = True
        if any(self._is_name(a.value) for a in node.args):
            self.escapes = True  # handed to another function (a cache, a list, a scan...)

    def visit_Return(self, node: cst.Return) -> None:
        value = node.value
        if value is not None and (
            self._is_name(value)
            or (isinstance(value, (cst.Tuple, cst.List)) and any(self._is_name(e.value) for e in value.elements))
        ):
            self.escapes = True

    def visit_Assign(self, node: cst.Assign) -> None:
        if self._is_name(node.value) or (
            isinstance(node.value, (cst.Tuple, cst.List, cst.Dict)) and _mentions(node.value, self.name)
        ):
            self.escapes = True

    def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
        return False

    def visit_Lambda(self, node: cst.Lambda) -> bool:
        return False


def _mentions(node: cst.CSTNode, name: str) -> bool:
    found = False

    class _Find(cst.CSTVisitor):
        def visit_Name(self, inner: cst.Name) -> None:
            nonlocal found
            found = found or inner.value == name

    node.visit(_Find())
    return found


class JitOfFreshFunction(LintRule):
    CODE = "JL009"
    NAME = "jit-of-fresh-function"
    MESSAGE = (
        "`jax.jit` of a fresh lambda/closure/partial/bound method inside a loop or per call: the cache is "
        "keyed on the function object, so it traces and compiles every time; jit once at module level"
    )
    WHY = """
        `jax.jit`, `jax.pmap` and `eqx.filter_jit` cache compiled programs by the function they
        wrap. A lambda, a nested `def` or a `functools.partial` made anew each time the code runs
        is a new key, so `jax.jit(lambda x: ...)(x)` in a loop, or in a function called
        repeatedly, traces, lowers and compiles anew every iteration or call: compile count grows
        with the number of calls instead of staying at one. Measured (jax 0.10.2), three calls:
        a lambda or partial traces 3 times under `jax.jit`, `jax.pmap` and `eqx.filter_jit`
        alike; a bound method `obj.method` traces 3 times under `jax.jit` but once under
        `jax.pmap` and `eqx.filter_jit` (they compare bound methods by equality); a module-level
        function traces once.

        When it fires (the same-object rule): in a loop, when the function object is created
        inside the loop body (an inline lambda/partial, a `def` or `name = lambda` in the body,
        or `jax.jit(self.method)` / `jax.jit(obj.method)` with `obj` an instance of a class
        defined in the file, or a transform's result `jax.jit(jax.vmap(f))`); per call, when a
        function jits such an object and calls the result there once per call (`step`,
        `update`, `__call__`: the user's loop calls the function, every call compiles; not when
        it returns or stores it: a factory). Not reported: module-level functions and imported
        `module.func` (the same object every time); drivers, whose one compile per call is
        amortised over a loop they run themselves: the jitted function is called in a loop of
        the function (a function defined once before the loop and jitted in it, or the jitted
        result called in the loop), or the function runs a Python loop over a problem size
        (`for it in range(num_evals)`, epochs, simulations) on the same path as the jit (not in
        the other branch of an `if`); attributes whose type is unknown (`opt.init` may be a
        plain function field); functions that run once per program (`test_*` tests, `main`,
        `setUp`, methods of a `TestCase` subclass), module level, and traced code (a nested
        jit is inlined). Jit once, at module
        level or in `__init__`, and pass the changing data as arguments. A function of the
        same module that returns a jit of its first parameter (`maybe_jit(fn, **kw)`) counts
        as a jit.
    """
    PITFALL = "P9"
    REFERENCES = ("jax#9288", "jax#9672", "jax#1832", "equinox#686")
    TRACED_ONLY = False  # the waste is in plain Python; a jit inside traced code is inlined
    FIX_SAFETY = "none"
    PREFILTER = ("jit", "pmap")
    REQUIRES = ("jax.jit", "jax.pmap", "equinox.filter_jit", "equinox.filter_pmap", "jax.experimental.pjit")

    VALID: ClassVar[list[str | Valid]] = [
        # A module-level function: the cache finds it again.
        """
import jax

def step(x):
    return x * 2

def run(xs):
    for x in xs:
        jax.jit(step)(x)
""",
        # A factory returns the jitted closure; a driver jits once and reuses it in its loop.
        """
import jax

def make_step(scale):
    @jax.jit
    def step(x):
        return x * scale
    return step

def main(xs, scale):
    step = jax.jit(lambda x: x * scale)
    for x in xs:
        x = step(x)
    return x
""",
        # Module level: runs once.
        """
import equinox as eqx
import functools

def f(x, a):
    return x + a

g = eqx.filter_jit(functools.partial(f, a=1.0))
h = eqx.filter_jit(lambda x: x - 1)
""",
        # The same object every iteration: an imported module's function, a closure made once
        # before the loop (in a test, which runs once), bound methods under pmap / filter_jit
        # (compared by equality), and an attribute of unknown type (`opt.init` may be a plain
        # function field of a NamedTuple).
        """
import equinox as eqx
import jax
import optax
from brax.generalized import pipeline
from somewhere import Base

class Runner:
    def step(self, x):
        return x

    def run(self, xs):
        for x in xs:
            jax.pmap(self.step)(x)
            eqx.filter_jit(self.step)(x)
            eqx.filter_jit(eqx.filter_vmap(self.step))(x)

class Holder(Base):
    def __init__(self, fn):
        self.fn = fn

    def apply(self, x):
        return jax.jit(self.fn)(x)

def test_pipeline(xs, params):
    def step(x):
        return x + 1
    opt = optax.adam(1e-3)
    state = jax.jit(opt.init)(params)
    for x in xs:
        jax.jit(pipeline.step)(x)
        jax.jit(step)(x)
    return jax.jit(lambda p: p * 2)(params), state
""",
        # Drivers: the jitted function is called in the function's own loop, or the function
        # runs a loop over a problem size (a training run, a diagnostic over simulations); a
        # TestCase method is test code (run once), wherever its module lives.
        """
import jax
from absl.testing import parameterized

def run(xs):
    def step(x):
        return x * 2
    for x in xs:
        xs = jax.jit(step)(x)
    return xs

def train(env, key, num_evals, num_simulations):
    reset_fn = jax.jit(jax.vmap(env.reset))
    state = reset_fn(key)
    for it in range(num_evals):
        state = env.train_epoch(state)
    return state

class EquivalenceTest(parameterized.TestCase):
    def _test_jittable(self, dist, event):
        @jax.jit
        def jitted_function(event, dist):
            return dist.log_prob(event)
        return jitted_function(event, dist)
""",
        # Inside traced code a nested jit is inlined into the outer trace.
        """
import jax

@jax.jit
def outer(x):
    return jax.jit(lambda y: y + 1)(x)
""",
    ]

    INVALID: ClassVar[list[Invalid]] = [
        Invalid(
            """
import jax

def run(xs, scale):
    out = []
    for x in xs:
        out.append(jax.jit(lambda v: v * scale)(x))
    return out
""",
            expected_message_contains="in a loop",
        ),
        Invalid(
            """
import equinox as eqx

def solve(model, y0, args):
    def loss(y):
        return model(y, args)

    return eqx.filter_jit(loss)(y0)
""",
            expected_message_contains="`solve`",
        ),
        Invalid(
            """
import jax
from functools import partial

def f(x, a):
    return x + a

def apply(x, a):
    g = jax.jit(partial(f, a=a))
    return g(x)
""",
            expected_message_contains="`functools.partial`",
        ),
        Invalid(
            """
import jax

class Model:
    def forward(self, x):
        return x

    def predict(self, x):
        return jax.jit(self.forward)(x)
""",
            expected_message_contains="bound method",
        ),
        Invalid(
            """
import jax

class Model:
    def forward(self, x):
        return x

def evaluate(xs):
    model = Model()
    for x in xs:
        jax.jit(model.forward)(x)
""",
            expected_message_contains="in a loop",
        ),
        Invalid(
            """
import jax

def update(params, grads, lr):
    def step(p, g):
        return p - lr * g
    return jax.jit(step)(params, grads)
""",
            expected_message_contains="inside `update`, called there",
        ),
        # A loop of the function that runs in another branch does not amortise this compile.
        Invalid(
            """
import jax

def collect(body, init, num_steps, progbar):
    if not progbar:
        def loop_fn(x):
            return jax.lax.fori_loop(0, num_steps, body, x)
        last = jax.jit(loop_fn)(init)
    else:
        last = init
        for i in range(num_steps):
            last = body(i, last)
    return last
""",
            expected_message_contains="inside `collect`, called there",
        ),
        # An inherited method (not stored as data by the class) jitted per call of `step`.
        Invalid(
            """
from jax import jit
from numpyro.infer import svi

class SVI(svi.SVI):
    def step(self, *args):
        self.svi_state, loss = jit(self.update)(self.svi_state, *args)
        return loss
""",
            expected_message_contains="the bound method `self.update`",
        ),
        # A transform makes a new function each call; a module's own jit wrapper is a jit.
        Invalid(
            """
import jax

class ParallelTempering:
    def _exchange(self, x):
        return x

    def __call__(self, xs):
        return jax.jit(jax.vmap(self._exchange))(xs)
""",
            expected_message_contains="a new `jax.vmap(...)` function",
        ),
        Invalid(
            """
from jax import jit

def maybe_jit(fn, *args, **kwargs):
    return jit(fn, *args, **kwargs)

def fori_collect(n, body_fun, init_val, progbar):
    if not progbar:
        def loop_fn(collection):
            return body_fun(collection)
        last = maybe_jit(loop_fn, donate_argnums=0)(init_val)
    else:
        def loop_fn(collection):
            return body_fun(collection) + 1
        last = maybe_jit(loop_fn)(init_val)
    return last
""",
            expected_message_contains="`maybe_jit` of the nested function `loop_fn`",
        ),
        Invalid(
            """
import jax

def sweep(xs, scales):
    for scale in scales:
        @jax.jit
        def step(x):
            return x * scale
        xs = step(xs)
    return xs
""",
            expected_message_contains="`step`",
        ),
    ]

    def __init__(self, context) -> None:
        super().__init__(context)
        self.memo = FileMemo(context)
        self._wrappers: dict[str, str] | None = None

    def visit_Call(self, node: cst.Call) -> None:
        jit = self._jit_of(node.func)
        if jit is None:
            return
        wrapped = _function_argument(node)
        if wrapped is None:
            return
        found = self._fresh(wrapped, node, jit)
        if found is None:
            return
        fresh, created = found
        self._check(node, fresh, self._result_name(node), created=created)

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        for decorator in node.decorators:
            if self._is_jit_decorator(decorator.decorator):
                self._check(
                    decorator, f"the nested function `{node.name.value}`", node.name.value, definition=node, created=node
                )
                return

    def _jit_of(self, func: cst.BaseExpression) -> str | None:
        """The jit ``func`` stands for: a jit itself, or a function of this module that returns
        a jit of its first parameter (``def maybe_jit(fn, **kw): return jax.jit(fn, **kw)``)."""
        qualified = self.context.qualified_name(func)
        if qualified in JITS:
            return qualified
        if isinstance(func, cst.Name):
            if self._wrappers is None:
                self._wrappers = _jit_wrappers(self.context.module, self.context)
            return self._wrappers.get(func.value)
        return None

    def _check(
        self,
        node: cst.CSTNode,
        fresh: str,
        result: str | None,
        definition: cst.FunctionDef | None = None,
        created: cst.CSTNode | None = None,
    ) -> None:
        """Report when a new object is jitted every loop iteration, or per call of a function
        that calls the result once."""
        where = definition if definition is not None else node
        reason = self.context.traced_reason(where)
        if reason is not None and not traced_only_from_tests(reason):
            return
        loop, function = self._placement(where)
        if function is None and loop is None:
            return  # module level: runs once
        jit_name = "a jit decorator" if definition is not None else f"`{code_of(node.func)}`"  # type: ignore[attr-defined]
        if loop is not None and self._inside(created if created is not None else node, loop):
            self.report(
                node,
                f"{jit_name} of {fresh} in a loop: a new function object every iteration, so every iteration "
                "traces and compiles again; jit once outside the loop and pass the changing values as arguments",
            )
            return
        # Made once per call of `function` (also when jitted in a loop but created before it).
        if function is None or _RUNS_ONCE.match(function.name.value) or self._in_test_case(function):
            return  # a test, `main`: runs once per program, so once per call is once
        if loop is not None or self._drives_a_loop(function, where):
            return  # a driver: one compile per call, amortised over the loop it runs
        if definition is None and isinstance(self.context.parent(node), cst.Call) and self.context.parent(node).func is node:
            called = True  # jax.jit(f)(x)
        elif result is not None:
            uses = _Uses(result)
            function.body.visit(uses)
            # called in a loop of this function: a driver (compile amortised over the loop)
            called = uses.called_straight and not uses.called_in_loop and not uses.escapes
        else:
            called = False
        if called:
            self.report(
                node,
                f"{jit_name} of {fresh} inside `{function.name.value}`, called there: every call of "
                f"`{function.name.value}` makes a new function, so it traces and compiles again; jit once at "
                "module level (or in `__init__`) and pass the data as arguments",
            )

    def _in_test_case(self, function: cst.FunctionDef) -> bool:
        """A method of a ``unittest``/``absltest``/``parameterized`` ``TestCase`` subclass:
        test code, run once per test (also in a helper module outside the tests folder)."""
        owner = self.context.parent(function)
        while owner is not None and not isinstance(owner, (cst.ClassDef, cst.FunctionDef, cst.Module)):
            owner = self.context.parent(owner)
        return isinstance(owner, cst.ClassDef) and any(
            (last := code_of(base.value).rsplit(".", 1)[-1]).endswith("TestCase") or last == "TestCase"
            for base in owner.bases
        )

    def _drives_a_loop(self, function: cst.FunctionDef, at: cst.CSTNode) -> bool:
        """``function`` runs a Python loop over a problem size (``for it in range(num_evals)``,
        epochs, simulations) on the same path as ``at`` (not in the other branch of an ``if``):
        a driver that runs as long as its loop, so one compile per call is amortised over it."""
        classifier = self.memo.classifier(at)
        for loop in _own_loops(function):
            if classifier.loop_size(loop.iter) is not None and not self._exclusive(loop, at):
                return True
        return False

    def _exclusive(self, first: cst.CSTNode, second: cst.CSTNode) -> bool:
        """``first`` and ``second`` lie in different branches of one ``if`` statement."""
        previous = first
        for ancestor in self.context.ancestors(first):
            if isinstance(ancestor, (cst.FunctionDef, cst.Lambda)):
                return False
            if isinstance(ancestor, cst.If) and previous is not ancestor.test:
                other = ancestor.orelse if previous is ancestor.body else ancestor.body
                if other is not None and self._inside_node(second, other):
                    return True
            previous = ancestor
        return False

    def _inside_node(self, node: cst.CSTNode, container: cst.CSTNode) -> bool:
        return any(a is container for a in self.context.ancestors(node))

    def _inside(self, node: cst.CSTNode, loop: cst.CSTNode) -> bool:
        """``node`` lies in ``loop``'s body (so it runs once per iteration)."""
        if node is loop:
            return False
        previous = node
        for ancestor in self.context.ancestors(node):
            if ancestor is loop:
                return previous is loop.body  # type: ignore[attr-defined]
            previous = ancestor
        return False

    def _placement(self, node: cst.CSTNode) -> tuple[cst.CSTNode | None, cst.FunctionDef | None]:
        """(innermost loop whose body holds ``node`` within its function, enclosing function)."""
        loop: cst.CSTNode | None = None
        previous = node
        for ancestor in self.context.ancestors(node):
            if isinstance(ancestor, (cst.For, cst.While)) and previous is ancestor.body and loop is None:
                loop = ancestor
            if isinstance(ancestor, cst.FunctionDef):
                return loop, ancestor
            if isinstance(ancestor, (cst.Lambda, cst.ClassDef)):
                return loop, None
            previous = ancestor
        return loop, None

    def _result_name(self, call: cst.Call) -> str | None:
        parent = self.context.parent(call)
        if isinstance(parent, cst.Assign) and len(parent.targets) == 1 and isinstance(parent.targets[0].target, cst.Name):
            return parent.targets[0].target.value
        return None

    def _fresh(self, wrapped: cst.BaseExpression, at: cst.CSTNode, jit: str) -> tuple[str, cst.CSTNode] | None:
        """(what new object ``wrapped`` is each time this code runs, where it is made), or None
        if it is the same object every time (as far as syntax can tell)."""
        if isinstance(wrapped, cst.Lambda):
            return "a lambda", at
        if isinstance(wrapped, cst.Call):
            made_by = self.context.qualified_name(wrapped.func)
            if made_by in _PARTIALS:
                return "a `functools.partial`", at
            if made_by in _TRANSFORMS:
                return f"a new `{code_of(wrapped.func)}(...)` function", at
        if isinstance(wrapped, cst.Name):
            scope = defining_scope(wrapped.value, at, self.context, self.memo.scopes)
            if not isinstance(scope, cst.FunctionDef):
                return None
            bindings = self.memo.scopes(scope)
            made = self._nearest(_bindings(scope, wrapped.value), at)
            if made is None:
                return None
            if bindings.is_def(wrapped.value):
                return f"the nested function `{wrapped.value}`", made
            value = bindings.single_values().get(wrapped.value)
            if isinstance(value, cst.Lambda):
                return f"the lambda `{wrapped.value}`", made
            if isinstance(value, cst.Call) and self.context.qualified_name(value.func) in _PARTIALS:
                return f"the `functools.partial` `{wrapped.value}`", made
            return None
        if isinstance(wrapped, cst.Attribute) and jit in _IDENTITY_JITS and self._is_bound_method(wrapped, at):
            return f"the bound method `{code_of(wrapped)}`", at
        return None

    def _nearest(self, bindings: list[cst.CSTNode], at: cst.CSTNode) -> cst.CSTNode | None:
        """The binding that shares the deepest enclosing block with ``at`` (`if a: def f` /
        `else: def f` each used in its own branch)."""
        if len(bindings) <= 1:
            return bindings[0] if bindings else None
        mine = [id(a) for a in self.context.ancestors(at)]

        def shared(binding: cst.CSTNode) -> int:
            theirs = {id(a) for a in self.context.ancestors(binding)}
            return next((len(mine) - i for i, a in enumerate(mine) if a in theirs), 0)

        return max(bindings, key=shared)

    def _is_bound_method(self, method: cst.Attribute, at: cst.CSTNode) -> bool:
        """``self.m`` in a class defining method ``m``, or ``obj.m`` with ``obj = Cls(...)`` and
        ``Cls`` a class of this file defining ``m``. Other attributes may hold plain functions
        (``opt.init`` of an optax transformation is one): unknown, so not reported."""
        root = method.value
        if not isinstance(root, cst.Name):
            return False
        if root.value == "self":
            owner = next((a for a in self.context.ancestors(at) if isinstance(a, cst.ClassDef)), None)
            if owner is None:
                return False
            # defined here, or inherited: not a field of this class (`self.fn = fn`, `fn: Callable`)
            return _defines_method(owner, method.attr.value) or (
                bool(owner.bases) and not _is_module(owner) and not _holds_attribute(owner, method.attr.value)
            )
        scope = defining_scope(root.value, at, self.context, self.memo.scopes)
        if not isinstance(scope, cst.FunctionDef):
            return False
        value = self.memo.scopes(scope).single_values().get(root.value)
        if not (isinstance(value, cst.Call) and isinstance(value.func, cst.Name)):
            return False
        owner = next(
            (s for s in self.context.module.body if isinstance(s, cst.ClassDef) and s.name.value == value.func.value),
            None,
        )
        return owner is not None and _defines_method(owner, method.attr.value)

    def _is_jit_decorator(self, decorator: cst.BaseExpression) -> bool:
        if self.context.qualified_name(decorator) in JITS:
            return True
        if isinstance(decorator, cst.Call):
            inner = self.context.qualified_name(decorator.func)
            if inner in JITS:
                return True  # eqx.filter_jit(donate=...) / jax.jit(static_argnums=...) factories
            if inner in _PARTIALS and decorator.args:
                return self.context.qualified_name(decorator.args[0].value) in JITS
        return False


def _own_loops(function: cst.FunctionDef) -> list[cst.For]:
    """The ``for`` loops of ``function``'s own body (not of nested functions or classes)."""
    found: list[cst.For] = []

    class _Loops(RunsNowVisitor):
        def visit_For(self, node: cst.For) -> None:
            found.append(node)

    function.body.visit(_Loops())
    return found


def _function_argument(call: cst.Call) -> cst.BaseExpression | None:
    for arg in call.args:
        if arg.keyword is not None and arg.keyword.value in ("fun", "f"):
            return arg.value
    if call.args and call.args[0].keyword is None and not call.args[0].star:
        return call.args[0].value
    return None


def _bindings(function: cst.FunctionDef, name: str) -> list[cst.CSTNode]:
    """The statements that bind ``name`` in ``function`` (``def`` or assignment), not looking
    into nested functions."""
    found: list[cst.CSTNode] = []

    class _Find(cst.CSTVisitor):
        def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
            if node.name.value == name:
                found.append(node)
            return False

        def visit_Lambda(self, node: cst.Lambda) -> bool:
            return False

        def visit_Assign(self, node: cst.Assign) -> None:
            if any(isinstance(t.target, cst.Name) and t.target.value == name for t in node.targets):
                found.append(node)

    function.body.visit(_Find())
    return found


def _is_module(cls: cst.ClassDef) -> bool:
    """An `eqx.Module` (or flax/haiku Module): bound methods are pytrees with their own hashing."""
    return any(code_of(base.value).endswith("Module") for base in cls.bases)


def _holds_attribute(cls: cst.ClassDef, name: str) -> bool:
    """``cls`` stores ``name`` as data: a class-level field or ``self.name = ...`` in a method."""
    for node in cls.body.body if isinstance(cls.body, cst.IndentedBlock) else ():
        if isinstance(node, cst.SimpleStatementLine):
            for small in node.body:
                targets = [t.target for t in small.targets] if isinstance(small, cst.Assign) else (
                    [small.target] if isinstance(small, cst.AnnAssign) else []
                )
                if any(isinstance(t, cst.Name) and t.value == name for t in targets):
                    return True
    found = False

    class _SelfStores(cst.CSTVisitor):
        def visit_AssignTarget(self, node: cst.AssignTarget) -> None:
            nonlocal found
            target = node.target
            if (
                isinstance(target, cst.Attribute)
                and isinstance(target.value, cst.Name)
                and target.value.value == "self"
                and target.attr.value == name
            ):
                found = True

    cls.body.visit(_SelfStores())
    return found


def _defines_method(cls: cst.ClassDef, name: str) -> bool:
    """``cls`` defines an instance (or class) method ``name`` in its body (not a staticmethod)
    and is not an `eqx.Module` (whose bound methods are pytrees with their own hashing)."""
    if _is_module(cls):
        return False
    body = cls.body.body if isinstance(cls.body, cst.IndentedBlock) else ()
    for statement in body:
        if isinstance(statement, cst.FunctionDef) and statement.name.value == name:
            return not any(code_of(d.decorator) == "staticmethod" for d in statement.decorators)
    return False


def _jit_wrappers(module: cst.Module, context) -> dict[str, str]:
    """Module functions that return a jit of their first parameter: name -> the jit."""
    found: dict[str, str] = {}
    for statement in module.body:
        if not isinstance(statement, cst.FunctionDef) or not statement.params.params:
            continue
        first = statement.params.params[0].name.value

        class _Returns(cst.CSTVisitor):
            def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
                return False

            def visit_Return(self, node: cst.Return) -> None:
                value = node.value
                if isinstance(value, cst.Call) and value.args:
                    jit = context.qualified_name(value.func)
                    head = value.args[0].value
                    if jit in JITS and isinstance(head, cst.Name) and head.value == first:
                        found[statement.name.value] = jit

        statement.body.visit(_Returns())
    return found
