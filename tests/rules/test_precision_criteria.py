"""The general criteria behind JL002's and JL009's precision on real code (issue 9): each case is
one criterion stated in the rule's docs, with its near miss (the rule must still fire there).

JL002's Python-only / eager-path tests run :mod:`jaxlint.rules._python_values` on one loop of a
small function; JL009's driver and test-class criteria run the rule on whole modules.
"""

from __future__ import annotations

import textwrap

import libcst as cst
import pytest

from jaxlint.rules import check_source
from jaxlint.rules._context import FileFacts, RuleContext
from jaxlint.rules._python_values import PythonValues, host_only

HEADER = "import jax\nimport jax.numpy as jnp\nimport numpy as np\nimport math\n"


def _loop(body: str) -> tuple[PythonValues, cst.CSTNode]:
    """PythonValues of ``def f(x, n, step, table, argnums)`` with ``body``, and its first loop."""
    source = HEADER + "def f(x, n, step, table, argnums):\n" + textwrap.indent(textwrap.dedent(body), "    ")
    module = cst.parse_module(source)
    context = RuleContext("m.py", source, module, FileFacts.for_single_file(source, "m.py"))
    function = module.body[-1]
    assert isinstance(function, cst.FunctionDef)
    loop = next(s for s in function.body.body if isinstance(s, (cst.For, cst.While)))
    return PythonValues(context, function), loop


@pytest.mark.parametrize(
    "body, emits",
    [
        # a name passed to range() is a concrete int; so is one unpacked from a shape
        ("out = [1]\nfor i in range(1, n):\n    out.append(out[-1] * n)\n", False),
        ("rows, dim = x.shape\nacc = [1]\nfor i in range(rows):\n    acc.append(acc[-1] * dim)\n", False),
        # ...but not when the name is rebound (the range() argument may be another value)
        ("m = n\nm = step(x)\nacc = []\nfor i in range(n):\n    acc.append(i + m)\nfor j in range(m):\n    pass\n", True),
        # membership tests are Python bools (`in` calls bool() on each comparison)
        ("flags = []\nfor i in range(n):\n    flags.append(i in argnums)\n", False),
        # dict keys are hashable, so never traced; dict values are unknown
        ("idx = []\nfor term, w in table.items():\n    idx.append([term[i][0] for i in range(len(term))])\n", False),
        ("idx = []\nfor term, w in table.items():\n    idx.append(w[0] * 2)\n", True),
        # NumPy / math results and their methods are host values
        ("bits = tuple(np.ceil(np.log2(argnums)).astype(int))\nout = []\nfor b in bits:\n    out.append(b + math.ceil(b / 2))\n", False),
        # near misses: jnp is JAX work, and arithmetic on an unknown value may be
        ("bits = jnp.ceil(x)\nout = []\nfor b in range(n):\n    out.append(bits[b] + 1)\n", True),
        ("out = []\nfor i in range(n):\n    out.append(i + x)\n", True),
    ],
)
def test_python_values_criteria(body: str, emits: bool) -> None:
    values, loop = _loop(body)
    assert values.emits_ops(loop.body) == emits  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "body, eager",
    [
        # exits on a value computed from the loop's state: bool() of a tracer raises
        ("val = x\nfor _ in range(n):\n    cond = step(val)\n    if not cond:\n        break\n    val = step(val)\n", True),
        ("val = x\nfor _ in range(n):\n    if not step(val):\n        break\n    val = step(val)\n", True),
        # hands a computed value to NumPy
        ("acc = 0\nfor _ in range(n):\n    y = step(x)\n    acc = acc + np.copy(y)\n", True),
        # near misses: identity / isinstance tests and shape metadata work on a tracer
        ("for _ in range(n):\n    x, err = step(x)\n    if err is None or isinstance(x, tuple):\n        break\n", False),
        ("for _ in range(n):\n    x = step(x)\n    if np.shape(x)[0] > 3:\n        break\n", False),
        ("for i in range(n):\n    x = step(x)\n    if i > 3:\n        break\n", False),
        # a test of a Python value computed from Python values only
        ("for i in range(n):\n    k = step(i)\n    x = x + k\n", False),
    ],
)
def test_host_only_loops(body: str, eager: bool) -> None:
    values, loop = _loop(body)
    assert host_only(values, loop.body) == eager  # type: ignore[attr-defined]


def _jl009(source: str) -> list[int]:
    return [f.line for f in check_source(textwrap.dedent(source), "m.py") if f.code == "JL009"]


def test_jl009_driver_loop_on_the_same_path_only() -> None:
    source = """
    import jax

    def train(env, key, num_evals):
        reset_fn = jax.jit(jax.vmap(env.reset))
        state = reset_fn(key)
        for it in range(num_evals):
            state = env.epoch(state)
        return state

    def sample(body, init, num_steps, progbar):
        if progbar:
            for i in range(num_steps):
                init = body(init)
            return init
        else:
            def loop_fn(x):
                return jax.lax.fori_loop(0, num_steps, lambda i, v: body(v), x)
            return jax.jit(loop_fn)(init)

    def small(env, key, fields):
        reset_fn = jax.jit(jax.vmap(env.reset))
        for field in fields:
            key = key + 1
        return reset_fn(key)
    """
    # `train` drives a loop over a size; `sample`'s loop runs in the other branch; `small`'s
    # loop is over a handful of fields (not a size): both still compile per call.
    assert _jl009(source) == [19, 22]


def test_jl009_test_case_methods_run_once() -> None:
    source = """
    import jax
    import unittest

    class ModelTest(unittest.TestCase):
        def _check_jittable(self, model, x):
            return jax.jit(lambda v: model(v))(x)

    class Model:
        def predict(self, model, x):
            return jax.jit(lambda v: model(v))(x)
    """
    assert _jl009(source) == [11]


def _codes(source: str, code: str) -> list[int]:
    return [f.line for f in check_source(textwrap.dedent(source), "m.py") if f.code == code]


def test_jl002_while_equality_and_fallback_after_primitive_return() -> None:
    source = """
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
        return carry

    @jax.jit
    def plain(carry, num_iters, step):
        if num_iters == 0:
            return carry
        for start in range(num_iters):
            carry = step(carry)
        while carry.shape[0] == 1:
            carry = carry.squeeze(0)
        while carry.shape[0] < num_iters:
            carry = jax.numpy.concatenate([carry, carry[:1]])
        return carry
    """
    # an early return that is not a loop-primitive path does not make the later loop a
    # fallback; a `<` bound counts, an `==` test does not
    assert _codes(source, "JL002") == [19, 23]


def test_jl016_conditions_with_opposite_outcomes_are_exclusive() -> None:
    source = """
    import jax

    @jax.jit
    def chunks(vmapped_fun, a, b, n):
        n_rest = b.shape[0]
        if n_rest > 0:
            y = vmapped_fun(b)
        if n > 1:
            return y
        elif n_rest > 0:
            return y
        return vmapped_fun(a)

    @jax.jit
    def rebound(vmapped_fun, a, b, n_rest):
        if n_rest > 0:
            y = vmapped_fun(b)
        n_rest = n_rest - 1
        if n_rest > 0:
            return y
        return vmapped_fun(a)
    """
    # `chunks`: the last call runs only when `n_rest > 0` was false; `rebound` changes n_rest
    assert _codes(source, "JL016") == [22]
