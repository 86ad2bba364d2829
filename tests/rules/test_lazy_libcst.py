"""libcst imported with deferred dataclass methods (``jaxlint check``'s start-up) behaves exactly
as libcst imported as usual: two fresh processes, one per import, parse, print, compare, hash,
change and repr the same trees, and the check command finds the same thing either way."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

RULES = Path(__file__).resolve().parents[2] / "rules"

# Syntax the repository's own files rarely use, so its node classes are built too.
SYNTAX = textwrap.dedent(
    """
    from __future__ import annotations
    import a.b as c
    from .x import (y as z, w)
    global_var: int = 1
    async def f(*args, key=1, **kwargs) -> None:
        global global_var
        async with a as (b, c), d:
            async for i in aiter(x):
                await g(i)
        def inner():
            nonlocal args
        x = [i async for i in y if i]
        y = {k: v for k, v in z.items()}
        s = {*a, *b}
        t = (yield)
        u = yield from w
        del x[1:2:3], y
        assert x, "message"
        if (n := len(a)) > 10 and not b or c is not d:
            raise ValueError from err
        try:
            pass
        except* (TypeError, KeyError) as group:
            pass
        else:
            pass
        finally:
            pass
        match command.split():
            case [action, *rest] if rest:
                pass
            case {"x": x, **others}:
                pass
            case Point(x=0) | None:
                pass
            case _:
                pass
        lam = lambda q, /, r=2, *, s: q @ r ** -s
        label = f"{x!r:>{width}} and {y=}" r'raw' "joined" + rb"bytes"
        x += 1; x <<= 2; x //= 3
        while True:
            break
        else:
            continue
    @decorator(arg)
    class K(Base, metaclass=Meta):
        '''doc'''
        attribute: list[int] = []
    print(*a, sep="", **k) if a else ...
    """
)

PROBE = """
import dataclasses, inspect, json, sys
from pathlib import Path
defer = sys.argv[1] == "deferred"
if defer:
    from jaxlint.rules._lazy_libcst import defer_on_import
    armed = defer_on_import()
import libcst as cst

classes = sorted((c for c in vars(cst).values()
                  if isinstance(c, type) and issubclass(c, cst.CSTNode) and dataclasses.is_dataclass(c)),
                 key=lambda c: c.__name__)
stand_ins = sum(c.__init__.__code__.co_filename.endswith("_lazy_libcst.py") for c in classes)
out = {"fields": {c.__name__: [f.name for f in dataclasses.fields(c)] for c in classes}, "files": []}
texts = [Path(p).read_text() for p in sys.argv[2:-1]] + [sys.argv[-1]]
used = set()

class Rename(cst.CSTTransformer):
    def leave_Name(self, original, updated):
        if updated.value in ("True", "False", "None"):
            return updated
        return updated.with_changes(value=updated.value + "_")

for text in texts:
    tree = cst.parse_module(text)
    clone = tree.deep_clone()
    nodes = []
    class Collect(cst.CSTVisitor):
        def on_visit(self, node):
            nodes.append(node)
            return True
    tree.visit(Collect())
    used.update(type(n) for n in nodes)
    try:
        tree.body[0].__setattr__("body", ())
        frozen = "assignable"
    except dataclasses.FrozenInstanceError:
        frozen = "FrozenInstanceError"
    out["files"].append({
        "round_trip": tree.code == text,
        "repr": repr(tree) if text is texts[-1] else None,  # every node's repr; MBs for a long file
        "equal_self": all(n == n for n in nodes),
        "equal_clone": tree == clone,
        "deep_equals_clone": tree.deep_equals(clone),
        "hash_stable": all(hash(n) == hash(n) for n in nodes),
        "hash_clone_equal": hash(tree) == hash(clone),
        "renamed": tree.visit(Rename()).code,
        "frozen": frozen,
    })
out["signatures"] = {c.__name__: str(inspect.signature(c.__init__)) for c in sorted(used, key=lambda c: c.__name__)}
out["stand_ins_left"] = sum(c.__init__.__code__.co_filename.endswith("_lazy_libcst.py") for c in used)
print(json.dumps({"armed": defer and armed, "stand_ins": stand_ins, "out": out}))
"""


def _probe(mode: str) -> dict:
    files = [str(RULES / name) for name in ("_walk.py", "_rule_spec.py", "jl001_stack_of_repeats.py")]
    done = subprocess.run([sys.executable, "-c", PROBE, mode, *files, SYNTAX], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_deferred_import_behaves_as_the_usual_one() -> None:
    usual, deferred = _probe("usual"), _probe("deferred")
    if not deferred["armed"]:
        pytest.skip(f"Python {sys.version_info[:2]}: no dataclasses._create_fn, libcst is imported as usual")
    # The deferral took effect: (almost) every node class started with stand-ins ...
    assert deferred["stand_ins"] > 100 and usual["stand_ins"] == 0
    # ... and the classes a parse used got their real methods, with the usual signatures.
    assert deferred["out"]["stand_ins_left"] == 0
    assert deferred["out"]["fields"] == usual["out"]["fields"]
    assert deferred["out"]["signatures"] == usual["out"]["signatures"]
    assert len(deferred["out"]["signatures"]) > 80
    assert deferred["out"]["files"] == usual["out"]["files"]
    # libcst's nodes compare and hash by identity (deep_equals compares structure), and are frozen.
    assert all(f["round_trip"] and f["deep_equals_clone"] and not f["equal_clone"] and not f["hash_clone_equal"]
               and f["frozen"] == "FrozenInstanceError" for f in usual["out"]["files"])


def test_only_the_check_command_defers_and_only_before_libcst_is_imported() -> None:
    import libcst  # noqa: F401  (as in any process that already uses libcst)

    from jaxlint.rules._lazy_libcst import defer_on_import

    assert defer_on_import() is False  # libcst is imported: nothing to defer
    script = "import sys, jaxlint.rules, jaxlint.testing; print(any('Defer' in type(f).__name__ for f in sys.meta_path))"
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"  # importing jaxlint as a library arms nothing


def test_check_command_finds_the_same_with_deferred_methods(tmp_path: Path) -> None:
    from jaxlint.rules import check_source

    source = textwrap.dedent(
        """
        import jax
        import jax.numpy as jnp


        @jax.jit
        def init(y0, ts):
            return jnp.stack([y0] * len(ts))
        """
    )
    (tmp_path / "model.py").write_text(source)
    done = subprocess.run([sys.executable, "-m", "jaxlint", "check", "--no-cache", "--output-format", "json",
                           "model.py"], cwd=tmp_path, capture_output=True, text=True)
    assert done.returncode == 1, done.stderr
    found = [(f["code"], f["line"], f["column"], f["message"]) for f in json.loads(done.stdout)["findings"]]
    expected = [(f.code, f.line, f.column + 1, f.message) for f in check_source(source, path="model.py")]
    assert found == expected and [code for code, *_ in found] == ["JL001"]
    assert dataclasses.is_dataclass(dataclasses.make_dataclass("Point", ["x"]))  # this process untouched
