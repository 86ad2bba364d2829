"""JL001's fix runs: the code before and after the rewrite gives the same array on small inputs,
and the fix is offered as safe only when it cannot change how often the element is evaluated."""

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


SAFE_CASES = [
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


@pytest.mark.parametrize("code, name, args", SAFE_CASES, ids=["name", "scalar", "attribute"])
def test_safe_fix_gives_the_same_array(code: str, name: str, args) -> None:
    fixed, applied = _fixed(code, unsafe=False)
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
