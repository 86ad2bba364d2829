"""Fuzzing check and --fix (issue 11), bounded to about a minute and deterministic.

The machinery is ``benchmarks/fuzz_check.py`` (its long run, >= 10,000 modules, is recorded
in benchmarks/RESULTS.md); here it runs on a small fixed-seed budget: mutants of real JAX
snippets that fire rules, in every line-ending style, and derandomized hypothesmith modules.
Every safe fix is executed before and after on small inputs.
"""

from __future__ import annotations

import importlib.util
import random
import sys
import textwrap
from pathlib import Path

import pytest

from jaxlint.rules import check_paths
from jaxlint.rules._engine import check_source, fix_source

REPO = Path(__file__).resolve().parents[2]
_SPEC = importlib.util.spec_from_file_location("jaxlint_fuzz_check", REPO / "benchmarks" / "fuzz_check.py")
assert _SPEC is not None and _SPEC.loader is not None
fuzz = importlib.util.module_from_spec(_SPEC)
sys.modules[_SPEC.name] = fuzz  # dataclasses look their module up by name
_SPEC.loader.exec_module(fuzz)


def _report(tally) -> str:
    return "\n".join([str(tally.summary()), *tally.crash[:5], *tally.unparseable[:5], *tally.outside[:5],
                      *tally.deep_jl000[:5]])


def test_line_ending_style_never_changes_findings() -> None:
    rng = random.Random(0)
    seeds = fuzz.seeds()
    assert len(seeds) >= 40
    firing = 0
    for source in seeds:
        expected = [(f.code, f.line, f.column, f.end_line, f.end_column) for f in check_source(source, "seed.py")]
        firing += any(code != "JL000" for code, *_ in expected)
        for style in fuzz.STYLES[1:]:
            styled = fuzz.with_line_endings(source, style, rng)
            found = [(f.code, f.line, f.column, f.end_line, f.end_column) for f in check_source(styled, "seed.py")]
            assert found == expected, (style, source)
    assert firing >= len(seeds) - 5  # the seeds are snippets that do trigger rules


def test_mutation_fuzz_has_no_failures() -> None:
    tally = fuzz.run(modules=400, hypothesmith_count=0, seed=0)
    assert tally.failures == 0, _report(tally)
    # The budget did exercise the fixer, not only the parser's error path.
    assert tally.parsed >= 200 and tally.with_findings >= 150 and tally.fixes_applied >= 60, tally.summary()


def test_hypothesmith_modules_have_no_failures() -> None:
    pytest.importorskip("hypothesmith")
    tally = fuzz.Tally()
    for index, source in enumerate(fuzz.hypothesmith_modules(40)):
        fuzz.check_module(source, tally, f"hypothesmith #{index}")
    assert tally.modules == 40
    assert tally.failures == 0, _report(tally)


def test_safe_fixes_keep_behaviour() -> None:
    result = fuzz.check_semantics()
    assert result["differing"] == 0, "\n\n".join(result["problems"])
    assert result["fixed"] >= 5  # most cases do get a safe fix to compare


@pytest.mark.parametrize("why, program, inputs", fuzz.KNOWN_SEMANTIC_DIFFERENCES,
                         ids=[why.split(":")[0] for why, _, _ in fuzz.KNOWN_SEMANTIC_DIFFERENCES])
def test_known_safe_fix_differences(why: str, program: str, inputs: list[str]) -> None:
    """Behaviour changes once measured for safe fixes: those fixes are now unsafe (the rule
    could not prove them equal). No safe fix may change these programs, and the unsafe fix
    is still offered (it does change them: the reason it is unsafe)."""
    if "diffrax" in program:
        pytest.importorskip("diffrax")
    result = fuzz.check_semantics([(program, inputs)])
    assert result["differing"] == 0, "\n\n".join(result["problems"])
    source = textwrap.dedent(program).lstrip("\n")
    fixed, applied = fix_source(source, "semantics.py", unsafe=True)
    assert applied >= 1 and fixed != source, why
    assert fuzz._run_program(source, inputs) != fuzz._run_program(fixed, inputs), why


def test_fix_on_disk_keeps_every_byte_outside_the_fixes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Through the real writer: every line-ending style, a BOM, a declared latin-1 encoding."""
    from jaxlint.rules._files import split_lines

    monkeypatch.chdir(tmp_path)
    rng = random.Random(1)
    originals: dict[Path, bytes] = {}
    seeds = fuzz.seeds()
    for index, source in enumerate(seeds[:24]):
        style = fuzz.STYLES[index % len(fuzz.STYLES)]
        text = fuzz.with_line_endings(source, style, rng)
        if index % 5 == 1:
            data = b"\xef\xbb\xbf" + text.encode()
        elif index % 5 == 2:
            data = f"# -*- coding: latin-1 -*-{style if style != 'mixed' else chr(10)}# caf\xe9{chr(10)}".encode("latin-1") + text.encode("latin-1")
        else:
            data = text.encode()
        path = tmp_path / f"m{index}.py"
        path.write_bytes(data)
        originals[path] = data
    before = check_paths([str(tmp_path)], jobs=1, use_cache=False)
    allowed: dict[str, set[int]] = {}
    for finding in before.findings:
        if finding.fix is not None:
            allowed.setdefault(finding.path, set()).update(
                line for edit in finding.fix.edits for line in range(edit.line, edit.end_line + 1))
    after = check_paths([str(tmp_path)], jobs=1, use_cache=False, fix=True, unsafe_fixes=True)
    assert after.errors == [] and after.warnings == []
    assert len(after.fixed_files) >= 8
    for path, data in originals.items():
        new = path.read_bytes()
        encoding = "latin-1" if b"coding: latin-1" in data else "utf-8-sig"
        assert new.startswith(b"\xef\xbb\xbf") == data.startswith(b"\xef\xbb\xbf")
        old_text, new_text = data.decode(encoding), new.decode(encoding)
        assert fuzz.lines_changed_outside(old_text, new_text, allowed.get(path.name, set())) == [], path.name
        if new != data:
            compile(new, path.name, "exec", dont_inherit=True, flags=0x400)
            assert {line[len(line.rstrip("\r\n")):] for line in split_lines(new_text, keepends=True)} <= \
                {line[len(line.rstrip("\r\n")):] for line in split_lines(old_text, keepends=True)}


def test_notebook_fixes_change_only_cell_sources() -> None:
    result = fuzz.notebook_fix_check(40, seed=0)
    assert result["problems"] == []
    assert result["fixed"] >= 5  # the generated notebooks did get fixes written


def test_outside_check_sees_line_endings_and_neighbours() -> None:
    """The fuzz oracle itself: a changed line ending or a touched neighbour is reported."""
    assert fuzz.lines_changed_outside("a\r\nb\r\nc\r\n", "a\r\nB\r\nc\r\n", {2}) == []
    assert fuzz.lines_changed_outside("a\r\nb\r\nc\r\n", "a\r\nB\r\nc\n", {2}) == [3]
    assert fuzz.lines_changed_outside("a\nb\nc\n", "a\nB\nx\nc\n", {2}) == []  # a line added by the fix
    assert fuzz.lines_changed_outside("a\nb\nc\nd\n", "a\nb\nC\nD\n", {3}) == [4]
