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
        # in a loop over stages, a function named for the stage is the per-stage work
        "stage",
    }
)


# Straight-line repeats: callees whose name says they are a vector field, a step or a loop body
# (`self.step`, `term.vf`, `body_fn`); a callable *parameter* may also be a plain `f`/`fn`/`func`
# (`energy_fn`): its cost is the user's and unknown. Not `model`, `solve`: two forward passes of a
# model in a loss are usually the point of the code; not the module's own helpers.
_STRONG_WORDS = frozenset({"vf", "rhs", "drift", "diffusion", "step", "stepper", "dynamics", "body", "residual"})
_CALLABLE_WORDS = _STRONG_WORDS | {"f", "fn", "fun", "func"}
# Loop primitives whose body argument is a function traced once more by the primitive.
_LOOP_PRIMITIVES = {"jax.lax.while_loop": 1, "jax.lax.fori_loop": 2, "jax.lax.scan": 0, "equinox.internal.while_loop": 1}


def _reads_as_repeated_body(name: str, parameter: bool) -> bool:
    """``self.step``, ``term.vf``, ``body_fn``, ``vector_field``; for a callable parameter also
    ``f``, ``func``, ``energy_fn``."""
    words = [w.lower() for w in name_words(name)]
    if not words:
        return False
    if words[-2:] == ["vector", "field"] or words[-1] in _STRONG_WORDS or "body" in words[-2:]:
        return True
    return parameter and words[-1] in _CALLABLE_WORDS


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
        "the same function is called in several branches of a `lax.cond`/`lax.switch`, once per "
        "iteration of a Python loop, or at several sites of straight-line traced code: it is traced "
        "and compiled at every call site"
    )
    WHY = """
        JAX inlines every call it traces: a function called in both branches of `lax.cond` is traced
        twice and its ops appear twice in the program (both branches are always compiled), a
        vector field called in a Python loop over Runge–Kutta stages appears once per stage, and
        one called twice in a row appears twice. The program, and compile time, grow with the
        number of call sites. diffrax moved its stages into a loop primitive (diffrax#94, PR #124),
        met the cond case in PR #453, #290 and #174, evaluated the initial-step vector field once
        in a scan instead of at two call sites (commit 3829d4d), and stopped running its Newton
        body twice before the `while_loop` (PR #123: 20 s to 12 s compile);
        `eqx.internal.noinline` on a repeated expensive call halved diffrax's own gradient compile
        benchmark (15.5 s to 6.3 s).

        When it fires, in traced code:
        - the same user function in several branches of `lax.cond` / `lax.switch`, when it
          looks expensive: named as a vector field / step / solver / model, or a def of the
          file whose body loops, solves, runs control flow or contracts at least twice (`@`,
          einsum: one matmul duplicated is one op, e.g. `m @ m` in a switch over powers);
        - a vector field or step called in a Python loop over stages: a literal tuple or a
          name bound to one (`for a, c in zip(A, C)` with module-level tableau rows), a count
          or collection named after stages or a tableau (`range(num_stages)`, `tableau.c`);
        - straight-line code: one function body calls the same vector field / step / loop body
          (`f`, `func`, `fn`, `vf`, `rhs`, `step`, `body_fn`, `vector_field`, `term.vf`,
          `self.step`: a callable parameter, a nested def, or a method of `self` or of a
          local object; not the module's own helpers) at two or more sites that both run (not
          in exclusive `if`/`else` or `try`/`except` branches, not after an `if` that returned,
          not guarded by the same condition with opposite outcomes — `if n > 0: f(a)` and a
          later `f(b)` that runs only when `n > 0` was false, over names bound once — not in
          loops);
        - "peeled" iterations: a local function passed to `lax.while_loop` / `fori_loop` /
          `scan` and also called directly (each direct call is one more copy);
        - a vector field / step called only for the structure of its result (its names are
          read only through `.shape`, `.dtype`, `jnp.shape`, `*_like` or a `tree_map` of
          those): `jax.eval_shape` / `eqx.filter_eval_shape` give it without emitting ops.
        Straight-line repeats are looked for in files whose traced code has some control flow
        (`if`, a loop, a lambda, a comprehension) or a loop primitive: that keeps the rule from
        parsing every JAX file (asking for any file made cold checks 1.4x slower).
        Not reported: cheap helpers (`state.replace`, `dataclasses.replace`, `tree_where` in
        both branches; in loops and straight-line code only vector-field / step names count),
        `model(x)` twice (two forward passes are usually the point), library functions.
        Rewrite: select the arguments with `jnp.where` and call once, evaluate the points
        together (`jax.vmap` over stacked inputs, a `lax.scan`), loop with
        `lax.fori_loop`/`lax.scan`, or wrap the call in `eqx.internal.noinline`.
    """
    PITFALL = "P5"
    REFERENCES = ("diffrax PR #453", "diffrax#290", "diffrax PR #174", "diffrax#94", "diffrax PR #124")
    TRACED_ONLY = False  # lax.cond traces both branches anywhere; the loop half checks tracing itself
    FIX_SAFETY = "none"
    PREFILTER = ("cond", "switch", "for ", "jax")
    # Straight-line repeats and peeled bodies: traced code with control flow (a solver step
    # without any `if`/loop/lambda is rare) or a loop primitive. Asking for any file that uses
    # JAX made cold checks 1.4x slower (every JAX file parsed for this rule alone).
    REQUIRES = (
        "jax.lax.cond", "jax.lax.switch", "jax.lax.while_loop", "jax.lax.fori_loop", "jax.lax.scan",
        "traced:for", "traced:while", "traced:if", "traced:lambda", "traced:comprehension",
    )

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
        # Pytree plumbing in both branches: a few ops, not worth a rewrite.
        """
import dataclasses
import jax
import jax.numpy as jnp

def tree_where(pred, a, b):
    return jax.tree_util.tree_map(lambda x, y: jnp.where(pred, x, y), a, b)

@jax.jit
def golden(is_min, state, middle, outer):
    return jax.lax.cond(
        is_min,
        lambda s: dataclasses.replace(state.replace(middle=middle), best=tree_where(is_min, s, middle)),
        lambda s: dataclasses.replace(state.replace(middle=outer), best=tree_where(is_min, s, outer)),
        state,
    )
""",
        # One contraction in both branches is one op twice: not worth a rewrite.
        """
import jax
import jax.numpy as jnp

def square(m):
    return jnp.matmul(m, m)

def fourth(m):
    p = square(m)
    return p @ p

@jax.jit
def power(m, k):
    return jax.lax.switch(k, [lambda x: x, square, fourth], m)
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
        # Straight-line code: exclusive branches trace one call; a model's two forward passes and
        # a cheap helper called twice are not reported; untraced code is not either.
        """
import jax
import jax.numpy as jnp

def norm(x):
    return jnp.sqrt(jnp.sum(x**2))

@jax.jit
def initial(func, model, t0, y0, x_real, x_fake, implicit):
    if implicit:
        f0 = func(t0, y0)
    else:
        f0 = -func(t0, y0)
    d = model(x_real) - model(x_fake)
    return f0, d, norm(y0) / norm(f0)

def host(vector_field, t0, t1, y0):
    return vector_field(t0, y0), vector_field(t1, y0)

@jax.jit
def first_step(solver, terms, t0, t1, y0):
    y1, info = solver.step(terms, t0, t1, y0)
    buffer = jnp.zeros_like(info)
    return y1 + jnp.shape(info)[0], buffer

def momentum_step(state, dt):
    return state + dt

class Sampler:
    @jax.jit
    def verlet(self, state, dt, energy_fn, position, capacity):
        state = momentum_step(state, dt / 2)
        state = momentum_step(state, dt / 2)
        params = self.constrain_fn(state), self.constrain_fn(position)
        try:
            energy = energy_fn(position, box=state)
        except ValueError:
            energy = energy_fn(position)
        return energy, params

    @jax.jit
    def update(self, position, capacity, cell_list_fn):
        if isinstance(capacity, int):
            return cell_list_fn(position, capacity)
        return cell_list_fn(position, 0)

@jax.jit
def apply_chunked(x, n_chunks):
    def body(i, out):
        return out + x[i]
    if n_chunks == 1:
        return body(0, x[0])
    return jax.lax.fori_loop(0, n_chunks, body, x[0])

@jax.jit
def memoized(fn, x, refs):
    if x is None:
        key = 0
    elif isinstance(x, int):
        key = x
    else:
        return fn(x)
    if key not in refs:
        refs[key] = fn(x)
    return refs[key]
""",
        # Exclusive by condition: the last call runs only when `n_rest > 0` was false (the
        # `elif n_rest > 0` before it returned), the first only when it was true.
        """
import jax

@jax.jit
def eval_in_chunks(vmapped_fun, x_chunks, x_rest, x):
    n_chunks = x_chunks.shape[0]
    n_rest = x_rest.shape[0]
    if n_chunks > 0:
        y_chunks = jax.lax.map(vmapped_fun, x_chunks)
    if n_rest > 0:
        y_rest = vmapped_fun(x_rest)
    if n_chunks > 0 and n_rest > 0:
        return y_chunks, y_rest
    elif n_chunks > 0:
        return y_chunks
    elif n_rest > 0:
        return y_rest
    else:
        return vmapped_fun(x)
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
        # Two contractions per call: a second copy in the other branch is worth avoiding.
        Invalid(
            """
import jax

def mix(m, v):
    return m @ (m @ v)

@jax.jit
def apply(p, m, v):
    return jax.lax.cond(p, lambda: mix(m, v), lambda: mix(m.T, v))
""",
            expected_message_contains="`mix` is called in both branches",
        ),
        # The same condition text over a rebound name is not the same condition.
        Invalid(
            """
import jax

@jax.jit
def two_passes(vector_field, y, n):
    if n > 0:
        y = vector_field(y)
    n = n - 1
    if n > 0:
        return y
    else:
        return vector_field(y)
""",
            expected_message_contains="`vector_field` is called at 2 sites",
        ),
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
    return jax.numpy.tanh(x @ x.T) @ x

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
        # A vector field at two sites of straight-line code (diffrax's initial step size).
        Invalid(
            """
import jax
import jax.numpy as jnp

def select_initial_step(terms, t0, y0, args, func, error_order):
    f0 = func(terms, t0, y0, args)
    h0 = 0.01 * jnp.linalg.norm(y0) / jnp.linalg.norm(f0)
    t1 = t0 + h0
    y1 = y0 + h0 * f0
    f1 = func(terms, t1, y1, args)
    return jnp.minimum(100 * h0, (0.01 / jnp.linalg.norm(f1 - f0)) ** (1 / error_order))

@jax.jit
def solve(terms, t0, y0, args, func, dt0=None):
    if dt0 is None:
        dt0 = select_initial_step(terms, t0, y0, args, func, 2)
    return dt0
""",
            expected_message_contains="`func` is called at 2 sites of `select_initial_step`",
        ),
        # A Newton body run twice before the while_loop that runs it again.
        Invalid(
            """
import jax
from jax import lax

@jax.jit
def newton(fn, x0):
    def cond_fn(val):
        return val[1] < 10

    def body_fn(val):
        x, step = val
        return x - fn(x) / jax.grad(fn)(x), step + 1

    val = (x0, 0)
    val = body_fn(val)
    val = body_fn(val)
    return lax.while_loop(cond_fn, body_fn, val)
""",
            expected_message_contains="`body_fn` is the body of `lax.while_loop`",
        ),
        # Stages from module-level Butcher tableau rows.
        Invalid(
            """
import jax

A = ((), (0.5,), (0.0, 0.5), (0.0, 0.0, 1.0))
C = (0.0, 0.5, 0.5, 1.0)

@jax.jit
def rk4(t, y, h, args):
    ks = []
    for a_row, c in zip(A, C):
        yi = y + h * sum(a * k for a, k in zip(a_row, ks))
        ks.append(vector_field(t + c * h, yi, args))
    return y + h * (ks[0] + 2 * ks[1] + 2 * ks[2] + ks[3]) / 6

def vector_field(t, y, args):
    return -args * y
""",
            expected_message_contains="(4 times)",
        ),
        # A solver step traced only to learn the structure of its output.
        Invalid(
            """
import jax
import jax.numpy as jnp
import jax.tree_util as jtu

@jax.jit
def diffeqsolve(solver, terms, t0, t1, y0, args, max_steps):
    _, _, dense_info, _ = solver.step(terms, t0, t1, y0, args)
    make_full = lambda x: jnp.full((max_steps,) + jnp.shape(x), jnp.inf)
    dense_infos = jtu.tree_map(make_full, dense_info)
    return dense_infos
""",
            expected_message_contains="only for the structure of its result",
        ),
        # Runge-Kutta stages over a tableau's rows: the stage evaluation is traced per stage.
        Invalid(
            """
import equinox as eqx

class RungeKutta(eqx.Module):
    tableau: object

    def _eval_stage(self, terms, i, ti, yi, args):
        return terms.vf(ti, yi, args)

    @eqx.filter_jit
    def step(self, terms, t0, dt, y0, args):
        ks = []
        for i, (a_i, c_i) in enumerate(zip(self.tableau.a_lower, self.tableau.c)):
            yi = y0 + dt * sum(a * k for a, k in zip(a_i, ks))
            ks.append(self._eval_stage(terms, i + 1, t0 + c_i * dt, yi, args))
        return ks
""",
            expected_message_contains="`self._eval_stage` is traced once per iteration",
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
        repeated = sorted(key for key, count in seen_in.items() if count >= 2 and self._looks_expensive(key, node))
        if not repeated:
            return
        key = repeated[0]
        where = "both branches" if seen_in[key] == 2 and len(branches) == 2 else f"{seen_in[key]} branches"
        self.report(
            node,
            f"`{key}` is called in {where} of `{kind}`: it is traced and compiled once per branch; call it "
            "once outside with `jnp.where`-selected arguments (or wrap it in `eqx.internal.noinline`)",
        )

    def _looks_expensive(self, key: str, at: cst.CSTNode) -> bool:
        """Worth a second traced copy: named as a vector field / step / solver / model, or a def
        of this file whose body loops, solves, contracts or runs control flow. Pytree plumbing in
        both branches (`state.replace`, `dataclasses.replace`, `tree_where`, a short update
        rule) is a handful of ops: not reported."""
        if _reads_as_vector_field(key.rsplit(".", 1)[-1]):
            return True
        definition = self._find_def(key, at) if "." not in key else None
        if definition is None:
            return False
        contractions = 0  # one matmul duplicated is one op: it takes two to be worth a rewrite
        for node in self.context.descendants(definition.body):
            if isinstance(node, (cst.For, cst.While)):
                return True
            if isinstance(node, cst.BinaryOperation) and isinstance(node.operator, cst.MatrixMultiply):
                contractions += 1
            if isinstance(node, cst.Call):
                qualified = self.context.qualified_name(node.func) or ""
                if qualified in _CONTRACTIONS:
                    contractions += 1
                elif qualified.startswith(_EXPENSIVE_PREFIXES) or qualified in _EXPENSIVE_CALLS:
                    return True
        return contractions >= 2

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

    # -- straight-line repeats and peeled loop bodies --
    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        reason = self.context.traced_reason(node.body)
        if reason is None:
            return
        calls = calls_when_run(node.body)
        loop_bodies = self._loop_bodies(calls)
        sites: dict[str, list[cst.Call]] = {}
        for call in calls:
            if self._in_loop(call, node):
                continue
            func = call.func
            if isinstance(func, cst.Name) and func.value in loop_bodies:
                key: str | None = func.value
            else:
                key = self._repeatable_callee(func, call)
            if key is not None:
                sites.setdefault(key, []).append(call)
        for key, found in sites.items():
            if key in loop_bodies:
                primitive, loop_call = loop_bodies[key]
                # direct calls that run together with the loop (not `if n == 1: return body(x)`)
                peeled = [c for c in found if len(self._run_together([c, loop_call], node)) == 2]
                if peeled:
                    self._report_peeled(key, peeled, primitive, reason)
                continue
            shape_only = next((c for c in found if self._result_used_for_shape_only(c, node)), None)
            if shape_only is not None:
                self.report(
                    shape_only,
                    f"`{key}` is traced here only for the structure of its result (shapes and dtypes) in "
                    f"traced code ({reason}): a whole traced copy of it in the program for nothing; use "
                    "`jax.eval_shape` / `eqx.filter_eval_shape`, which trace without emitting ops",
                )
                continue
            together = self._run_together(found, node)
            if len(together) < 2:
                continue
            lines = ", ".join(str(self.context.position(c)[0]) for c in together)
            self.report(
                together[1],
                f"`{key}` is called at {len(together)} sites of `{node.name.value}` (lines {lines}) in traced "
                f"code ({reason}): each call site is a whole traced copy of it in the program; evaluate it once "
                "(stack the inputs and `jax.vmap`, or a `lax.scan` over them) or wrap it in "
                "`eqx.internal.noinline`",
            )

    def _repeatable_callee(self, func: cst.BaseExpression, at: cst.CSTNode) -> str | None:
        """A display key when a straight-line repeat of this callee is worth reporting: a
        callable parameter (of this or an enclosing def), a nested def, or a method of ``self`` /
        a parameter, named as a vector field, step or loop body. Module-level functions are the
        library's own helpers (`momentum_step`, `_apply_axis_fn`): not counted."""
        if isinstance(func, cst.Name):
            scope = defining_scope(func.value, at, self.context, self.memo.scopes)
            if not isinstance(scope, cst.FunctionDef):
                return None
            bindings = self.memo.scopes(scope)
            parameter = bindings.is_parameter(func.value) and len(bindings.values.get(func.value, [])) == 1
            if not (parameter or bindings.is_def(func.value)):
                return None
            return func.value if _reads_as_repeated_body(func.value, parameter) else None
        if isinstance(func, cst.Attribute):
            if not _reads_as_repeated_body(func.attr.value, parameter=False):
                return None
            key = self._user_callee(func, at, strict=True)
            if key is not None:
                return key
            # `solver.step` with `solver = controller.wrap_solver(solver)` rebound in the function:
            # a local object whose method is named as a step or vector field.
            root = func.value
            while isinstance(root, cst.Attribute):
                root = root.value
            if isinstance(root, cst.Name) and isinstance(
                defining_scope(root.value, at, self.context, self.memo.scopes), cst.FunctionDef
            ):
                return code_of(func)
        return None

    def _result_used_for_shape_only(self, call: cst.Call, function: cst.FunctionDef) -> bool:
        """``out = f(...)`` (or a tuple of names) whose names are read only through
        ``.shape``/``.dtype``, ``jnp.shape``, ``*_like`` or a ``tree_map`` of such a function."""
        statement = self.context.parent(call)
        if not isinstance(statement, cst.Assign) or statement.value is not call:
            return False
        names: list[cst.Name] = []
        for target in statement.targets:
            value = target.target
            elements = value.elements if isinstance(value, (cst.Tuple, cst.List)) else [cst.Element(value)]
            for element in elements:
                if not isinstance(element.value, cst.Name):
                    return False
                if element.value.value != "_":
                    names.append(element.value)
        if not names:
            return False
        bound = {id(n) for n in names}
        lambdas = self.memo.scopes(function).single_values()
        for name in {n.value for n in names}:
            uses = [
                n for n in self.context.descendants(function.body)
                if isinstance(n, cst.Name) and n.value == name and id(n) not in bound
            ]
            if not uses or not all(self._shape_use(use, lambdas) for use in uses):
                return False
        return True

    def _shape_use(self, use: cst.Name, lambdas: dict[str, cst.BaseExpression], depth: int = 0) -> bool:
        parent = self.context.parent(use)
        if isinstance(parent, cst.Attribute) and parent.value is use:
            return parent.attr.value in _STRUCTURE_ATTRIBUTES
        if not isinstance(parent, cst.Arg):
            return False
        call = self.context.parent(parent)
        if not isinstance(call, cst.Call) or not call.args:
            return False
        qualified = self.context.qualified_name(call.func) or ""
        if qualified in _STRUCTURE_FUNCTIONS:
            return call.args[0] is parent
        if qualified in _TREE_MAPS and call.args[0] is not parent and depth < 3:
            mapped = call.args[0].value
            if isinstance(mapped, cst.Name):
                mapped = lambdas.get(mapped.value, mapped)
            if isinstance(mapped, cst.Lambda) and len(mapped.params.params) == 1:
                param = mapped.params.params[0].name.value
                inner = [
                    n for n in self.context.descendants(mapped.body) if isinstance(n, cst.Name) and n.value == param
                ]
                return bool(inner) and all(self._shape_use(n, lambdas, depth + 1) for n in inner)
        return False

    def _report_peeled(self, key: str, direct: list[cst.Call], primitive: str, reason: str) -> None:
        self.report(
            direct[0],
            f"`{key}` is the body of `{primitive}` and is also called directly here ({len(direct)} time"
            f"{'s' if len(direct) > 1 else ''}) in traced code ({reason}): each direct call is one more traced "
            f"copy of the loop body; let `{primitive}` run those iterations too",
        )

    def _loop_bodies(self, calls: list[cst.Call]) -> dict[str, tuple[str, cst.Call]]:
        """Local function names passed as the body of a loop primitive -> (the primitive, its call)."""
        found: dict[str, tuple[str, cst.Call]] = {}
        for call in calls:
            qualified = self.context.qualified_name(call.func)
            position = _LOOP_PRIMITIVES.get(qualified or "")
            if position is None:
                continue
            positional = [a.value for a in call.args if a.keyword is None and not a.star]
            body = positional[position] if position < len(positional) else None
            for arg in call.args:
                if arg.keyword is not None and arg.keyword.value in ("body_fun", "f", "body_fn"):
                    body = arg.value
            if isinstance(body, cst.Name) and self._find_def(body.value, call) is not None:
                found[body.value] = (f"lax.{qualified.rsplit('.', 1)[-1]}", call)  # type: ignore[union-attr]
        return found

    def _in_loop(self, node: cst.CSTNode, function: cst.FunctionDef) -> bool:
        for ancestor in self.context.ancestors(node):
            if ancestor is function:
                return False
            if isinstance(ancestor, (cst.For, cst.While, cst.ListComp, cst.SetComp, cst.DictComp, cst.GeneratorExp)):
                return True
        return False

    def _branch_path(
        self, node: cst.CSTNode, function: cst.FunctionDef
    ) -> tuple[dict[int, int], set[tuple[int, int]]]:
        """(for each `if` / conditional expression / `try` around ``node``: which branch holds
        it; the (if, branch) pairs before it whose block returns or raises: ``node`` runs only
        when that branch did not)."""
        path: dict[int, int] = {}
        skipped: set[tuple[int, int]] = set()
        previous = node
        for ancestor in self.context.ancestors(node):
            if ancestor is function:
                break
            if isinstance(ancestor, (cst.If, cst.IfExp)):
                if previous is ancestor.body:
                    path[id(ancestor)] = 0
                elif previous is ancestor.orelse:
                    path[id(ancestor)] = 1
            elif isinstance(ancestor, cst.Try):
                path[id(ancestor)] = 0 if previous is ancestor.body else 1
            elif isinstance(ancestor, cst.IndentedBlock):
                for statement in ancestor.body:
                    if statement is previous:
                        break
                    if isinstance(statement, cst.If):
                        skipped.update(_exiting_branches(statement))
            previous = ancestor
        return path, skipped

    def _run_together(self, calls: list[cst.Call], function: cst.FunctionDef) -> list[cst.Call]:
        """The calls that all run in one pass (greedy, in order): not in exclusive branches,
        not after an `if` whose body (holding the other call) returns, not guarded by the same
        condition with opposite outcomes (`if n > 0: f(a)` and, later, `f(b)` in a branch that
        runs only when `n > 0` was false)."""
        chosen: list[tuple[cst.Call, dict[int, int], set[tuple[int, int]], set[tuple[str, bool]]]] = []
        fixed = self._names_bound_once(function)
        for call in calls:
            path, skipped = self._branch_path(call, function)
            guards = self._guards(call, function, fixed)
            if all(
                all(other.get(k, v) == v for k, v in path.items())
                and not any(other.get(k) == branch for k, branch in skipped)
                and not any(path.get(k) == branch for k, branch in other_skipped)
                and not any((test, not outcome) in other_guards for test, outcome in guards)
                for _, other, other_skipped, other_guards in chosen
            ):
                chosen.append((call, path, skipped, guards))
        return [call for call, _, _, _ in chosen]

    def _guards(self, node: cst.CSTNode, function: cst.FunctionDef, fixed: set[str]) -> set[tuple[str, bool]]:
        """(condition text, its outcome) that must hold for ``node`` to run: the `if`s around it
        (an `elif`/`else` also implies every earlier test of its chain was false) and the
        `if`s before it whose taken branch returned or raised. Only conditions over names bound
        at most once in ``function`` (so the same text means the same value)."""
        guards: set[tuple[str, bool]] = set()

        def add(test: cst.BaseExpression, outcome: bool) -> None:
            if _names_of(test) <= fixed:
                guards.add((code_of(test), outcome))

        previous = node
        for ancestor in self.context.ancestors(node):
            if ancestor is function:
                break
            if isinstance(ancestor, (cst.If, cst.IfExp)):
                if previous is ancestor.body:
                    add(ancestor.test, True)
                elif previous is ancestor.orelse:
                    add(ancestor.test, False)
            elif isinstance(ancestor, cst.IndentedBlock):
                for statement in ancestor.body:
                    if statement is previous:
                        break
                    branch: cst.CSTNode | None = statement
                    while isinstance(branch, cst.If):
                        if _exits(branch.body):
                            add(branch.test, False)  # still running: that branch was not taken
                        orelse = branch.orelse
                        if isinstance(orelse, cst.Else) and _exits(orelse.body):
                            add(branch.test, True)
                        branch = orelse if isinstance(orelse, cst.If) else None
            previous = ancestor
        return guards

    def _names_bound_once(self, function: cst.FunctionDef) -> set[str]:
        """Names of ``function``'s conditions that keep one value: bound at most once in it."""
        counts: dict[str, int] = {}

        def bind(target: cst.BaseExpression, times: int) -> None:
            for name in _names_of(target):
                counts[name] = counts.get(name, 0) + times

        # A plain assignment binds once; `x += 1`, a loop target or `:=` may rebind (count 2).
        class _Binds(cst.CSTVisitor):
            def visit_AssignTarget(self, node: cst.AssignTarget) -> None:
                bind(node.target, 1)

            def visit_AugAssign(self, node: cst.AugAssign) -> None:
                bind(node.target, 2)

            def visit_For(self, node: cst.For) -> None:
                bind(node.target, 2)

            def visit_NamedExpr(self, node: cst.NamedExpr) -> None:
                bind(node.target, 2)

        function.body.visit(_Binds())
        for param in (*function.params.params, *function.params.kwonly_params, *function.params.posonly_params):
            counts[param.name.value] = counts.get(param.name.value, 0) + 1
        names = set(counts) | _names_of(function.body)
        return {name for name in names if counts.get(name, 0) <= 1}

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
        keys: list[str] = []
        for call in calls_when_run(node.body):
            key = self._user_callee(call.func, call, strict=True, excluded=loop_bound)
            if key is not None and key not in keys:
                keys.append(key)
        if keys:
            # One finding on the loop header: the loop is what to rewrite.
            named = ", ".join(f"`{k}`" for k in keys)
            self.report(
                node.iter,
                f"{named} {'is' if len(keys) == 1 else 'are'} traced once per iteration of this Python loop "
                f"over stages ({times}) in traced code ({reason}): once per iteration in the program; loop "
                "with `lax.fori_loop`/`lax.scan` so it is traced once (or wrap it in `eqx.internal.noinline`)",
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


def _names_of(node: cst.CSTNode) -> set[str]:
    found: set[str] = set()

    class _Names(cst.CSTVisitor):
        def visit_Name(self, inner: cst.Name) -> None:
            found.add(inner.value)

    node.visit(_Names())
    return found


def _exiting_branches(statement: cst.If) -> set[tuple[int, int]]:
    """(id of an `if`/`elif`, 0 body / 1 else) for each branch of this chain that returns or
    raises: code after the chain runs only when none of them was taken."""
    found: set[tuple[int, int]] = set()
    if _exits(statement.body):
        found.add((id(statement), 0))
    orelse = statement.orelse
    if isinstance(orelse, cst.If):
        found.update(_exiting_branches(orelse))
    elif isinstance(orelse, cst.Else) and _exits(orelse.body):
        found.add((id(statement), 1))
    return found


def _exits(block: cst.BaseSuite) -> bool:
    """The block ends in `return` or `raise`: code after its `if` runs only when it did not."""
    if not isinstance(block, cst.IndentedBlock) or not block.body:
        return False
    last = block.body[-1]
    return isinstance(last, cst.SimpleStatementLine) and isinstance(last.body[-1], (cst.Return, cst.Raise))


# Calls that make a function worth a second traced copy (JL016's cond/switch branches).
_EXPENSIVE_PREFIXES = ("jax.numpy.linalg.", "jax.scipy.", "jax.numpy.fft.", "lineax.", "optimistix.", "diffrax.")
_EXPENSIVE_CALLS = frozenset(
    {"jax.lax.while_loop", "jax.lax.fori_loop", "jax.lax.scan", "jax.lax.cond", "jax.lax.switch", "jax.lax.map",
     "jax.lax.conv_general_dilated", "jax.vmap", "jax.grad", "jax.jacfwd", "jax.jacrev", "jax.jvp", "jax.vjp"}
)
# One contraction is one op; a def needs two (or any of the above) to be worth a second copy.
_CONTRACTIONS = frozenset(
    {"jax.numpy.einsum", "jax.numpy.dot", "jax.numpy.matmul", "jax.numpy.tensordot", "jax.lax.dot_general"}
)
# Reading only these of a value needs its structure, not its ops (`jax.eval_shape` gives them).
_STRUCTURE_ATTRIBUTES = frozenset({"shape", "dtype", "ndim", "size"})
_STRUCTURE_FUNCTIONS = frozenset(
    {"jax.numpy.shape", "jax.numpy.ndim", "jax.numpy.size", "numpy.shape", "numpy.ndim", "jax.numpy.result_type",
     "jax.numpy.zeros_like", "jax.numpy.ones_like", "jax.numpy.empty_like", "jax.numpy.full_like",
     "jax.eval_shape", "jax.ShapeDtypeStruct"}
)
_TREE_MAPS = frozenset({"jax.tree_util.tree_map", "jax.tree.map", "jax.tree_map"})

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
