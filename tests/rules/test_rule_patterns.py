"""The static helpers the JL rules share (rules/_patterns.py, rules/_scopes.py), case by case."""

from __future__ import annotations

import textwrap

import libcst as cst
import pytest

from jaxlint.rules._context import FileFacts, RuleContext
from jaxlint.rules._patterns import LOADED, FileMemo, array_elements, int_value
from jaxlint.rules._scopes import bind_arguments, bound_names, code_of, namespace_alias

HEADER = """\
import jax
import jax.numpy as jnp
import numpy as np

N = 1000
STAGES = 4
"""


def _context(body: str) -> tuple[RuleContext, cst.Module]:
    source = HEADER + textwrap.dedent(body)
    module = cst.parse_module(source)
    return RuleContext("m.py", source, module, FileFacts.for_single_file(source, "m.py")), module


def _last_expression(module: cst.Module) -> cst.BaseExpression:
    statement = module.body[-1]
    assert isinstance(statement, cst.SimpleStatementLine) and isinstance(statement.body[0], cst.Expr)
    return statement.body[0].value


@pytest.mark.parametrize(
    "text, value",
    [("10_000", 10000), ("1e4", 10000), ("int(1e6)", 1000000), ("2 ** 10", 1024), ("-(3 * 4)", -12),
     ("N * N", 1000000), ("N // 3 + 1", 334), ("1.5", None), ("n", None), ("N / 2", None)],
)
def test_int_value(text: str, value: int | None) -> None:
    _, module = _context(text + "\n")
    memo_constants = {"N": cst.parse_expression("1000")}
    assert int_value(_last_expression(module), memo_constants) == value


@pytest.mark.parametrize(
    "text, elements",
    [
        ("np.zeros((N, N))", 1000000),
        ("jnp.ones(shape=(500, 500, 500))", 125000000),
        ("np.random.randn(200000, 10, 10)", 20000000),
        ("np.linspace(0.0, 1.0, 50_000)", 50000),
        ("np.linspace(0.0, 1.0)", 50),
        ("jnp.arange(10, 30_010, 3)", 10000),
        ("np.eye(300)", 90000),
        ("np.random.normal(0.0, 1.0, size=(100, 100))", 10000),
        ("jnp.asarray(np.load('x.npy')).reshape(10, -1)", LOADED),
        ("np.zeros(n)", None),
        ("jnp.stack(xs)", None),
    ],
)
def test_array_elements(text: str, elements: int | None) -> None:
    context, module = _context(text + "\n")
    found = array_elements(_last_expression(module), context, FileMemo(context).constants)
    assert (found[0] if found else None) == elements


@pytest.mark.parametrize(
    "loop, is_size",
    [
        ("range(n)", True),
        ("range(len(ts) - 1)", True),
        ("range(max_steps)", True),
        ("range(x.shape[0])", True),
        ("range(N)", True),
        ("range(20)", True),
        ("enumerate(jnp.linspace(0, 1, 200))", True),
        ("zip(ts[:-1], ts[1:])", True),
        ("range(STAGES)", False),
        ("range(16)", False),
        ("range(len(self.layers))", False),
        ("range(num_layers)", False),
        ("range(x.ndim)", False),
        ("range(len(x.shape))", False),
        ("range(-k, k)", False),
        ("range(first, first + 7)", False),
        ("jax.tree_util.tree_leaves(tree)", False),
        ("layers", False),
        ("zip(subs, ts)", False),
        ("range(len(leaves))", False),
        # sizes from helpers, attributes, arange with keywords or arithmetic, consecutive pairs
        ("range(samples.ntheta(n, sampling))", True),
        ("range(sys.act_size())", True),
        ("range(model.NB)", True),
        ("np.arange(start=1, stop=model.NB)", True),
        ("enumerate(jnp.arange(n))", True),
        ("enumerate(jnp.arange(n - 3, -1, -1) - n + 1)", True),
        ("reversed(jnp.flip(jnp.arange(1, n)))", True),
        ("zip(grid[:-1], grid[1:])", True),
        ("range(sys.num_links())", False),
        ("jnp.arange(3)", False),
        ("enumerate(jnp.arange(num_dims))", False),
        ("zip(layer_sizes[:-1], layer_sizes[1:])", False),
        ("zip(grid[:-1], other[1:])", False),
        ("range(spatial_dimension)", False),
        ("range(1, dim)", True),  # a state dimension as often as a spatial one
        ("range(len(devices))", False),
    ],
)
def test_loop_size_tells_sizes_from_structure(loop: str, is_size: bool) -> None:
    context, module = _context(f"def f(n, ts, x, max_steps, num_layers, k, first, tree, layers, subs):\n    for i in {loop}:\n        pass\n")
    function = module.body[-1]
    assert isinstance(function, cst.FunctionDef)
    for_loop = function.body.body[0]
    assert isinstance(for_loop, cst.For)
    memo = FileMemo(context)  # the context finds parents lazily (no engine traversal needed)
    assert (memo.classifier(for_loop).loop_size(for_loop.iter) is not None) == is_size


def test_bound_names_sees_parameters_assignments_and_nested_defs_only() -> None:
    function = cst.parse_module(
        textwrap.dedent(
            """\
            def f(a, *args, b=1, **kw):
                global G
                G = 1
                c = 2
                d, (e, g) = 3, (4, 5)
                for h in range(3):
                    i = h
                def inner(z):
                    w = z
                lam = lambda q: q
                import numpy as np
                return [comp for comp in range(2)]
            """
        )
    ).body[0]
    assert isinstance(function, cst.FunctionDef)
    scope = bound_names(function)
    assert scope.bound == {"a", "args", "b", "kw", "c", "d", "e", "g", "h", "i", "inner", "lam", "np"}
    assert scope.is_parameter("a") and not scope.is_parameter("c")
    assert scope.is_def("inner") and not scope.is_def("lam")
    assert code_of(scope.single_values()["c"]) == "2"
    assert "h" not in scope.single_values()  # a loop target has no single value


def test_bind_arguments_maps_positions_and_keywords() -> None:
    call = cst.parse_expression("diffeqsolve(term, solver, 0.0, t1=1.0, dt0=0.1, y0=y0)")
    assert isinstance(call, cst.Call)
    bound = bind_arguments(call, ("terms", "solver", "t0", "t1", "dt0", "y0", "args"))
    assert bound is not None
    assert {name: code_of(arg.value) for name, arg in bound.items()} == {
        "terms": "term", "solver": "solver", "t0": "0.0", "t1": "1.0", "dt0": "0.1", "y0": "y0"
    }
    starred = cst.parse_expression("diffeqsolve(*args)")
    assert isinstance(starred, cst.Call)
    assert bind_arguments(starred, ("terms",)) is None


@pytest.mark.parametrize(
    "imports, spelled",
    [
        ("import jax.numpy as jnp\n", "jnp"),
        ("from jax import numpy as np\n", "np"),
        ("import jax\n", "jax.numpy"),
        ("import numpy as np\n", None),
    ],
)
def test_namespace_alias(imports: str, spelled: str | None) -> None:
    found = namespace_alias(cst.parse_module(imports), "jax.numpy")
    assert (code_of(found) if found is not None else None) == spelled


@pytest.mark.parametrize(
    "body, emits",
    [
        # Python values only: strings, index lists, HTML, a walk over a Python list
        ("s = ''\nfor i in range(n):\n    s += chr(ord('a') + i)\n", False),
        ("idx = []\nfor i in range(n):\n    idx.append((i, i + 1))\n", False),
        ("html = []\nfor i in range(n):\n    html.append(f'<td>{i}</td>')\n", False),
        ("parents = [-1, 0, 1]\nfor i in range(n):\n    j = i\n    while parents[j] > -1:\n        j = parents[j]\n", False),
        ("for i in range(n):\n    if x.shape[0] > i:\n        break\n", False),
        ("for i in range(n):\n    assert x[i] is not None\n", False),
        # JAX work: a jnp call, arithmetic on an array, indexing an array, a user call, .at[] updates
        ("for i in range(n):\n    x = jnp.sin(x)\n", True),
        ("for i in range(n):\n    x = x + i\n", True),
        ("out = []\nfor i in range(n):\n    out.append(x[i])\n", True),
        ("for i in range(n):\n    step(x)\n", True),
        ("for i in range(n):\n    x = x.at[i].add(1.0)\n", True),
        ("s = x\nfor i in range(n):\n    s += 1\n", True),
    ],
)
def test_python_values_tell_python_only_loops(body: str, emits: bool) -> None:
    from jaxlint.rules._python_values import PythonValues

    indented = textwrap.indent(body, "    ")
    context, module = _context(f"def f(x, n, step):\n{indented}")
    function = module.body[-1]
    assert isinstance(function, cst.FunctionDef)
    loop = next(s for s in function.body.body if isinstance(s, cst.For))
    assert PythonValues(context, function).emits_ops(loop.body) == emits
