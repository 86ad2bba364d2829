"""The CI gate: --save-baseline writes figures per case per n; --baseline fails on growth."""

import json
import os

import pytest
from click.testing import CliRunner

from jaxlint.analyzer.baseline import SCHEMA, parse_tolerance
from jaxlint.cli import main

HERE = os.path.dirname(__file__)
STACKED = f"{os.path.join(HERE, 'growth_programs.py')}::stacked_buffer"
SCAN = f"{os.path.join(HERE, 'growth_programs.py')}::scan_euler"


def run(*args):
    result = CliRunner().invoke(main, ["scale", *args, "--in-process"], catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def baseline(tmp_path):
    """A baseline of scan_euler at n = 16, 64 (ops_inlined 23 at both)."""
    path = tmp_path / "baseline.json"
    code, _, err = run(SCAN, "--n", "16,64", "--save-baseline", str(path))
    assert code == 0 and f"wrote baseline {path} (cpu)" in err
    return path


def test_saved_baseline_holds_figures_per_case_per_n(baseline):
    document = json.loads(baseline.read_text())
    assert document["schema"] == SCHEMA and document["platform"] == "cpu"
    assert document["jaxlint_version"] and document["jax_version"]
    case = document["cases"]["growth_programs.py::scan_euler"]
    assert case["n"] == [16, 64]
    assert case["figures"]["ops_inlined"] == [23, 23]
    assert case["figures"]["longest_run"] == [1, 1]


def test_same_program_passes_the_gate(baseline):
    code, out, _ = run(SCAN, "--n", "16,64", "--baseline", str(baseline))
    assert code == 0
    assert f"OK    baseline {baseline} (tolerance 0.0%, 12 figures compared)" in out


def edit(path, figure, values):
    document = json.loads(path.read_text())
    document["cases"]["growth_programs.py::scan_euler"]["figures"][figure] = values
    path.write_text(json.dumps(document))


def test_growth_past_the_tolerance_fails_with_old_and_new(baseline):
    edit(baseline, "ops_inlined", [20, 22])
    code, out, _ = run(SCAN, "--n", "16,64", "--baseline", str(baseline), "--tolerance", "5%")
    assert code == 1
    assert "FAIL  baseline" in out and "(tolerance 5.0%, 12 figures compared): 1 grew" in out
    assert "growth_programs.py::scan_euler: ops_inlined at n=16: 20 → 23 (+15.0%)" in out
    assert "at n=64" not in out  # 22 -> 23 is +4.5%: within the tolerance


def test_tolerance_lets_small_growth_through(baseline):
    edit(baseline, "ops_inlined", [22, 22])  # 23 is +4.5%
    assert run(SCAN, "--n", "16,64", "--baseline", str(baseline), "--tolerance", "5%")[0] == 0
    code, out, _ = run(SCAN, "--n", "16,64", "--baseline", str(baseline), "--tolerance", "4")
    assert code == 1 and "ops_inlined at n=64: 22 → 23 (+4.5%)" in out


def test_gate_output_in_json_and_github(baseline):
    edit(baseline, "loops", [0, 0])
    code, out, _ = run(SCAN, "--n", "16,64", "--baseline", str(baseline), "--format", "json")
    assert code == 1
    gate = json.loads(out)["baseline"]
    assert gate["ok"] is False and gate["compared"] == 12
    assert {(r["figure"], r["n"], r["old"], r["new"]) for r in gate["regressions"]} == {("loops", 16, 0.0, 1.0), ("loops", 64, 0.0, 1.0)}
    code, out, _ = run(SCAN, "--n", "16,64", "--baseline", str(baseline), "--format", "github")
    assert code == 1
    assert "::error title=jaxlint baseline" in out and "loops at n=16: 0 → 1 (new) (tolerance 0.0%25)" in out  # % escaped


@pytest.mark.parametrize(
    "content, message",
    [
        (None, "no such baseline file"),
        ("{not json", "not valid JSON (line 1, column 2"),
        ('{"schema": "other/1"}', "not a jaxlint baseline (schema 'other/1', expected 'jaxlint.baseline/1')"),
        ('{"schema": "jaxlint.baseline/1", "cases": {}}', "malformed baseline: no platform recorded"),
        ('{"schema": "jaxlint.baseline/1", "platform": "cpu", "cases": {"c": {"n": [16], "figures": {"ops": [1, 2]}}}}',
         "case 'c' figure 'ops' needs one value per n"),
        ('{"schema": "jaxlint.baseline/1", "platform": "cuda", "cases": {}}', "recorded for platform cuda, but this run lowers for cpu"),
        ('{"schema": "jaxlint.baseline/1", "platform": "cpu", "cases": {"other.py::x": {"n": [16], "figures": {}}}}',
         "shares no case and size n with this run"),
    ],
)
def test_unusable_baseline_exits_2_naming_the_file(tmp_path, content, message):
    path = tmp_path / "base.json"
    if content is not None:
        path.write_text(content)
    code, out, err = run(SCAN, "--n", "16,64", "--baseline", str(path))
    assert code == 2
    assert f"error: {path}: " in err and message in err


def test_bad_tolerance_is_a_usage_error():
    code, _, err = run(SCAN, "--n", "16,64", "--baseline", "x.json", "--tolerance", "five")
    assert code == 2 and "'five' is not a percentage" in err


def test_parse_tolerance():
    assert parse_tolerance("5%") == pytest.approx(0.05)
    assert parse_tolerance("0.5") == pytest.approx(0.005)
    assert parse_tolerance("0") == 0


def test_a_growing_case_is_not_saved_when_another_failed(tmp_path):
    path = tmp_path / "b.json"
    code, _, err = run(os.path.join(HERE, "mixed_cases.py"), "--n", "16,64", "--save-baseline", str(path))
    assert code == 2 and "not written: mixed_cases.py::raises_at_64" in err
    assert not path.exists()
