"""Traced context and name resolution: the call graph, RuleContext, and the REQUIRES pre-filter."""

from __future__ import annotations

import textwrap

import libcst as cst
import pytest

from jaxlint.rules._callgraph import requirement_met, summarize_module, traced_features, traced_functions
from jaxlint.rules._context import FileFacts, RuleContext
from jaxlint.rules._walk import iter_nodes


def traced(source: str, module: str = "model") -> dict[str, str]:
    summary = summarize_module(textwrap.dedent(source), module)
    return traced_functions({f"{module}.py": summary})[f"{module}.py"]


def test_jit_forms_and_reachability() -> None:
    found = traced(
        """
        import functools
        import jax
        import equinox as eqx
        from jax import jit as jjit

        def helper(x):
            return x

        def untouched(x):
            return x

        @jax.jit
        def a(x):
            return helper(x)

        @functools.partial(jax.jit, static_argnums=0)
        def b(n, x):
            return x

        @eqx.filter_jit
        def c(x):
            return x

        @eqx.filter_jit(donate="all")
        def d(x):
            return x

        @jjit
        def e(x):
            return x

        def f(x):
            return x

        g = jax.jit(f)
        """
    )
    assert found == {
        "a": "`a` is jitted at model.py:13",
        "helper": "reached from `a` (jitted at model.py:13)",
        "b": "`b` is jitted at model.py:17",
        "c": "`c` is jitted at model.py:21",
        "d": "`d` is jitted at model.py:25",
        "e": "`e` is jitted at model.py:29",
        "f": "`f` is jitted at model.py:36",
    }


def test_loop_and_transform_bodies() -> None:
    found = traced(
        """
        import jax
        from jax import lax
        import diffrax

        def run(xs, n):
            def body(carry, x):
                return carry, x
            def cond_fun(state):
                return state < n
            def step(state):
                return state + 1
            def fori_body(i, c):
                return c
            def yes(x):
                return x
            def no(x):
                return x
            def first(x):
                return x
            lax.scan(body, 0, xs)
            lax.while_loop(cond_fun, step, 0)
            lax.fori_loop(0, n, fori_body, 0)
            lax.cond(n > 0, yes, no, 1)
            lax.switch(n, [first], 1)
            return lax.map(lambda x: helper(x), xs)

        def helper(x):
            return x

        def vector_field(t, y, args):
            return -y

        class Field:
            def __call__(self, t, y, args):
                return y

        term = diffrax.ODETerm(vector_field)
        other = diffrax.ODETerm(Field())
        grads = jax.vmap(jax.grad(helper))
        """
    )
    assert found["run.<locals>.body"] == "`body` is the body of lax.scan at model.py:21"
    assert found["run.<locals>.cond_fun"] == "`cond_fun` is a function of lax.while_loop at model.py:22"
    assert found["run.<locals>.step"] == "`step` is a function of lax.while_loop at model.py:22"
    assert found["run.<locals>.fori_body"] == "`fori_body` is the body of lax.fori_loop at model.py:23"
    assert found["run.<locals>.yes"] == found["run.<locals>.no"].replace("no", "yes") == "`yes` is a branch of lax.cond at model.py:24"
    assert found["run.<locals>.first"] == "`first` is a branch of lax.switch at model.py:25"
    assert found["helper"] == "called from a lambda that is the body of lax.map at model.py:26"
    assert found["vector_field"] == "`vector_field` is the vector field of ODETerm at model.py:38"
    assert found["Field.__call__"] == "`__call__` is the vector field of ODETerm at model.py:39"
    assert "run" not in found


def test_cross_module_resolution_and_reexports() -> None:
    sources = {
        "pkg/__init__.py": ("pkg", True, "from pkg._impl import solve as solve\n"),
        "pkg/_impl.py": ("pkg._impl", False, "from .helpers import step as s\n\ndef solve(y):\n    return s(y)\n"),
        "pkg/helpers.py": ("pkg.helpers", False, "def step(y):\n    return inner(y)\n\ndef inner(y):\n    return y\n"),
        "app.py": ("app", False, "import jax\nimport pkg\n\nrun = jax.jit(pkg.solve)\n"),
    }
    summaries = {path: summarize_module(text, module, package) for path, (module, package, text) in sources.items()}
    found = traced_functions(summaries)
    assert found["pkg/_impl.py"] == {"solve": "`solve` is jitted at app.py:4"}
    assert found["pkg/helpers.py"] == {
        "step": "reached from `solve` (jitted at app.py:4)",
        "inner": "reached from `solve` (jitted at app.py:4)",
    }
    assert found["app.py"] == {}


def test_methods_via_self_and_constructors() -> None:
    found = traced(
        """
        import equinox as eqx

        class Model(eqx.Module):
            def __init__(self):
                pass

            @eqx.filter_jit
            def solve(self, y):
                return self.step(y) + Other().value

            def step(self, y):
                return y

            def unused(self):
                return 0

        class Other:
            def __init__(self):
                self.value = 1
        """
    )
    assert set(found) == {"Model.solve", "Model.step", "Other.__init__"}


def _context_for(source: str) -> tuple[RuleContext, list[cst.CSTNode]]:
    source = textwrap.dedent(source)
    module = cst.parse_module(source)
    context = RuleContext("model.py", source, module, FileFacts.for_single_file(source, "model.py"))
    return context, iter_nodes(module)


def test_qualified_names() -> None:
    context, nodes = _context_for(
        """
        import jax
        import jax.numpy as jnp
        import numpy as np
        import equinox as eqx
        from jax import lax
        from jax.lax import scan as loop
        from diffrax import SaveAt as S
        len = 3
        jax.numpy.stack, jnp.stack, np.stack, lax.scan, loop, eqx.filter_jit, S, len, range, local.attr
        """
    )
    expression = next(n for n in nodes if isinstance(n, cst.Tuple))
    names = [context.qualified_name(element.value) for element in expression.elements]
    assert names == [
        "jax.numpy.stack", "jax.numpy.stack", "numpy.stack", "jax.lax.scan", "jax.lax.scan",
        "equinox.filter_jit", "diffrax.SaveAt", "len", "builtins.range", "local.attr",
    ]


def test_traced_reason_for_nodes() -> None:
    context, nodes = _context_for(
        """
        import jax
        from jax import lax

        @jax.jit
        def solve(x, n=len([1])):
            return helper(x)

        def helper(x):
            return x + 1

        def plain(xs):
            carry = lax.scan(lambda c, x: (c + 7, x), 0, xs)
            return carry + 8
        """
    )
    integers = {n.value: n for n in nodes if isinstance(n, cst.Integer)}
    names = [n for n in nodes if isinstance(n, cst.Name)]
    x_in_solve = next(n for n in names if n.value == "helper" and isinstance(context.parent(n), cst.Call))
    assert context.traced_reason(x_in_solve) == "`solve` is jitted at model.py:5"
    default, in_helper = [n for n in nodes if isinstance(n, cst.Integer) and n.value == "1"]
    assert context.traced_reason(in_helper) == "reached from `solve` (jitted at model.py:5)"
    assert context.traced_reason(default) is None  # `n=len([1])`: defaults run outside the trace
    assert context.traced_reason(integers["7"]) == "the lambda is the body of lax.scan at model.py:13"
    assert context.traced_reason(integers["8"]) is None
    function = context.enclosing_function(integers["7"])
    assert function is not None and context.function_qualname(function) == "plain"
    assert context.position(integers["7"]) == (13, 39, 13, 40)


def test_requirements_on_summaries() -> None:
    source = textwrap.dedent(
        """
        import jax
        import jax.numpy as jnp
        from jax import lax

        def plain(xs):
            for x in xs:
                pass
            return lax.scan(f, 0, xs, unroll=8)

        @jax.jit
        def traced(x):
            return x.at[0].set(1) if x else jnp.stack([x])
        """
    )
    summary = summarize_module(source, "model")
    found = traced_functions({"model.py": summary})["model.py"]
    in_traced = traced_features(summary, found, summary.transform_lambdas)
    assert in_traced == {"at-update"}
    checks = {
        "jax.lax.scan": True, "jax.lax": True, "jax.numpy.stack": True, "jax.numpy.where": False,
        "keyword:unroll": True, "keyword:static_argnums": False, "for": True, "traced:for": False,
        "traced:at-update": True, "while": False,
    }
    assert {item: requirement_met(item, summary, None if not item.startswith("traced:") else in_traced)
            for item in checks} == checks
    # TRACED_ONLY rules see syntax features of traced code only.
    assert requirement_met("for", summary, in_traced) is False
    assert requirement_met("at-update", summary, in_traced) is True


@pytest.mark.parametrize("bad", ["def f(:\n", "x = 'unterminated\n", "\0"])
def test_summaries_raise_on_bad_source(bad: str) -> None:
    with pytest.raises((SyntaxError, ValueError)):
        summarize_module(bad, "m")
