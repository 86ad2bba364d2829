"""Fuzzing ``jaxlint check`` and ``--fix``: no crash, no broken output, no bytes changed
outside a fix, no behaviour changed by a safe fix.

Two sources of modules, both deterministic for a given seed:

- **mutants of real JAX snippets that trigger rules**: every rule's own ``INVALID`` examples
  (each fires its rule by construction) and ``examples/*.py``, in every line-ending style
  (LF, CRLF, CR, mixed), mutated by a seeded ``random.Random``: lines deleted, duplicated,
  swapped, re-indented, spliced from another seed, characters inserted (brackets, quotes,
  CRs, form feeds, U+2028, tabs), deep nesting, long ``# noqa`` comments, truncation;
- **hypothesmith** modules (grammar-generated Python), when the package is installed.

Each module goes through the library's ``check_source`` with every rule, and, when it
parses, through ``fix_source`` (safe, then safe + unsafe). Counted as failures:

- ``crash``: any exception out of check or fix (a rule crash, an invalid fix, a RecursionError);
- ``unparseable``: a fix output that does not compile while the input did;
- ``outside``: a line changed by ``--fix`` that no reported fix edit covers (line endings,
  indentation or neighbouring code touched);
- ``deep_jl000``: valid Python (``compile`` accepts it) reported as too deeply nested.

``--real`` also runs ``check --fix --unsafe-fixes`` on a copy of the installed jax, equinox
and diffrax sources through the real file writer, with the same ``unparseable`` / ``outside``
checks per written file.

The semantic check executes every safe fix: ``SEMANTIC_CASES`` are small programs with
inputs; the original and the fixed program run on each input and must return equal arrays
(values, shape, dtype), raise the same exception type, and make the same calls.

Usage::

    python benchmarks/fuzz_check.py --modules 12000 --hypothesmith 1000 --seed 0 --semantics --real --notebooks 500
    python benchmarks/fuzz_check.py --modules 200 --hypothesmith 0 --semantics   # quick

The tests (tests/rules/test_fuzz.py) run the same functions on a small budget.
"""

from __future__ import annotations

import argparse
import difflib
import os
import random
import sys
import textwrap
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

REPO = Path(__file__).resolve().parents[1]
STYLES = ("\n", "\r\n", "\r", "mixed")
_ALPHABET = ["(", ")", "[", "]", "{", "}", ":", ",", ".", "*", "=", "+", "#", "\\", '"', "'", " ", "\t",
             "\n", "\r", "\r\n", "\f", "\u2028", "\x0b", "é", "0", "1", "_", "x", "n", "lambda", "yield",
             "async ", "await ", "@", "->", "**", "if ", "else ", "for ", "in "]
_NAMES = ["n", "len(ts)", "make()", "x.y", "3", "ts.shape[0]", "max_steps", "f(i)", "[y0]", "(1, 2)"]


# --- seeds --------------------------------------------------------------------------------------
def seeds() -> list[str]:
    """Real JAX snippets that fire rules: the rules' INVALID examples and the examples folder."""
    from jaxlint.rules._catalogue import all_rules

    found = [textwrap.dedent(example.code).lstrip("\n") for rule in all_rules() for example in rule.INVALID]
    found += [path.read_text(encoding="utf-8") for path in sorted((REPO / "examples").glob("*.py"))]
    return found


def with_line_endings(source: str, style: str, rng: random.Random) -> str:
    lines = source.split("\n")
    if style != "mixed":
        return style.join(lines)
    out: list[str] = []
    for line in lines[:-1]:
        # "\r" then an empty line ending "\n" would be one CRLF break: keep the line count.
        merges = bool(out) and out[-1].endswith("\r") and not line
        out.append(line + rng.choice(("\r\n", "\r") if merges else ("\n", "\r\n", "\r")))
    return "".join(out) + lines[-1]


def mutate(source: str, rng: random.Random, others: list[str]) -> str:
    """One to four random edits of ``source`` (mostly line-level, so many mutants still parse)."""
    lines = source.split("\n")
    for _ in range(rng.randint(1, 4)):
        kind = rng.randrange(11)
        index = rng.randrange(len(lines)) if lines else 0
        if not lines:
            lines = [""]
        if kind == 0 and len(lines) > 1:
            del lines[index]
        elif kind == 1:
            lines.insert(index, lines[index])
        elif kind == 2 and len(lines) > 1:
            other = rng.randrange(len(lines))
            lines[index], lines[other] = lines[other], lines[index]
        elif kind == 3:
            line = lines[index]
            lines[index] = rng.choice(("\t", "  ", "    ", "")) + line.lstrip() if rng.random() < 0.5 else " " + line
        elif kind == 4:
            donor = rng.choice(others).split("\n")
            start = rng.randrange(len(donor))
            lines[index:index] = donor[start : start + rng.randint(1, 8)]
        elif kind == 5:
            line = lines[index]
            at = rng.randint(0, len(line))
            lines[index] = line[:at] + rng.choice(_ALPHABET) + line[at:]
        elif kind == 6:
            line = lines[index]
            if line.strip():
                at = rng.randrange(len(line))
                lines[index] = line[:at] + line[at + rng.randint(1, 6) :]
        elif kind == 7:  # deep nesting: long chains and sums are valid Python
            depth = rng.choice((30, 120, 200, 500))
            expression = rng.choice((
                "x" + ".f()" * depth, "+".join(["x"] * depth), "(" * min(depth, 150) + "x" + ")" * min(depth, 150),
                "[" * min(depth, 90) + "]" * min(depth, 90),
            ))
            lines.insert(index, f"deep = {expression}")
        elif kind == 8:
            lines[index] += "  # noqa: " + rng.choice(("JL001", "JL002", "jl001,JL005", "")) + " " * rng.choice((0, 1, 3000))
        elif kind == 9:
            line = lines[index]
            for name in ("n", "len(ts)", "x", "y0", "max_steps", "ts"):
                if name in line and rng.random() < 0.5:
                    line = line.replace(name, rng.choice(_NAMES), 1)
            lines[index] = line
        elif kind == 10:
            text = "\n".join(lines)
            lines = text[: rng.randint(0, len(text))].split("\n")
    return "\n".join(lines)


def mutants(count: int, seed: int) -> Iterator[str]:
    """``count`` modules: first every seed in every line-ending style, then mutants."""
    rng = random.Random(seed)
    base = seeds()
    produced = 0
    for source in base:
        for style in STYLES:
            if produced >= count:
                return
            yield with_line_endings(source, style, rng)
            produced += 1
    while produced < count:
        source = mutate(rng.choice(base), rng, base)
        text = with_line_endings(source, rng.choice(STYLES), rng)
        if rng.random() < 0.05:
            text = "\ufeff" + text
        yield text
        produced += 1


# --- checking one module ----------------------------------------------------------------------------
@dataclass
class Tally:
    modules: int = 0
    parsed: int = 0
    with_findings: int = 0
    findings: int = 0
    fixes_applied: int = 0
    crash: list[str] = field(default_factory=list)
    unparseable: list[str] = field(default_factory=list)
    outside: list[str] = field(default_factory=list)
    deep_jl000: list[str] = field(default_factory=list)

    @property
    def failures(self) -> int:
        return len(self.crash) + len(self.unparseable) + len(self.outside) + len(self.deep_jl000)

    def summary(self) -> dict[str, int]:
        return {"modules": self.modules, "parsed": self.parsed, "with_findings": self.with_findings,
                "findings": self.findings, "fixes_applied": self.fixes_applied, "crash": len(self.crash),
                "unparseable": len(self.unparseable), "outside": len(self.outside),
                "deep_jl000": len(self.deep_jl000)}


def _compiles(text: str) -> bool:
    try:
        compile(text, "<fuzz>", "exec", dont_inherit=True, flags=0x400)  # ast only: nothing runs
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        return False
    return True


def lines_changed_outside(original: str, fixed: str, allowed: set[int]) -> list[int]:
    """Original line numbers changed by the fix that no fix edit covers."""
    from jaxlint.rules._files import split_lines

    old = split_lines(original, keepends=True)
    new = split_lines(fixed, keepends=True)
    outside = []
    for tag, i1, i2, _, _ in difflib.SequenceMatcher(None, old, new, autojunk=False).get_opcodes():
        if tag == "equal":
            continue
        touched = range(i1 + 1, i2 + 1) if i2 > i1 else (i1, i1 + 1)
        if i2 > i1:
            outside.extend(line for line in touched if line not in allowed)
        elif not any(line in allowed for line in touched):
            outside.append(i1)
    return outside


def check_module(source: str, tally: Tally, label: str = "") -> None:
    """Check and fix one module; failures are added to ``tally`` with a reproducer label."""
    from jaxlint.rules._engine import check_source, fix_source

    tally.modules += 1
    name = label or f"module {tally.modules}"
    try:
        findings = check_source(source, "fuzz.py")
    except Exception as error:  # noqa: BLE001 - every exception is a crash here
        tally.crash.append(f"{name}: check: {type(error).__name__}: {str(error)[:200]}")
        return
    valid = _compiles(source)
    syntax = [f for f in findings if f.code == "JL000"]
    if syntax:
        if valid and any("nested" in f.message for f in syntax):
            tally.deep_jl000.append(f"{name}: {syntax[0].message}")
        return
    tally.parsed += 1
    tally.findings += len(findings)
    tally.with_findings += bool(findings)
    allowed = {line for f in findings if f.fix is not None for e in f.fix.edits for line in range(e.line, e.end_line + 1)}
    for unsafe in (False, True):
        try:
            fixed, applied = fix_source(source, "fuzz.py", unsafe=unsafe)
        except Exception as error:  # noqa: BLE001
            tally.crash.append(f"{name}: fix(unsafe={unsafe}): {type(error).__name__}: {str(error)[:200]}")
            return
        tally.fixes_applied += applied
        if not applied:
            continue
        if valid and not _compiles(fixed):
            tally.unparseable.append(f"{name}: fix(unsafe={unsafe}) output does not compile")
        bad = lines_changed_outside(source, fixed, allowed)
        if bad:
            tally.outside.append(f"{name}: fix(unsafe={unsafe}) changed lines {bad[:5]} outside the fix edits")


def hypothesmith_modules(count: int) -> Iterator[str]:
    """``count`` grammar-generated modules, drawn deterministically (derandomized, no database)."""
    import hypothesmith
    from hypothesis import HealthCheck, Phase, given, settings

    drawn: list[str] = []

    @settings(max_examples=count, derandomize=True, database=None, deadline=None,
              suppress_health_check=list(HealthCheck), phases=[Phase.generate])
    @given(hypothesmith.from_grammar())
    def collect(source: str) -> None:
        drawn.append(source)

    collect()
    yield from drawn


# --- semantics of safe fixes --------------------------------------------------------------------
# Each case: a program defining `f`, and the inputs (as Python expressions over `jnp` and `np`)
# to call it with. `calls` counts calls of `make` (a safe fix must not repeat a call).
SEMANTIC_CASES: list[tuple[str, list[str]]] = [
    ("""
import jax
import jax.numpy as jnp

@jax.jit
def f(y0, ts):
    return jnp.stack([y0] * len(ts))
""", ["(jnp.arange(3.0), jnp.zeros(4))", "(jnp.float32(2.0), jnp.zeros(1))", "(jnp.ones((2, 2), jnp.int32), jnp.zeros(3))"]),
    ("""
import jax
import jax.numpy as jnp

def f(state, n):
    return jnp.stack([state.y] * n)

g = jax.jit(f, static_argnums=1)
""", ["(type('S', (), {'y': jnp.arange(2.0)})(), 3)", "(type('S', (), {'y': jnp.int8(3)})(), 2)",
      "(type('S', (), {'y': 2})(), 1)"]),
    ("""
import jax
import jax.numpy as jnp

def f(n):
    return jnp.stack([1.5] * n), jnp.stack([True] * n), jnp.stack([-2] * n)

g = jax.jit(f, static_argnums=0)
""", ["(3,)", "(1,)"]),
    ("""
import jax
import jax.numpy as jnp

calls = 0

def make():
    global calls
    calls += 1
    return jnp.arange(3.0) * calls

def f(n):
    return jnp.stack([make()] * n)

g = jax.jit(f, static_argnums=0)
""", ["(2,)", "(1,)"]),
    ("""
import jax
import jax.numpy as jnp
from jax import lax

@jax.jit
def f(x):
    return lax.cond(True, lambda v: v + 1, lambda v: v - 1, x), lax.cond(False, lambda: x * 2, lambda: x - 1)
""", ["(jnp.arange(3.0),)", "(jnp.int32(2),)"]),
    ("""
import jax
from jax import lax

@jax.jit
def f(x):
    return lax.switch(1, (lambda v: v * 2, lambda v: v * 3), x)
""", ["(jax.numpy.float32(4.0),)", "(jax.numpy.arange(4),)"]),
    ("""
import jax
import jax.numpy as jnp

@jax.jit
def f(ys, i, y, accept):
    ok = jnp.all(accept)
    return jnp.where(ok, ys.at[i].set(y), ys)
""", ["(jnp.zeros(4), 1, 5.0, jnp.array([True, True]))", "(jnp.zeros(4), 2, 5.0, jnp.array([True, False]))",
      "(jnp.zeros(4), 9, 5.0, True)", "(jnp.zeros(4), -1, 5.0, True)", "(jnp.zeros((3, 2), jnp.int32), 0, 2.7, True)",
      "(jnp.zeros((3, 2)), 1, jnp.array([1.0, 2.0]), True)"]),
    ("""
import jax
from jax import numpy as np

@jax.jit
def f(ts, t, i, done):
    return np.where(done.any() & (t > 0.0), ts, ts.at[i].set(t))
""", ["(np.zeros(3), 1.5, 0, np.array([False]))", "(np.zeros(3), 1.5, 0, np.array([True]))", "(np.zeros(3), -1.0, 2, np.array([True]))"]),
    # JL001's safe fix: a number literal repeated a positive literal count (others are unsafe).
    ("""
import jax
import jax.numpy as jnp

@jax.jit
def f(x):
    return jnp.stack([1.5] * 20) * x, jnp.stack([-3] * 17) + x
""", ["(jnp.float16(2.0),)", "(2,)", "(jnp.arange(20, dtype=jnp.int8),)"]),
    ("""
import jax.numpy as jnp

def f(x):
    return jnp.stack([True] * 40) & x, jnp.stack(1000 * [2j])
""", ["(True,)", "(jnp.zeros(40, bool),)", "(jnp.arange(3),)"]),
    ("""
import jax.numpy as jnp

def f(scale):
    return jnp.stack([0.0] * 64) + scale
""", ["(1,)", "(jnp.bfloat16(1.5),)", "(jnp.ones((2, 64)),)"]),
    ("""
import jax
import jax.numpy as jnp

def f(x):
    return jax.vmap(lambda row: row * jnp.stack([2] * 32))(x)
""", ["(jnp.ones((3, 32), jnp.int8),)", "(jnp.ones((1, 32)),)", "(jnp.ones((2, 5)),)"]),
]

# Fixes once "safe" that were measured to change behaviour; the rules now mark them unsafe
# (issue 11 item 5). tests/rules/test_fuzz.py checks no safe fix changes these programs and
# the unsafe fix still does (it is offered, with the reason in the message).
KNOWN_SEMANTIC_DIFFERENCES: list[tuple[str, str, list[str]]] = [
    ("JL005: lax.cond/switch convert the operands to arrays; the inlined branch does not "
     "(a Python int in gives a Python int, not an int32 array)", """
from jax import lax

def f(x):
    return lax.cond(True, lambda v: v + 1, lambda v: v - 1, x)
""", ["(2,)"]),
    ("JL001: `jnp.stack([x] * 0)` raises (nothing to stack); the fix returns an empty array", """
import jax
import jax.numpy as jnp

def f(y, n):
    return jnp.stack([y] * n)

g = jax.jit(f, static_argnums=1)
""", ["(jnp.arange(2.0), 0)"]),
    ("JL014: saving at ts=[t0, t1] interpolates the last step; SaveAt(t1=True) stores the final "
     "state: with an adaptive controller the two differ by interpolation error (~1e-7 in float32)", """
import diffrax
import jax.numpy as jnp

def f(y0, t1):
    term = diffrax.ODETerm(lambda t, y, args: -y * t + jnp.sin(y))
    return diffrax.diffeqsolve(term, diffrax.Tsit5(), 0.0, t1, 0.1, y0, saveat=diffrax.SaveAt(ts=jnp.array([0.0, t1])),
                               stepsize_controller=diffrax.PIDController(rtol=1e-3, atol=1e-6)).ys
""", ["(jnp.array([1.0, 2.0]), 1.0)"]),
]


def _run_program(source: str, inputs: list[str]) -> list[Any]:
    import jax.numpy as jnp
    import numpy as np

    namespace: dict[str, Any] = {"__name__": "fuzz_semantics"}
    exec(compile(source, "<semantics>", "exec"), namespace)  # noqa: S102 - our own test programs
    outcomes: list[Any] = []
    for expression in inputs:
        arguments = eval(expression, {"jnp": jnp, "np": np, "jax": __import__("jax")})  # noqa: S307
        try:
            value = namespace["f"](*arguments)
            outcomes.append(("value", np.asarray(value).dtype.str, np.asarray(value).shape, np.asarray(value).tolist()))
        except Exception as error:  # noqa: BLE001
            outcomes.append(("raises", type(error).__name__))
        outcomes.append(("calls", namespace.get("calls")))
    return outcomes


def check_semantics(cases: list[tuple[str, list[str]]] = SEMANTIC_CASES) -> dict[str, Any]:
    """Run each case before and after its safe fixes. Returns counts and the differing cases."""
    from jaxlint.rules._engine import fix_source

    fixed_cases = differing = 0
    problems: list[str] = []
    for number, (program, inputs) in enumerate(cases, 1):
        source = textwrap.dedent(program).lstrip("\n")
        fixed, applied = fix_source(source, "semantics.py")
        if not applied:
            continue  # no safe fix here (it may be unsafe): nothing to compare
        fixed_cases += 1
        before, after = _run_program(source, inputs), _run_program(fixed, inputs)
        if before != after:
            differing += 1
            problems.append(f"case {number}: {before} != {after}\n--- before\n{source}--- after\n{fixed}")
    return {"cases": len(cases), "fixed": fixed_cases, "differing": differing, "problems": problems}


# --- notebooks: --fix edits only the source strings ------------------------------------------------
def _notebook_document(source: str, rng: random.Random) -> bytes:
    """``source`` as a notebook in a random JSON style: cells split at blank lines, list or
    string sources, indent none/1/tab, escaped or raw non-ASCII, LF or CRLF, maybe a BOM,
    malformed metadata, IPython lines, a user line ending in the placeholder comment."""
    import json

    cells: list[dict[str, Any]] = [{"cell_type": "markdown", "metadata": {}, "source": ["Caf\u00e9 \U0001f600"]}]
    for block in source.split("\n\n"):
        lines = block.split("\n")
        if rng.random() < 0.2:
            lines.insert(rng.randint(0, len(lines)), rng.choice(("%matplotlib inline", "!pip list", "x?", "%timeit f()")))
        if rng.random() < 0.1:
            lines.append("z = 1  # jaxlint: IPython syntax")
        text = "\n".join(lines)
        cell_source: Any = text.splitlines(keepends=True) if rng.random() < 0.8 else text
        cells.append({"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [], "source": cell_source})
    metadata = rng.choice(({"language_info": {"name": "python"}}, [], {"language_info": "python"}, {}))
    document = json.dumps({"cells": cells, "metadata": metadata, "nbformat": 4, "nbformat_minor": 5},
                          indent=rng.choice((None, 1, "\t")), ensure_ascii=rng.random() < 0.5)
    if rng.random() < 0.4:
        document = document.replace("\n", "\r\n")
    data = document.encode()
    return b"\xef\xbb\xbf" + data if rng.random() < 0.2 else data


def _without_sources(document: str) -> str:
    """The notebook text with each cell's source value cut out (what --fix may change)."""
    from jaxlint.rules._notebook import source_tokens

    spans = sorted((tokens[0][0], tokens[-1][1]) for tokens in source_tokens(document).values() if tokens)
    for start, end in reversed(spans):
        document = document[:start] + "<source>" + document[end:]
    return document


def _ipython_lines(notebook: Any) -> list[list[str]]:
    """Per code cell, its IPython lines and user lines that end like a placeholder."""
    from jaxlint.rules._files import split_lines
    from jaxlint.rules._notebook import PLACEHOLDER_COMMENT

    return [[line for number, line in enumerate(split_lines(cell.source))
             if number in cell.magics or line.endswith(PLACEHOLDER_COMMENT)] for cell in notebook.cells]


def notebook_fix_check(count: int, seed: int, jobs: int = 1) -> dict[str, Any]:
    """``count`` notebooks built from the seeds (some mutated), fixed with ``--unsafe-fixes``
    through the real writer. Failures: a crash, invalid JSON written, a byte changed outside
    the cells' source values, or fixed cells that no longer parse."""
    import json
    import tempfile

    from jaxlint.rules._engine import check_paths
    from jaxlint.rules._notebook import load_notebook

    rng = random.Random(seed)
    base = seeds()
    problems: list[str] = []
    fixed = 0
    with tempfile.TemporaryDirectory(prefix="jaxlint-nb-") as scratch:
        root = Path(scratch)
        originals: dict[Path, bytes] = {}
        for index in range(count):
            source = rng.choice(base)
            if rng.random() < 0.3:
                source = mutate(source, rng, base)
            path = root / f"nb{index}.ipynb"
            path.write_bytes(_notebook_document(source, rng))
            originals[path] = path.read_bytes()
        try:
            result = check_paths([str(root)], jobs=jobs, use_cache=False, fix=True, unsafe_fixes=True)
        except Exception as error:  # noqa: BLE001
            return {"notebooks": count, "fixed": 0, "problems": [f"crash: {type(error).__name__}: {error}"]}
        problems += [f"error: {e}" for e in result.errors]
        for path, data in originals.items():
            new = path.read_bytes()
            if new == data:
                continue
            fixed += 1
            if new.startswith(b"\xef\xbb\xbf") != data.startswith(b"\xef\xbb\xbf"):
                problems.append(f"{path.name}: BOM changed")
            old_text, new_text = data.decode("utf-8-sig"), new.decode("utf-8-sig")
            try:
                json.loads(new_text)
                notebook = load_notebook(new_text)
            except Exception as error:  # noqa: BLE001
                problems.append(f"{path.name}: written notebook does not load ({error})")
                continue
            if _without_sources(old_text) != _without_sources(new_text):
                problems.append(f"{path.name}: bytes changed outside the cells' sources")
            old_notebook = load_notebook(old_text)
            if not _compiles(notebook.module_source()[0]) and _compiles(old_notebook.module_source()[0]):
                problems.append(f"{path.name}: fixed cells do not parse")
            if _ipython_lines(old_notebook) != _ipython_lines(notebook):
                problems.append(f"{path.name}: an IPython line or a user's placeholder-like line was changed")
    return {"notebooks": count, "fixed": fixed, "fixes_applied": result.fixes_applied, "problems": problems}


# --- --fix on real code, through the real writer -------------------------------------------------
def real_code_fix(packages: tuple[str, ...] = ("jax", "equinox", "diffrax"), jobs: int = 2) -> dict[str, Any]:
    """Copy the installed packages' sources to a scratch folder, ``check --fix
    --unsafe-fixes`` them, and verify every written file: it compiles, and only lines some
    reported fix covers changed (bytes, line endings and encoding everywhere else kept)."""
    import importlib.util
    import shutil
    import tempfile

    from jaxlint.rules._engine import check_paths

    with tempfile.TemporaryDirectory(prefix="jaxlint-fix-") as scratch:
        root = Path(scratch)
        originals: dict[str, bytes] = {}
        for package in packages:
            spec = importlib.util.find_spec(package)
            if spec is None or not spec.submodule_search_locations:
                continue
            source_root = Path(next(iter(spec.submodule_search_locations)))
            for file in sorted(source_root.rglob("*.py")):
                target = root / package / file.relative_to(source_root)
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(file, target)
                originals[target.relative_to(root).as_posix()] = target.read_bytes()
        before = check_paths([str(root)], jobs=jobs, use_cache=False)
        allowed: dict[str, set[int]] = {}
        for finding in before.findings:
            if finding.fix is not None:
                key = Path(os.path.relpath(os.path.abspath(finding.path), root)).as_posix()
                allowed.setdefault(key, set()).update(
                    line for e in finding.fix.edits for line in range(e.line, e.end_line + 1))
        after = check_paths([str(root)], jobs=jobs, use_cache=False, fix=True, unsafe_fixes=True)
        unparseable: list[str] = []
        outside: list[str] = []
        changed = 0
        for name, data in originals.items():
            new = (root / name).read_bytes()
            if new == data:
                continue
            changed += 1
            if not _compiles(new.decode("utf-8-sig")):
                unparseable.append(name)
            bad = lines_changed_outside(data.decode("utf-8-sig"), new.decode("utf-8-sig"), allowed.get(name, set()))
            if bad:
                outside.append(f"{name}: lines {bad[:5]}")
        return {"files": len(originals), "findings": len(before.findings),
                "fixable": sum(1 for f in before.findings if f.fix is not None),
                "fixes_applied": after.fixes_applied, "files_changed": changed,
                "unparseable": unparseable, "outside": outside, "errors": after.errors, "warnings": after.warnings}


# --- the command ---------------------------------------------------------------------------------
def run(modules: int, hypothesmith_count: int, seed: int, progress: Callable[[str], None] | None = None) -> Tally:
    tally = Tally()
    started = time.perf_counter()
    for index, source in enumerate(mutants(modules, seed), 1):
        check_module(source, tally, f"mutant seed={seed} #{index}")
        if progress and index % 500 == 0:
            progress(f"{index} mutants, {tally.failures} failures, {time.perf_counter() - started:.0f} s")
    if hypothesmith_count:
        for index, source in enumerate(hypothesmith_modules(hypothesmith_count), 1):
            check_module(source, tally, f"hypothesmith #{index}")
    return tally


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--modules", type=int, default=12_000, help="mutated modules (default 12000)")
    parser.add_argument("--hypothesmith", type=int, default=1_000, help="hypothesmith modules (default 1000)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--semantics", action="store_true", help="also execute each safe fix before/after")
    parser.add_argument("--real", action="store_true", help="also --fix a copy of jax, equinox and diffrax")
    parser.add_argument("--notebooks", type=int, default=0, help="also --fix this many generated notebooks")
    args = parser.parse_args()
    started = time.perf_counter()
    tally = run(args.modules, args.hypothesmith, args.seed, progress=lambda m: print(m, file=sys.stderr, flush=True))
    elapsed = time.perf_counter() - started
    print(f"modules checked: {tally.modules} ({args.modules} mutants, seed {args.seed}; "
          f"{tally.modules - args.modules} hypothesmith) in {elapsed:.0f} s")
    for key, value in tally.summary().items():
        print(f"  {key}: {value}")
    for kind in ("crash", "unparseable", "outside", "deep_jl000"):
        for line in getattr(tally, kind)[:10]:
            print(f"  {kind}: {line}")
    if args.semantics:
        result = check_semantics()
        print(f"safe-fix semantics: {result['cases']} programs, {result['fixed']} fixed by safe fixes, "
              f"{result['differing']} behave differently")
        for problem in result["problems"]:
            print(problem)
    failed = tally.failures
    if args.notebooks:
        notebooks = notebook_fix_check(args.notebooks, args.seed, jobs=2)
        print(f"notebooks: {notebooks['notebooks']} generated, {notebooks['fixed']} fixed in place "
              f"({notebooks['fixes_applied']} fixes), problems {len(notebooks['problems'])}")
        for line in notebooks["problems"][:10]:
            print(f"  {line}")
        failed += len(notebooks["problems"])
    if args.real:
        real = real_code_fix()
        print(f"--fix --unsafe-fixes on a copy of jax, equinox, diffrax: {real['files']} files, "
              f"{real['findings']} findings ({real['fixable']} with a fix), {real['fixes_applied']} fixes applied "
              f"in {real['files_changed']} files; unparseable {len(real['unparseable'])}, "
              f"changed outside fixes {len(real['outside'])}, errors {len(real['errors'])}, warnings {len(real['warnings'])}")
        for line in real["unparseable"] + real["outside"] + real["errors"] + real["warnings"]:
            print(f"  {line}")
        failed += len(real["unparseable"]) + len(real["outside"]) + len(real["errors"])
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
