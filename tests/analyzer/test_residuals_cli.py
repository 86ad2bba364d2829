"""`jaxlint residuals` end to end: formats, exit codes, the adjoint table, and every bad input named."""

import json
import os
import re

import pytest
from click.testing import CliRunner

from jaxlint.cli import main

HERE = os.path.dirname(__file__)
CASES = os.path.join(HERE, "residual_cases.py")
MIXED = os.path.join(HERE, "mixed_cases.py")
SCRIPT = os.path.join(HERE, "residual_script.py")


pytestmark = pytest.mark.usefixtures("double_precision")


@pytest.fixture(scope="module")
def vector_field_line():
    with open(CASES) as handle:
        number = next(i for i, text in enumerate(handle, 1) if "# LINE: vector_field" in text)
    return f"residual_cases.py:{number}"


def run(*args):
    result = CliRunner().invoke(main, ["residuals", *args], catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def test_scan_within_the_default_bar_exits_0(vector_field_line):
    code, out, _ = run(f"{CASES}::scan_steps", "--n", "100,500")
    assert code == 0
    assert "OK    residual_cases.py::scan_steps" in out
    assert re.search(r"residual_bytes\s+│\s+3,200\s+│\s+16,000\s+│ linear: \+32 bytes per n", out)
    assert re.search(rf"float64\[500\]\s+×2\s+8,000 B\s+integer_pow\s+\S*{vector_field_line}", out)


def test_max_order_constant_flags_memory_linear_in_steps(vector_field_line):
    code, out, _ = run(f"{CASES}::scan_steps", "--n", "100,500", "--max-order", "constant")
    assert code == 1
    assert "FAIL  residual_cases.py::scan_steps" in out
    assert "flag residual_bytes grows linear: +32 bytes per n (allowed: constant)" in out
    assert re.search(rf"{vector_field_line}  3,200 → 16,000  \(\+12,800 B float64\)", out)


def test_json_runs_every_marked_case():
    code, out, _ = run(CASES, "--n", "100,500", "--format", "json")
    assert code == 0
    report = json.loads(out)
    assert report["schema"] == "jaxlint.residuals/1" and report["max_order"] == "linear"
    by_name = {case["name"]: case for case in report["cases"]}
    assert set(by_name) == {"residual_cases.py::scan_steps", "residual_cases.py::checkpoint_scan_steps"}
    scan = by_name["residual_cases.py::scan_steps"]
    assert scan["verdict"] == "ok" and scan["n"] == [100, 500] and scan["adjoints"] is None
    assert scan["figures"] == {"residual_bytes": [3200, 16000], "residuals": [4, 4]}
    assert scan["fits"]["residual_bytes"]["order"] == "linear" and scan["fits"]["residual_bytes"]["per_n"] == 32
    assert sorted((r["kind"], r["count"], r["nbytes"]) for r in scan["largest"]) == [
        ("cos", 1, 4000), ("integer_pow", 2, 4000), ("sin", 1, 4000)
    ]
    assert list(scan["lines"].values()) == [[3200, 16000]]
    assert by_name["residual_cases.py::checkpoint_scan_steps"]["figures"]["residual_bytes"] == [2400, 12000]


def test_markdown_and_compile():
    code, out, _ = run(f"{CASES}::checkpoint_scan_steps", "--n", "16,32", "--format", "markdown", "--compile", "--max-order", "constant")
    assert code == 1
    assert out.startswith("### FAIL `residual_cases.py::checkpoint_scan_steps`")
    assert "| residual_bytes | 384 | 768 | linear: +24 bytes per n | **FLAG** |" in out
    assert "| compiled_temp_bytes |" in out
    assert "- `float64[32]` ×3: 768 B, scan, `" in out


def test_adjoints_agree_and_the_cheapest_is_named():
    code, out, _ = run(f"{CASES}::decay_steps", "--n", "16,32", "--adjoints", "--checkpoints", "4", "--format", "json")
    assert code == 0, out
    (case,) = json.loads(out)["cases"]
    comparison = case["adjoints"]
    assert comparison["library"] == "jaxlint.solver" and comparison["gradient_n"] == 32
    assert comparison["reference"] == "RecursiveCheckpointAdjoint()"
    results = {r["label"]: r for r in comparison["results"]}
    assert list(results) == [
        "RecursiveCheckpointAdjoint()",
        "RecursiveCheckpointAdjoint(checkpoints=4)",
        "BacksolveAdjoint()",
        "DirectAdjoint()",
    ]
    for label, result in results.items():
        assert result["error"] is None, (label, result["error"])
        assert result["agrees"] is True, (label, result["gradient_difference"])
    # exact adjoints agree to sqrt(eps); Backsolve approximates the rate's gradient (O(dt) error)
    assert results["RecursiveCheckpointAdjoint(checkpoints=4)"]["gradient_difference"] <= 1.5e-8
    assert 0 < results["BacksolveAdjoint()"]["gradient_difference"] <= 1e-2
    assert results["RecursiveCheckpointAdjoint(checkpoints=4)"]["fits"]["residual_bytes"]["order"] == "constant"
    assert results["BacksolveAdjoint()"]["fits"]["residual_bytes"]["order"] == "constant"
    assert results["RecursiveCheckpointAdjoint()"]["fits"]["residual_bytes"]["order"] != "constant"  # follows max_steps
    # Ranked by what the user pays: the compiled gradient's peak memory at the largest n
    # (compiled there only: earlier sizes have residual figures alone).
    assert comparison["ranked_by"] == "compiled_peak_bytes"
    for result in results.values():
        peaks = result["figures"]["compiled_peak_bytes"]
        assert peaks[0] is None and peaks[-1] >= result["figures"]["residual_bytes"][-1]
    cheapest = min(
        (r for r in results.values() if r["agrees"]),
        key=lambda r: (r["figures"]["compiled_peak_bytes"][-1], r["figures"]["residual_bytes"][-1], r["grad_seconds"]),
    )
    assert comparison["cheapest"] == cheapest["label"]
    assert comparison["summary"][0].startswith(f"cheapest: {cheapest['label']}: ")
    assert "trade-off: " in comparison["summary"][0]


def test_plain_script_call_sites_are_measured_at_n_save_points():
    with open(SCRIPT) as handle:
        line = next(i for i, text in enumerate(handle, 1) if "# LINE: call" in text)
    code, out, err = run(SCRIPT, "--n", "10,100", "--adjoints", "--checkpoints", "8", "--rank-by", "residuals", "--format", "json")
    assert code == 0, out
    assert "[0.60577044 1.21154087]" in err  # the script ran; its prints kept off stdout
    (case,) = json.loads(out)["cases"]
    assert case["name"] == f"residual_script.py:{line}" and case["n"] == [10, 100]
    first, last = case["figures"]["residual_bytes"]
    assert last > first  # the saved outputs (n × 2 float64) are among the residuals
    assert case["fits"]["residuals"]["order"] == "constant"
    comparison = case["adjoints"]
    assert comparison["library"] == "jaxlint.solver"
    assert [r["label"] for r in comparison["results"]] == [
        "RecursiveCheckpointAdjoint()", "RecursiveCheckpointAdjoint(checkpoints=8)", "BacksolveAdjoint()", "DirectAdjoint()"
    ]
    assert all(r["error"] is None and r["agrees"] is None for r in comparison["results"])
    # Captured calls keep shapes only: memory is compared, gradients cannot run.
    assert comparison["unchecked"] == "the call was captured from a script with its shapes only, so no gradient can run"
    exact = [r for r in comparison["results"] if r["exact"]]
    assert comparison["cheapest"] == min(exact, key=lambda r: r["figures"]["residual_bytes"][-1])["label"]
    assert comparison["ranked_by"] == "residual_bytes" and "ranked by residual bytes only" in comparison["summary"][-1]


def test_plain_script_without_a_solve_call(tmp_path):
    script = tmp_path / "no_solve.py"
    script.write_text("import jax.numpy as jnp\nprint(jnp.ones(3).sum())\n")
    code, out, err = run(str(script), "--n", "10,100")
    assert code == 2
    assert "no_solve.py: running it as a script made no call of jaxlint.solver.diffeqsolve or diffrax.diffeqsolve" in err


def test_adjoints_need_an_adjoint_parameter():
    code, out, err = run(f"{CASES}::scan_steps", "--n", "16,32", "--adjoints")
    assert code == 2
    assert "scan_steps takes no `adjoint` parameter: --adjoints needs NAME(n, adjoint=...)" in out


def test_help_says_it_runs_user_code():
    result = CliRunner().invoke(main, ["residuals", "--help"])
    assert result.exit_code == 0
    assert "This RUNS your code" in result.output and "--max-order" in result.output


def test_one_bad_case_does_not_stop_the_others():
    code, out, _ = run(MIXED, "--n", "16,64")
    assert code == 2
    assert "OK    mixed_cases.py::fine" in out
    assert "raises_at_64(64) raised ValueError: cannot build at this size" in out
    assert "wrong_shape(16) returned list; expected (fn, args) or (fn, args, kwargs)" in out
    assert "fails_to_lower at n=16: tracing the gradient failed: TracerBoolConversionError" in out


@pytest.mark.parametrize(
    "case, message",
    [
        ("integer_output", "integer_output at n=16: not differentiable: the function's output has no floating-point leaf (int64[])"),
        ("unbounded_while", "unbounded_while at n=16: not differentiable in reverse mode: a while_loop without a static trip count"),
        ("integer_arguments", "integer_arguments at n=16: nothing to differentiate: no floating-point array among the positional arguments (int64[16])"),
    ],
)
def test_not_differentiable_exits_2_naming_the_cause(case, message):
    code, out, _ = run(f"{CASES}::{case}", "--n", "16,32")
    assert code == 2
    assert "ERROR residual_cases.py::" + case in out
    assert message in out


@pytest.mark.parametrize(
    "args, message",
    [
        (["missing.py::f", "--n", "16,64"], "missing.py: no such file"),
        ([f"{CASES}::nope", "--n", "16,64"], "no function named 'nope'"),
        ([f"{CASES}::DT", "--n", "16,64"], "DT is not callable"),
        ([f"{CASES}::scan_steps", "--n", "16,1x"], "'1x' is not a size"),
        ([f"{CASES}::scan_steps", "--n", "16,16"], "fewer than two distinct sizes"),
        ([f"{CASES}::scan_steps", "--n", "0,16"], "sizes must be positive"),
        ([f"{CASES}::decay_steps", "--n", "16,32", "--adjoints", "--checkpoints", "four"], "'four' is not a size"),
        ([f"{CASES}::scan_steps", "--n", "16,32", "--max-order", "cubic"], "'cubic' is not one of"),
    ],
)
def test_bad_input_exits_2_and_names_it(args, message):
    code, out, err = run(*args)
    assert code == 2
    assert message in out + err
