"""Valid Python with very deep expressions is summarised, not reported as JL000: the
summariser walks the tree with an explicit stack (issue 11: a 166-call method chain and a
495-term sum were "too deeply nested")."""

from __future__ import annotations

from pathlib import Path

import pytest

from jaxlint.rules._callgraph import summarize_module, traced_functions
from jaxlint.rules._engine import check_paths

CHAIN = "import jax\n\n\n@jax.jit\ndef f(x):\n    return x" + "".join(f".m{i}()" for i in range(166)) + "\n"
TERMS = "import jax\n\n\n@jax.jit\ndef f(a):\n    return " + " + ".join(f"g(a[{i}])" for i in range(495)) + "\n\n\ndef g(v):\n    return v\n"
# deep on every axis the summariser walks: nested calls, subscripts and attribute chains
NESTED = "def f(x):\n    return " + "h(" * 60 + "x" + ")" * 60 + " + y" + "[0]" * 150 + "\n"


@pytest.mark.parametrize("source", [CHAIN, TERMS, NESTED], ids=["method-chain", "sum", "nested"])
def test_deep_expressions_are_summarised(source: str) -> None:
    summary = summarize_module(source, "deep")
    assert "f" in summary.functions
    if source is TERMS:  # every term's call is seen: g is reached from the jitted f
        assert set(traced_functions({"deep.py": summary})["deep.py"]) == {"f", "g"}


@pytest.mark.parametrize("source", [CHAIN, TERMS], ids=["method-chain", "sum"])
def test_deep_expressions_are_not_jl000(tmp_path: Path, source: str) -> None:
    (tmp_path / "deep.py").write_text(source)
    result = check_paths([tmp_path / "deep.py"], use_cache=False, jobs=1)
    assert [f.code for f in result.findings if f.code == "JL000"] == []
    assert result.errors == []
