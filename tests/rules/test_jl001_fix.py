"""JL001's fix runs: the code before and after the rewrite gives the same array on small inputs,
and the fix is offered as safe only when it provably cannot change the result (never when it
would evaluate a call twice)."""

from __future__ import annotations

import textwrap

import numpy as np
import pytest

from jaxlint.rules import fix_source
from jaxlint.rules._catalogue import rule_by_code

JL001 = rule_by_code("JL001")


def _run(code: str, name: str, *args):
    namespace: dict = {}
    exec(compile(code, "example.py", "exec"), namespace)  # noqa: S102 - our own snippets
    return namespace[name](*args), namespace


def _fixed(code: str, unsafe: bool) -> tuple[str, int]:
    return fix_source(code, "example.py", rules=[JL001], unsafe=unsafe)


# Safe (1105502): only a number literal repeated a positive literal count is provably equal.
SAFE = "import jax.numpy as jnp\n\ndef f():\n    return jnp.stack([0.5] * 20)\n"

# Unsafe: equal for n >= 1 and an array element, which the source cannot prove (n may be 0, a
# name may hold a list); the rewrite still gives the same array on such inputs.
UNSAFE_CASES = [
    # (source, function, args)
    ("import jax.numpy as jnp\n\ndef f(y0, ts):\n    return jnp.stack([y0] * len(ts))\n", "f", (np.arange(3.0), np.zeros(5))),
    ("import jax.numpy as jnp\n\ndef f(y0, n):\n    return jnp.stack(n * [y0])\n", "f", (np.float32(2.5), 4)),
    (
        "import jax.numpy as jnp\n\nclass Holder:\n    x = jnp.ones((2, 2))\n\n"
        "def f(h, out_size):\n    return jnp.stack([h.x] * out_size)\n",
        "f",
        None,  # needs the Holder instance from the namespace
    ),
]


def test_safe_fix_gives_the_same_array() -> None:
    fixed, applied = _fixed(SAFE, unsafe=False)
    assert applied == 1 and "broadcast_to" in fixed and "stack" not in fixed
    before, _ = _run(SAFE, "f")
    after, _ = _run(fixed, "f")
    assert before.shape == after.shape == (20,) and before.dtype == after.dtype
    assert before.weak_type == after.weak_type
    np.testing.assert_array_equal(np.asarray(before), np.asarray(after))


@pytest.mark.parametrize("code, name, args", UNSAFE_CASES, ids=["name", "scalar", "attribute"])
def test_unsafe_fix_gives_the_same_array_for_arrays(code: str, name: str, args) -> None:
    assert _fixed(code, unsafe=False) == (code, 0)  # not offered as safe
    fixed, applied = _fixed(code, unsafe=True)
    assert applied == 1 and "broadcast_to" in fixed and "stack" not in fixed
    if args is None:
        _, namespace = _run(code, "Holder")
        args = (namespace["Holder"](), 3)
    before, _ = _run(code, name, *args)
    after, _ = _run(fixed, name, *args)
    assert before.shape == after.shape and before.dtype == after.dtype
    np.testing.assert_array_equal(np.asarray(before), np.asarray(after))


CALL_ELEMENT = textwrap.dedent(
    """
    import jax.numpy as jnp

    CALLS = []

    def make():
        CALLS.append(1)
        return jnp.arange(3.0)

    def f(n):
        return jnp.stack([make()] * n)
    """
)


def test_call_element_is_not_rewritten_by_the_safe_fix() -> None:
    fixed, applied = _fixed(CALL_ELEMENT, unsafe=False)
    assert applied == 0 and fixed == CALL_ELEMENT
    before, namespace = _run(CALL_ELEMENT, "f", 4)
    assert len(namespace["CALLS"]) == 1


def test_call_element_unsafe_fix_same_values_but_calls_twice() -> None:
    """Why the fix is unsafe: the rewrite names the element twice, so `make` runs twice."""
    fixed, applied = _fixed(CALL_ELEMENT, unsafe=True)
    assert applied == 1 and fixed.count("make()") == CALL_ELEMENT.count("make()") + 1
    before, _ = _run(CALL_ELEMENT, "f", 4)
    after, namespace = _run(fixed, "f", 4)
    np.testing.assert_array_equal(np.asarray(before), np.asarray(after))
    assert len(namespace["CALLS"]) == 2
