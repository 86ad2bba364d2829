"""JL002 python-loop-over-size: a Python loop over a problem size in traced code (pitfall P2)."""

from __future__ import annotations

from typing import ClassVar

import libcst as cst

from jaxlint.rules._base import Invalid, LintRule, Valid
from jaxlint.rules._patterns import FileMemo, is_count_name, last_identifier
from jaxlint.rules._python_values import PythonValues, host_only, stores_into_arrays
from jaxlint.rules._scopes import calls_when_run, code_of

# Builders JL001 already reports when handed a comprehension over range(n).
_JL001_BUILDERS = frozenset(
    {"jax.numpy.stack", "jax.numpy.concatenate", "jax.numpy.array", "jax.numpy.asarray", "jax.numpy.vstack", "jax.numpy.hstack"}
)
_COMPREHENSIONS = (cst.ListComp, cst.SetComp, cst.DictComp, cst.GeneratorExp)
# A Python loop in one branch and one of these in the other: the author wrote both on purpose
# (a debug / NumPy fallback next to the loop primitive).
_LOOP_PRIMITIVES = frozenset(
    {"jax.lax.while_loop", "jax.lax.fori_loop", "jax.lax.scan", "jax.lax.map", "equinox.internal.while_loop",
     "equinox.internal.scan"}
)


class PythonLoopOverSize(LintRule):
    CODE = "JL002"
    NAME = "python-loop-over-size"
    MESSAGE = (
        "Python loop over a size in traced code: the trace is unrolled, the program grows with the "
        "trip count; use `lax.scan` / `lax.fori_loop` (or `jax.vmap` for independent iterations)"
    )
    WHY = """
        JAX traces Python control flow by running it: a `for` loop over `range(n)` inside a
        jitted (or vmapped, scanned, differentiated) function emits its body n times. The
        StableHLO program, and so trace, lowering and XLA compile time, grow linearly in n
        (compile time often super-linearly). 1000 Euler steps written as a Python loop lower to
        10,005 HLO lines and compile in 1.9 s; the same steps in `lax.scan` are 39 lines and
        0.09 s, at any n.

        When it fires: the loop is in traced code, its trip count is a problem size, and its
        body may emit JAX ops. A size is `range(n)` / `range(len(ts))` / `range(max_steps)` /
        `x.shape[0]` / an attribute (`model.NB`) / a helper's result named as a count or
        computed from a size (`ntheta = samples.ntheta(L, sampling)`) / a literal above 16;
        iteration over an array (`for t in jnp.linspace(...)`, `enumerate(jnp.arange(n))`,
        `np.arange(start=1, stop=model.NB)`, `ts`); consecutive pairs `zip(xs[:-1], xs[1:])`;
        and `while` loops that compare against a count.

        Not reported (fixed structure, tied to the model or machine, not the data): literal
        counts up to 16, `len()` of a literal tuple, names made of structure words (layers,
        blocks, stages, leaves, params, `ndim`/`dims`/spatial dimension, links/joints/dofs,
        devices, args): an MLP's loop over `self.layers` is a fixed small depth. Loops whose
        body builds Python values only (an einsum string, index lists, a graph walk over a
        Python list, HTML): they unroll into no op. What counts as Python: literals, `len`,
        `.shape`, names passed to `range()` (it needs a concrete int), membership tests
        (`i in argnums`), dict keys (`.items()`, `.keys()`: a tracer is not hashable), NumPy
        and `math` results, elements of a Python iterable (`n, dim = x.shape`). Code that
        cannot run under a trace, reached through the call graph: a body that assigns into an
        array item (`out[i] = ...`, impossible on a JAX array), a numba-compiled function, a
        loop that exits on a value it computes from its state (`cond = cond_fun(val)`, `if
        not cond: break`: `bool()` of a tracer raises, so this is an eager path) or hands
        such a value to NumPy (`np.copy(log_prob)`). A loop in one branch of an `if` whose other
        branch runs `lax.fori_loop`/`while_loop`/`scan`, or after an `if` that returns from
        such a path (`if not verbose: return run_em(...)` with `run_em` a local def around
        `lax.scan`): a deliberate debug, progress-bar or NumPy fallback. Loops in plain Python
        (not traced). `while` loops whose bound variable grows geometrically (`i = i << 1`,
        `n *= 2`: log-many iterations), and `while` tests that compare with `==` (`while
        x.shape[0] == 1`: a value test, not a trip count).
    """
    PITFALL = "P2"
    REFERENCES = ("diffrax#94", "diffrax PR #124", "jax#2777", "pmwd PR #11", "flowpm#82")
    TRACED_ONLY = True
    FIX_SAFETY = "none"
    PREFILTER = ("for ", "while ")
    REQUIRES = ("for", "while", "comprehension")  # in traced code (TRACED_ONLY)

    VALID: ClassVar[list[str | Valid]] = [
        # Plain Python (nothing traces `simulate`): a host-side loop is fine.
        """
import jax.numpy as jnp

def simulate(step, y, n):
    for _ in range(n):
        y = step(y)
    return y
""",
        # A small literal trip count, pytree leaves and a tuple of modules: fixed structure.
        """
import jax
import jax.numpy as jnp

@jax.jit
def norms(tree, layers, x):
    total = 0.0
    for leaf in jax.tree_util.tree_leaves(tree):
        total = total + jnp.sum(leaf**2)
    for layer in layers:
        x = layer(x)
    for i in range(4):
        x = x + i
    return total, x
""",
        # Loops over the model's structure by count: number of layers / stages.
        """
import equinox as eqx

class MLP(eqx.Module):
    layers: tuple

    @eqx.filter_jit
    def __call__(self, x, num_stages=4):
        for i in range(len(self.layers)):
            x = self.layers[i](x)
        for s in range(num_stages):
            x = x * 0.5
        return x
""",
        # The loop is already a lax.scan; the comprehension builds a stack JL001 reports.
        """
import jax
import jax.numpy as jnp

STEPS = 8

@jax.jit
def integrate(y0, dt):
    def body(y, _):
        return y + dt * y, y
    ys = [y0 * k for k in range(STEPS)]
    return jax.lax.scan(body, y0, None, length=1000), ys
""",
        # Trace-time configuration: loops over array rank and axis indices, a doubling search.
        """
import jax

@jax.jit
def configure(f, ys, max_vec_size, max_out_size):
    for _ in range(len(ys.shape)):
        f = jax.vmap(f)
    for axis in range(-max_out_size, max_out_size):
        ys = ys + axis
    for day in range(max_out_size, max_out_size + 7):
        ys = ys * day
    ndim_out = ys.ndim + len(max_out_size)
    ys = ys.reshape([1 for _ in range(ndim_out)])
    vec_size = 1
    while vec_size * 2 <= max_vec_size:
        vec_size *= 2
    return f(ys), vec_size
""",
        # Bodies that build Python values only: an einsum string, index lists, HTML, a walk
        # over a Python parent list. Counts fixed by space / joints: spatial dimension, dofs.
        """
import jax
import jax.numpy as jnp

@jax.jit
def contract(x, n, num_links, fields, spatial_dimension, num_dofs, num_dims):
    letters = ''.join([chr(ord('a') + i) for i in range(n)])
    pairs, head = [], []
    for i in range(n):
        for j in range(i + 1, n):
            pairs.append((i, j))
            head.append(f"<td>{i}:{j}</td>")
    parents = [-1] + list(range(num_links - 1))
    roots = []
    for i in range(num_links):
        j = i
        while parents[j] > -1:
            j = parents[j]
        roots.append(j)
    while len(fields) < n:
        fields.append(None)
    for d in range(spatial_dimension):
        x = x + jnp.roll(x, 1, axis=d)
    for k in range(1, num_dims):
        x = x * k
    for q in range(num_dofs):
        x = jnp.sin(x)
    return jnp.einsum(letters + "->", x), pairs, roots, head
""",
        # NumPy code reached from traced code: item assignment (impossible on a JAX array), numba.
        """
import jax
import numba
import numpy as np

@jax.jit
def kernel(x, batch_size):
    mels = np.zeros(batch_size)
    for b in range(batch_size):
        mels[b] = np.sum(x[b])
    return mels + flattened(x, batch_size)

@numba.njit
def flattened(x, batch_size):
    total = 0.0
    for b in range(batch_size):
        total = total + x[b]
    return total
""",
        # A debug fallback next to the loop primitive: the author chose both.
        """
import jax
from jax import lax

DISABLE_CONTROL_FLOW = False

@jax.jit
def fori_loop(lower, upper, body_fun, init_val):
    if DISABLE_CONTROL_FLOW:
        val = init_val
        for i in range(int(lower), int(upper)):
            val = body_fun(i, val)
        return val
    else:
        return lax.fori_loop(lower, upper, body_fun, init_val)
""",
        # Python values only: ints passed to range() (`dim` from a static shape), membership
        # tests, dict keys, a doubling search written `i = i << 1`.
        """
import jax
import jax.numpy as jnp
from functools import partial

@partial(jax.jit, static_argnums=(1, 2, 3))
def cell_hash(cells, shape, argnums, terms):
    n, dim = shape
    sizes = cells.shape[:dim]
    mult = [1]
    for i in range(1, dim):
        mult.append(mult[-1] * sizes[dim - i])
    flags = tuple(i in argnums for i in range(n))
    groups = {}
    for term, weight in terms.items():
        n_creation = len(term) // 2
        groups[weight] = [term[i][0] for i in range(n_creation)]
    size = 1
    while size < n:
        size = size << 1
    return jnp.sum(cells * jnp.array(mult)), flags, groups, size
""",
        # Eager paths reached through the call graph: a loop that breaks on a value it computes
        # (`bool()` of a tracer raises: the non-jit path) and a loop that hands one to NumPy.
        """
import jax
import numpy as np

def while_loop_python(cond_fun, body_fun, val, max_steps):
    for _ in range(max_steps):
        if not cond_fun(val):
            break
        val = body_fun(val)
    return val

def sample_numpy(model, params, x, num_sweeps):
    log_prob = np.zeros(x.shape[0])
    for sweep in range(num_sweeps):
        proposal = model(params, x)
        log_prob = log_prob + np.copy(proposal)
    return log_prob

@jax.jit
def solve(x, max_steps):
    return while_loop_python(lambda v: True, lambda v: v * 2, x, max_steps), sample_numpy(None, None, x, max_steps)
""",
        # A progress-bar path after the scan path returned; stripping singleton axes.
        """
import jax
from functools import partial

@partial(jax.jit, static_argnums=(1, 2))
def fit(carry, num_iters, verbose, step):
    def run(carry, num_steps):
        return jax.lax.scan(step, carry, None, length=num_steps)

    if not verbose:
        return run(carry, num_iters)
    for start in range(0, num_iters, 10):
        carry, _ = run(carry, 10)
        print(start)
    value = carry
    while value.shape and value.shape[0] == 1:
        value = value.squeeze(0)
    return value
""",
        # zip stops at its shortest argument: a few save groups bound the loop.
        """
import jax

@jax.jit
def allocate(subs, save_ts, y0):
    return tuple(sub(y0, ts) for sub, ts in zip(subs, save_ts))
""",
    ]

    INVALID: ClassVar[list[Invalid]] = [
        Invalid(
            """
import jax
import jax.numpy as jnp

@jax.jit
def euler(y0, ts):
    y = y0
    for i in range(len(ts) - 1):
        y = y + (ts[i + 1] - ts[i]) * jnp.sin(y)
    return y
""",
            expected_message_contains="`euler` is jitted at example.py:",
        ),
        Invalid(
            """
import jax
from functools import partial

@partial(jax.jit, static_argnames="max_steps")
def solve(y, dt, max_steps):
    step = 0
    while step < max_steps:
        y = y + dt * y
        step += 1
    return y
""",
            expected_message_contains="`while` loop",
        ),
        Invalid(
            """
import jax
import jax.numpy as jnp

def features(y):
    out = []
    for t_k in jnp.linspace(0.0, 1.0, 200):
        out.append(jnp.sin(t_k * y))
    return sum(out)

def vector_field(t, y):
    return -features(y)

f = jax.vmap(vector_field, in_axes=(None, 0))
""",
            expected_message_contains="reached from",
        ),
        Invalid(
            """
import jax

@jax.jit
def trapezoid(f, ts):
    total = 0.0
    for t, t_next in zip(ts[:-1], ts[1:]):
        total = total + 0.5 * (t_next - t) * (f(t) + f(t_next))
    return total
""",
            expected_message_contains="zip(ts[:-1], ts[1:])",
        ),
        Invalid(
            """
import jax

@jax.grad
def loss(y):
    return sum(y[i] ** 2 for i in range(y.shape[0]))
""",
            expected_message_contains="comprehension",
        ),
        # Iterating an arange whose length is a size; a size from a helper or an attribute.
        Invalid(
            """
import jax
import jax.numpy as jnp

@jax.jit
def recursion(dl, L, el):
    ms = jnp.arange((L - 1) - 2, -1, -1) - (L - 1) + el
    for i, m in enumerate(ms):
        dl = dl.at[i].set(dl[i - 1] * m)
    return dl
""",
            expected_message_contains="enumerate(ms)",
        ),
        Invalid(
            """
import jax
import jax.numpy as jnp
import numpy as np
from mypkg import samples

@jax.jit
def transform(f, L, sampling, model):
    ntheta = samples.ntheta(L, sampling)
    out = []
    for t in range(ntheta):
        out.append(jnp.fft.fft(f[t]))
    for i in np.arange(start=1, stop=model.NB):
        f = f + model.parent_transform(i) @ f
    return out, f
""",
            expected_message_contains="range(ntheta)",
        ),
        # Consecutive pairs of an array: one body per interval.
        Invalid(
            """
import jax

@jax.jit
def areas(f, grid):
    return sum((b - a) * f(a) for a, b in zip(grid[:-1], grid[1:]))
""",
            expected_message_contains="zip(grid[:-1], grid[1:])",
        ),
        # An early return that is not a loop-primitive path does not make the loop a fallback.
        Invalid(
            """
import jax

@jax.jit
def fit(carry, num_iters, step):
    if num_iters == 0:
        return carry
    for start in range(num_iters):
        carry = step(carry)
    return carry
""",
            expected_message_contains="range(num_iters)",
        ),
        # An exit test that works on a tracer (identity, isinstance) does not make a loop eager;
        # a size unpacked from a shape is still a size.
        Invalid(
            """
import jax

@jax.jit
def rollout(y, num_steps, step):
    for i in range(num_steps):
        y, err = step(y)
        if err is None or isinstance(y, tuple):
            break
    return y
""",
            expected_message_contains="range(num_steps)",
        ),
        Invalid(
            """
import jax

@jax.jit
def scale_rows(y):
    n, dim = y.shape
    for t in range(n):
        y = y.at[t].set(y[t] * dim)
    return y
""",
            expected_message_contains="range(n)",
        ),
        Invalid(
            """
import jax

N = 1000

@jax.jit
def rollout(y):
    for _ in range(N):
        y = 0.5 * y
    return y
""",
            expected_message_contains="range(N)",
        ),
    ]

    def __init__(self, context) -> None:
        super().__init__(context)
        self.memo = FileMemo(context)
        self._values: dict[cst.CSTNode | None, PythonValues] = {}

    def visit_For(self, node: cst.For) -> None:
        self._check(node, node.iter, "for", node.body)

    def visit_CompFor(self, node: cst.CompFor) -> None:
        comprehension = self.context.parent(node)
        while isinstance(comprehension, cst.CompFor):  # nested `for ... for ...`
            comprehension = self.context.parent(comprehension)
        if isinstance(comprehension, _COMPREHENSIONS) and self._reported_by_jl001(comprehension):
            return
        if isinstance(comprehension, cst.DictComp):
            made: cst.CSTNode = cst.Tuple([cst.Element(comprehension.key), cst.Element(comprehension.value)])
        elif isinstance(comprehension, _COMPREHENSIONS):
            made = comprehension.elt  # type: ignore[attr-defined]
        else:
            made = node
        self._check(node, node.iter, "comprehension", made)

    def _fallback_of_primitive(self, node: cst.CSTNode) -> bool:
        """The loop sits in one branch of an `if` whose other branch runs a loop primitive
        (`if DISABLE_CONTROL_FLOW: for ... else: lax.fori_loop(...)`), or after an `if` that
        returns from such a branch (`if not verbose: return run_em(...)`, `run_em` a scan):
        the author wrote both paths on purpose, the Python one is the fallback."""
        function = self.context.enclosing_function(node)
        previous = node
        for ancestor in self.context.ancestors(node):
            if isinstance(ancestor, (cst.FunctionDef, cst.Lambda)):
                return False
            if isinstance(ancestor, cst.If):
                other = ancestor.orelse if previous is ancestor.body else ancestor.body if previous is not ancestor.test else None
                if other is not None and self._runs_primitive(other, function):
                    return True
            if isinstance(ancestor, cst.IndentedBlock):
                for statement in ancestor.body:
                    if statement is previous:
                        break
                    if (
                        isinstance(statement, cst.If)
                        and _returns(statement.body)
                        and self._runs_primitive(statement.body, function)
                    ):
                        return True
            previous = ancestor
        return False

    def _runs_primitive(self, block: cst.CSTNode, function: cst.FunctionDef | None) -> bool:
        """``block`` calls a loop primitive, directly or through a def of ``function``'s body."""
        local_defs = (
            {s.name.value: s for s in function.body.body if isinstance(s, cst.FunctionDef)}
            if function is not None and isinstance(function.body, cst.IndentedBlock)
            else {}
        )
        for call in calls_when_run(block):
            if self.context.qualified_name(call.func) in _LOOP_PRIMITIVES:
                return True
            local = local_defs.get(call.func.value) if isinstance(call.func, cst.Name) else None
            if local is not None and any(
                self.context.qualified_name(inner.func) in _LOOP_PRIMITIVES for inner in calls_when_run(local.body)
            ):
                return True
        return False

    def _python_only(self, node: cst.CSTNode, body: cst.CSTNode) -> bool:
        """The loop body builds Python values only (strings, index lists), or is NumPy code
        (item assignment into an array, a numba-compiled function): nothing unrolls in a trace."""
        function = self.context.enclosing_function(node)
        if function is not None and any(
            (self.context.qualified_name(d.decorator.func if isinstance(d.decorator, cst.Call) else d.decorator) or "")
            .startswith("numba.")
            for d in function.decorators
        ):
            return True
        values = self._values.get(function)
        if values is None:
            values = self._values[function] = PythonValues(self.context, function)
        if not values.emits_ops(body) or stores_into_arrays(values, body):
            return True
        # a loop that exits on, or hands to NumPy, a value it computes cannot run under a trace
        return isinstance(node, (cst.For, cst.While)) and host_only(values, body)

    def visit_While(self, node: cst.While) -> None:
        reason = self.context.traced_reason(node)
        if reason is None:
            return
        if _grows_geometrically(node):
            return  # `while n < limit: n *= 2` runs log(limit) times
        if self._python_only(node, node.body) or self._fallback_of_primitive(node):
            return
        classifier = self.memo.classifier(node)
        for comparison in _comparisons(node.test):
            if not all(isinstance(target.operator, _BOUNDS) for target in comparison.comparisons):
                continue  # `shape[0] == 1` tests a value; only an ordering bounds a trip count
            operands = [comparison.left, *(target.comparator for target in comparison.comparisons)]
            counts = [o for o in operands if _is_count(o) and classifier.is_size(o)]
            if counts:
                self.report(
                    node.test,
                    f"Python `while` loop up to `{code_of(counts[0])}` in traced code ({reason}): unrolled, "
                    "one copy of the body per iteration; use `lax.while_loop` (or `lax.fori_loop` / "
                    "`lax.scan` for a known count)",
                )
                return

    def _check(self, node: cst.For | cst.CompFor, iterable: cst.BaseExpression, kind: str, body: cst.CSTNode) -> None:
        reason = self.context.traced_reason(node)
        if reason is None:
            return
        size = self.memo.classifier(node).loop_size(iterable)
        if size is None or self._python_only(node, body) or self._fallback_of_primitive(node):
            return
        what = "a comprehension" if kind == "comprehension" else "a Python `for` loop"
        count = f" ({size.count} iterations)" if size.count is not None else ""
        self.report(
            iterable,
            f"{what} over `{size.what}`{count} in traced code ({reason}): the trace is unrolled, one copy "
            "of the body per iteration; use `lax.scan` / `lax.fori_loop` (or `jax.vmap` if iterations "
            "are independent)",
        )

    def _reported_by_jl001(self, comprehension: cst.CSTNode) -> bool:
        holder = self.context.parent(comprehension)
        if not isinstance(holder, cst.Arg):
            return False
        call = self.context.parent(holder)
        return (
            isinstance(call, cst.Call)
            and call.args[0] is holder
            and self.context.qualified_name(call.func) in _JL001_BUILDERS
        )


def _returns(block: cst.BaseSuite) -> bool:
    """``block`` ends in ``return``."""
    if isinstance(block, cst.SimpleStatementSuite):
        return isinstance(block.body[-1], cst.Return)
    if not isinstance(block, cst.IndentedBlock) or not block.body:
        return False
    last = block.body[-1]
    return isinstance(last, cst.SimpleStatementLine) and isinstance(last.body[-1], cst.Return)


def _comparisons(test: cst.BaseExpression) -> list[cst.Comparison]:
    """The comparisons a loop condition is made of (through `and`/`or` and parentheses)."""
    if isinstance(test, cst.Comparison):
        return [test]
    if isinstance(test, cst.BooleanOperation):
        return _comparisons(test.left) + _comparisons(test.right)
    return []


_BOUNDS = (cst.LessThan, cst.LessThanEqual, cst.GreaterThan, cst.GreaterThanEqual, cst.NotEqual)
_GEOMETRIC = (cst.MultiplyAssign, cst.DivideAssign, cst.FloorDivideAssign, cst.LeftShiftAssign, cst.RightShiftAssign, cst.PowerAssign)
_GEOMETRIC_OPERATORS = (cst.Multiply, cst.Divide, cst.FloorDivide, cst.LeftShift, cst.RightShift, cst.Power)


def _grows_geometrically(loop: cst.While) -> bool:
    """A name of the loop condition is multiplied/divided/shifted in the body (`n *= 2`,
    `i = i << 1`, `n = 2 * n`)."""
    in_test: set[str] = set()
    updated: set[str] = set()

    class _TestNames(cst.CSTVisitor):
        def visit_Name(self, node: cst.Name) -> None:
            in_test.add(node.value)

    class _Updates(cst.CSTVisitor):
        def visit_AugAssign(self, node: cst.AugAssign) -> None:
            if isinstance(node.target, cst.Name) and isinstance(node.operator, _GEOMETRIC):
                updated.add(node.target.value)

        def visit_Assign(self, node: cst.Assign) -> None:
            value = node.value
            if len(node.targets) == 1 and isinstance(node.targets[0].target, cst.Name) and (
                isinstance(value, cst.BinaryOperation) and isinstance(value.operator, _GEOMETRIC_OPERATORS)
            ):
                name = node.targets[0].target.value
                if any(isinstance(side, cst.Name) and side.value == name for side in (value.left, value.right)):
                    updated.add(name)

    loop.test.visit(_TestNames())
    loop.body.visit(_Updates())
    return bool(in_test & updated)


def _is_count(expr: cst.BaseExpression) -> bool:
    """A `while` bound that reads as a count: `len(ts)`, `x.shape[0]`, `max_steps`, `self.n`,
    `t1`, a literal (not `tol` or `err`: a convergence test has no trip count to name)."""
    if isinstance(expr, (cst.Name, cst.Attribute)):
        name = last_identifier(expr)
        return name is not None and is_count_name(name)
    if isinstance(expr, cst.BinaryOperation):
        return _is_count(expr.left) or _is_count(expr.right)
    return isinstance(expr, (cst.Call, cst.Subscript, cst.Integer))
