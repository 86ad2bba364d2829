"""benchmarks/real_code.py: the triage and real-bug files parse and hold what the issue asks for,
and the scoring (precision per rule, recall, after-fix cleanliness) is right on small inputs.

Offline: one test lints a tiny local fixture with the real CLI; the one that needs upstream
sources runs only when they are already cached (it is skipped with a reason otherwise).
"""

from __future__ import annotations

import ast
import importlib.util
import json
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def _load_harness():
    spec = importlib.util.spec_from_file_location("real_code", REPO / "benchmarks" / "real_code.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["real_code"] = module  # dataclasses resolve annotations through sys.modules
    spec.loader.exec_module(module)
    return module


rc = _load_harness()


# --- the committed data files ---------------------------------------------------------------


def test_triage_file_covers_ten_libraries_outside_tests() -> None:
    triage = rc.load_triage()
    assert len(triage) >= 40
    projects = {key[0] for key in triage}
    assert len(projects) >= 10
    assert projects <= {p.name for p in rc.PROJECTS}
    assert not [key for key in triage if rc.is_test_path(key[1])]
    assert {v.verdict for v in triage.values()} <= set(rc.VERDICTS)
    # Every FP and acceptable names its kind, so the report can group them.
    assert all(v.kind for v in triage.values() if v.verdict != "TP")


def test_real_bugs_file_has_fifteen_cases_with_before_and_after() -> None:
    cases = rc.load_bugs()
    assert len(cases) >= 15
    assert len({c.id for c in cases}) == len(cases)
    assert len({c.repo for c in cases}) >= 6
    assert sum(c.methods for c in cases) >= 3
    for case in cases:
        assert case.before != case.after
        assert case.expect, case.id
        assert case.url.startswith("https://github.com/")


def test_projects_are_pinned_and_at_least_ten() -> None:
    assert len(rc.PROJECTS) >= 10
    assert all("==" in p.spec for p in rc.PROJECTS)
    assert len({p.name for p in rc.PROJECTS}) == len(rc.PROJECTS)


# --- parsing errors name the file and the entry -----------------------------------------------


def test_triage_errors_name_the_entry(tmp_path: Path) -> None:
    bad = tmp_path / "triage.toml"
    bad.write_text('[[finding]]\nproject = "p"\npath = "a.py"\nrule = "JL001"\nline = "x"\nverdict = "maybe"\nwhy = "w"\n')
    with pytest.raises(ValueError, match=r"triage.toml: finding #1: verdict 'maybe'"):
        rc.load_triage(bad)
    entry = '[[finding]]\nproject = "p"\npath = "a.py"\nrule = "JL001"\nline = "x"\nverdict = "TP"\nwhy = "w"\n'
    bad.write_text(entry + "\n" + entry)
    with pytest.raises(ValueError, match=r"finding #2: duplicate key"):
        rc.load_triage(bad)
    bad.write_text('[[finding]]\nproject = "p"\npath = "a.py"\nrule = "JL001"\nverdict = "TP"\nwhy = "w"\n')
    with pytest.raises(ValueError, match=r"finding #1: missing or empty 'line'"):
        rc.load_triage(bad)


CASE = """
[[case]]
id = "c1"
repo = "o/r"
url = "https://github.com/o/r/pull/1"
description = "d"
before = "{before}"
after = "pypi:pkg==1.1"
root = "pkg"
file = "pkg/m.py"
culprit = {culprit}
pattern = "p"
expect = ["JL002"]
"""


def test_bug_errors_name_the_case(tmp_path: Path) -> None:
    bad = tmp_path / "real_bugs.toml"
    bad.write_text(CASE.format(before="main", culprit='["for i in range(n):"]'))
    with pytest.raises(ValueError, match=r"real_bugs.toml: case #1 \(c1\): revision 'main'"):
        rc.load_bugs(bad)
    bad.write_text(CASE.format(before="abc1234", culprit="[]"))
    with pytest.raises(ValueError, match=r"case #1 \(c1\): 'culprit' must be a non-empty list"):
        rc.load_bugs(bad)
    bad.write_text(CASE.format(before="abc1234", culprit='["for i in range(n):"]'))
    (case,) = rc.load_bugs(bad)
    assert case.before == rc.Revision("git", "abc1234")
    assert case.after == rc.Revision("pypi", "pkg==1.1")


# --- matching and scoring ----------------------------------------------------------------------

SOURCE = """\
def numpy_version(xs):
    for i, m in enumerate(xs):
        pass

def jax_version(xs):
    for i, m in enumerate(  xs ):
        pass
"""


def test_culprit_lines_match_by_content_and_anchor() -> None:
    assert rc.matching_lines(SOURCE, ("for i, m in enumerate(xs):",)) == {2, 6}  # whitespace-insensitive
    assert rc.matching_lines(SOURCE, ("def jax_version( >>> for i, m in enumerate(xs):",)) == {6}
    assert rc.matching_lines(SOURCE, ("def missing( >>> for i",)) == set()
    # The anchor's block ends at the next def at its indentation: no match in a later function.
    assert rc.matching_lines(SOURCE, ("def numpy_version( >>> pass",)) == {3}
    assert rc.matching_lines(SOURCE + "\ndef third():\n    return 1\n", ("def jax_version( >>> return 1",)) == set()


def _finding(code: str, line: int, end_line: int | None = None, path: str = "pkg/m.py") -> dict:
    return {"path": path, "code": code, "line": line, "end_line": end_line or line}


def _case(**changes):
    base = dict(
        id="c", repo="o/r", url="u", description="d", before=rc.Revision("git", "a" * 7),
        after=rc.Revision("git", "b" * 7), root="pkg", tests="", file="pkg/m.py",
        culprit=("def jax_version( >>> for i, m in enumerate(xs):",), fixed=("lax.scan(",),
        pattern="p", methods=False, expect=("JL002",),
    )
    base.update(changes)
    return rc.BugCase(**base)


def test_score_case_recall_expect_and_cleanliness() -> None:
    after = "def jax_version(xs):\n    return lax.scan(f, 0, xs)\n"
    # Caught by the expected rule; the fix is clean.
    result = rc.score_case(_case(), SOURCE, [_finding("JL002", 6)], after, [])
    assert result.caught and result.after_clean and result.before_rules == ("JL002",)
    # A finding on the NumPy twin (line 2) or in another file is not the culprit.
    result = rc.score_case(_case(), SOURCE, [_finding("JL002", 2), _finding("JL002", 6, path="pkg/other.py")], after, [])
    assert not result.caught
    # Another rule on the culprit line does not count, but is reported.
    result = rc.score_case(_case(), SOURCE, [_finding("JL016", 5, 7)], after, [])
    assert not result.caught and result.before_rules == ("JL016",)
    # Without `expect`, any rule counts.
    assert rc.score_case(_case(expect=()), SOURCE, [_finding("JL016", 6)], after, []).caught
    # A finding on the replacement line makes the fixed revision unclean.
    result = rc.score_case(_case(), SOURCE, [_finding("JL002", 6)], after, [_finding("JL003", 2)])
    assert not result.after_clean and result.after_rules == ("JL003",)
    # A culprit that is not in the before file is reported as such, not as a miss.
    assert rc.score_case(_case(culprit=("nowhere",)), SOURCE, [], None, []).missing_culprit


def test_score_precision_per_rule_untriaged_and_stale() -> None:
    verdict = rc.Verdict
    triage = {
        ("p", "a.py", "JL001", "x = 1"): verdict("TP", "why", ""),
        ("p", "a.py", "JL002", "for i in y:"): verdict("FP", "why", "python-only-loop"),
        ("p", "b.py", "JL002", "for j in z:"): verdict("acceptable", "why", "static-small"),
        ("q", "c.py", "JL009", "jit(f)"): verdict("FP", "why", "runs-once"),  # another project: never stale here
    }
    keys = [
        ("p", "a.py", "JL001", "x = 1"),
        ("p", "a.py", "JL001", "x = 1"),  # the same finding twice counts once
        ("p", "a.py", "JL002", "for i in y:"),
        ("p", "d.py", "JL001", "new"),
    ]
    precision = rc.score_precision(keys, triage, {"p"})
    assert precision.row("JL001") == (1, 0, 0, 1)
    assert precision.row("JL002") == (0, 0, 1, 1)
    assert precision.row() == (1, 0, 1, 2)
    assert precision.untriaged == [("p", "d.py", "JL001", "new")]
    assert precision.stale == [("p", "b.py", "JL002", "for j in z:")]


def test_force_traced_decorates_the_innermost_function() -> None:
    source = '"""doc."""\nfrom __future__ import annotations\n\nclass A:\n    @staticmethod\n    def f(n):\n        for i in range(n):\n            pass\n'
    forced = rc.force_traced(source, {7})
    tree = ast.parse(forced)  # still valid Python
    assert isinstance(tree.body[1], ast.ImportFrom) and tree.body[1].module == "__future__"
    assert "import jax as _jaxlint_bench_jax" in forced.splitlines()[2]
    method = tree.body[3].body[0]
    assert [ast.unparse(d) for d in method.decorator_list] == ["_jaxlint_bench_jax.jit", "staticmethod"]
    assert rc.force_traced("x = 1\n", {1}) is None


def test_is_test_path() -> None:
    assert rc.is_test_path("optax/_src/alias_test.py")
    assert rc.is_test_path("pkg/tests/helpers.py")
    assert rc.is_test_path("netket/conftest.py")
    assert not rc.is_test_path("brax/training/agents/ppo/train.py")
    assert not rc.is_test_path("pkg/contest.py")


# --- end to end on a local fixture (the real CLI; no network) ----------------------------------

FIXTURE = """\
import jax
import jax.numpy as jnp


@jax.jit
def init(y0, ts):
    return jnp.stack([y0] * len(ts))
"""


def test_run_check_and_score_on_a_local_fixture(tmp_path: Path) -> None:
    before = tmp_path / "before" / "pkg"
    after = tmp_path / "after" / "pkg"
    before.mkdir(parents=True)
    after.mkdir(parents=True)
    (before / "m.py").write_text(FIXTURE)
    (after / "m.py").write_text(FIXTURE.replace("jnp.stack([y0] * len(ts))", "jnp.broadcast_to(y0, (len(ts), *jnp.shape(y0)))"))
    case = _case(culprit=("jnp.stack([y0] * len(ts))",), fixed=("jnp.broadcast_to(",), expect=("JL001",))
    run_before = rc.run_check(tmp_path / "before", ["pkg"])
    run_after = rc.run_check(tmp_path / "after", ["pkg"])
    assert run_before.files == 1 and run_after.files == 1
    result = rc.score_case(case, (before / "m.py").read_text(), run_before.findings, (after / "m.py").read_text(), run_after.findings)
    assert result.caught and result.before_rules == ("JL001",)
    assert result.after_clean


def test_project_report_on_a_local_release(tmp_path: Path) -> None:
    """The per-project table, precision per rule and the kinds table, on a local 'release'."""
    release = tmp_path / "demo-1.0"
    (release / "demo").mkdir(parents=True)
    (release / "demo" / "m.py").write_text(FIXTURE + "\n\n@jax.jit\ndef consts(n):\n    return jnp.array([0.5] * n)\n")
    (release / "demo" / "m_test.py").write_text(FIXTURE)  # a test file: counted, never triaged
    triage = tmp_path / "triage.toml"
    triage.write_text(
        '[[finding]]\nproject = "demo"\npath = "demo/m.py"\nrule = "JL001"\n'
        'line = "return jnp.stack([y0] * len(ts))"\nverdict = "TP"\nwhy = "one operand per save point"\n'
        '\n[[finding]]\nproject = "demo"\npath = "demo/gone.py"\nrule = "JL002"\n'
        'line = "for i in range(n):"\nverdict = "FP"\nkind = "python-only-loop"\nwhy = "w"\n'
    )
    dump = tmp_path / "untriaged.jsonl"
    project = rc.Project("demo", "demo==1.0", ("demo",))
    table, summary = rc.project_report(dump, projects=(project,), triage_path=triage, tree_of=lambda spec: release)
    assert "| demo==1.0 | 2 |" in table  # two files linted
    assert summary["tp"] == 1 and summary["fp"] == 0 and summary["triaged"] == 1
    assert "Findings in test files (not triaged): 1." in table
    assert "`demo/gone.py` JL002 (FP)" in table  # a triaged finding no longer reported
    untriaged = [json.loads(line) for line in dump.read_text().splitlines()]
    # Python scalars are one constant (not a finding) at some revisions; whatever is left is untriaged.
    assert all(entry["key"][1] == "demo/m.py" and entry["key"] != ["demo", "demo/m.py", "JL001", "return jnp.stack([y0] * len(ts))"] for entry in untriaged)
    assert summary["untriaged"] == len(untriaged)


def test_cached_upstream_case_diffrax_606(monkeypatch: pytest.MonkeyPatch) -> None:
    """The #606 culprit, linted from upstream sources when they are cached or mirrored
    ($JAXLINT_BENCH_GIT_MIRRORS); tests never download."""
    monkeypatch.setattr(rc, "OFFLINE", True)
    (case,) = [c for c in rc.load_bugs() if c.id == "diffrax-606"]
    result = rc.run_case(case, rc.default_mirrors())
    if result.status != "ok":
        pytest.skip(f"diffrax sources not cached: {result.status}")
    assert result.caught and result.after_clean
