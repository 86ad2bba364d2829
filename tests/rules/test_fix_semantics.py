"""Safe fixes keep behaviour; fixes that cannot be proven to are unsafe (issue 11 item 5).

Each program defines ``f``; it runs before and after the fix on small inputs. An outcome is
the result's type, dtype, shape, weak type and values, or the exception type raised.
Safe fixes (``fix_source`` without ``unsafe``) must give equal outcomes on every input. For a
fix the rule marks unsafe, the inputs are ones where the rewrite measurably differs: no safe
fix may be applied, and the unsafe one (still offered) must change an outcome.
"""

from __future__ import annotations

import textwrap
from typing import Any

import numpy as np
import pytest

from jaxlint.rules._engine import fix_source


def _outcome(value: Any) -> Any:
    if isinstance(value, tuple):
        return tuple(_outcome(v) for v in value)
    array = np.asarray(value)
    return (type(value).__name__, array.dtype.str, array.shape, getattr(value, "weak_type", None), array.tolist())


def _run(source: str, inputs: list[str]) -> list[Any]:
    import jax
    import jax.numpy as jnp

    namespace: dict[str, Any] = {"__name__": "fix_semantics"}
    exec(compile(source, "<fix-semantics>", "exec"), namespace)  # noqa: S102 - the test's own programs
    outcomes: list[Any] = []
    for expression in inputs:
        arguments = eval(expression, {"jnp": jnp, "np": np, "jax": jax})  # noqa: S307
        try:
            outcomes.append(_outcome(namespace["f"](*arguments)))
        except Exception as error:  # noqa: BLE001 - the exception type is part of the behaviour
            outcomes.append(("raises", type(error).__name__))
        outcomes.append(("calls", namespace.get("calls")))
    return outcomes


def _program(text: str) -> str:
    return textwrap.dedent(text).lstrip("\n")


# --- JL001: only a number literal repeated a positive literal count is safe ---------------------
JL001_SAFE = [
    ("""
     import jax
     import jax.numpy as jnp

     @jax.jit
     def f(x):
         return jnp.stack([1.5] * 20) * x, jnp.stack(17 * [-3]) + x
     """, ["(jnp.float16(2.0),)", "(2,)", "(jnp.arange(20, dtype=jnp.int8),)", "(jnp.ones(3),)"]),
    ("""
     import jax.numpy as jnp

     def f(x):
         return jnp.stack([True] * 40) & x, jnp.stack([2j] * 1000), jnp.stack([+0.0] * 64) + x
     """, ["(True,)", "(jnp.zeros(40, bool),)", "(jnp.bfloat16(1.0),)", "(jnp.arange(3),)"]),
]

JL001_UNSAFE = [
    # n == 0: stack raises, the fix returns an empty array; n < 0: ValueError vs TypeError.
    ("""
     import jax
     import jax.numpy as jnp

     def f(y, n):
         return jnp.stack([y] * n)
     """, ["(jnp.arange(2.0), 0)", "(jnp.int8(3), -1)", "(2.5, 0)"]),
    # A literal count, but the element is a name: a ragged nest raises another error.
    ("""
     import jax.numpy as jnp

     def f(y):
         return jnp.stack([y] * 1000)
     """, ["([[1], [1, 2]],)"]),
    # A call element runs twice in the rewrite.
    ("""
     import jax.numpy as jnp

     calls = 0

     def make():
         global calls
         calls += 1
         return jnp.arange(3.0)

     def f():
         return jnp.stack([make()] * 1000)
     """, ["()"]),
]


@pytest.mark.parametrize("program, inputs", JL001_SAFE)
def test_jl001_safe_fix_keeps_behaviour(program: str, inputs: list[str]) -> None:
    source = _program(program)
    fixed, applied = fix_source(source, "m.py", select=["JL001"])
    assert applied >= 1 and "broadcast_to" in fixed and "stack" not in fixed.replace("import", "")
    assert _run(fixed, inputs) == _run(source, inputs)


@pytest.mark.parametrize("program, inputs", JL001_UNSAFE)
def test_jl001_unprovable_fix_is_unsafe(program: str, inputs: list[str]) -> None:
    _assert_unsafe_and_different(_program(program), inputs, "JL001")


# --- JL005: the other branches' types are never known: always unsafe ----------------------------
JL005_UNSAFE = [
    # A Python int operand: lax.cond returns an int32 array, the branch alone a Python int.
    ("""
     from jax import lax

     def f(x):
         return lax.cond(True, lambda v: v + 1, lambda v: v - 1, x)
     """, ["(2,)"]),
    # The untaken branch returns another dtype: lax.cond raises, the branch alone does not.
    ("""
     import jax.numpy as jnp
     from jax import lax

     def f(x):
         return lax.cond(False, lambda: x - 1.5, lambda: x + 1)
     """, ["(jnp.arange(3),)"]),
    ("""
     import jax.numpy as jnp
     from jax import lax

     def f(x):
         return lax.switch(0, (lambda v: v, lambda v: v @ jnp.ones((5, 5))), x)
     """, ["(jnp.arange(3.0),)"]),
]


@pytest.mark.parametrize("program, inputs", JL005_UNSAFE)
def test_jl005_fix_is_unsafe(program: str, inputs: list[str]) -> None:
    _assert_unsafe_and_different(_program(program), inputs, "JL005")


def test_jl005_unsafe_fix_still_equal_where_types_agree() -> None:
    """The rewrite itself is kept: with array operands and matching branches it computes the same."""
    source = _program("""
        import jax
        import jax.numpy as jnp
        from jax import lax

        @jax.jit
        def f(x):
            return lax.cond(True, lambda v: v + 1, lambda v: v - 1, x), lax.switch(1, (jnp.sin, jnp.cos), x)
        """)
    fixed, applied = fix_source(source, "m.py", select=["JL005"], unsafe=True)
    assert applied == 2 and "lax." not in fixed.split("def f", 1)[1]
    inputs = ["(jnp.arange(3.0),)", "(jnp.float32(2.0),)"]
    assert _run(fixed, inputs) == _run(source, inputs)


# --- JL014: the value at t1 is interpolated with ts, stored with t1=True: always unsafe ---------
def test_jl014_fix_is_unsafe_even_with_constant_steps() -> None:
    pytest.importorskip("diffrax")
    source = _program("""
        import diffrax
        import jax.numpy as jnp

        def f(y0, t1):
            term = diffrax.ODETerm(lambda t, y, args: -y * t + jnp.sin(y))
            return diffrax.diffeqsolve(term, diffrax.Heun(), 0.0, t1, 0.07, y0,
                                       saveat=diffrax.SaveAt(ts=jnp.array([0.0, t1]))).ys
        """)
    _assert_unsafe_and_different(source, ["(jnp.array([1.0, -2.0, 0.5]), 1.3)"], "JL014")



# --- JL011: safe for a scalar predicate and an index that can be written twice -----------------
def test_jl011_safe_fix_keeps_behaviour() -> None:
    source = _program("""
        import jax
        import jax.numpy as jnp

        @jax.jit
        def f(ys, i, y, accept):
            return jnp.where(jnp.all(accept), ys.at[i].set(y), ys), jnp.where(accept.any(), ys, ys.at[-1].set(y))
        """)
    fixed, applied = fix_source(source, "m.py", select=["JL011"])
    assert applied == 2 and "jnp.where(jnp.all(accept), y, ys[i])" in fixed
    inputs = ["(jnp.zeros(4), 1, 5.0, jnp.array([True, True]))", "(jnp.zeros(4), 9, 5.0, jnp.array([True, False]))",
              "(jnp.zeros((3, 2), jnp.int32), 0, 2.7, jnp.array([False]))", "(jnp.zeros(3, jnp.float16), -2, 1e5, jnp.ones(1, bool))"]
    assert _run(fixed, inputs) == _run(source, inputs)


def test_jl011_call_index_is_unsafe() -> None:
    source = _program("""
        import jax.numpy as jnp

        calls = 0

        def slot():
            global calls
            calls += 1
            return 1

        def f(ys, y):
            return jnp.where(jnp.all(y > 0), ys.at[slot()].set(y), ys)
        """)
    _assert_unsafe_and_different(source, ["(jnp.zeros(4), 2.0)"], "JL011")


def _assert_unsafe_and_different(source: str, inputs: list[str], code: str) -> None:
    safe, applied = fix_source(source, "m.py", select=[code])
    assert applied == 0 and safe == source, "a fix that cannot be proven to keep behaviour was applied as safe"
    fixed, applied = fix_source(source, "m.py", select=[code], unsafe=True)
    assert applied >= 1 and fixed != source, "the unsafe fix is still offered"
    assert _run(fixed, inputs) != _run(source, inputs)
