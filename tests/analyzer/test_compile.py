"""--compile (tiny sizes only) and --platform: compile figures, timeouts as findings, cross-lowering."""

import json
import os

from click.testing import CliRunner

from jaxlint.cli import main

HERE = os.path.dirname(__file__)
PROGRAMS = os.path.join(HERE, "growth_programs.py")


def run(*args):
    result = CliRunner().invoke(main, ["scale", *args], catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def test_compile_adds_seconds_and_memory_per_n():
    code, out, _ = run(f"{PROGRAMS}::scan_euler", "--n", "16,64", "--compile", "--format", "json")
    assert code == 0
    (case,) = json.loads(out)["cases"]
    figures = case["figures"]
    assert all(seconds > 0 for seconds in figures["compile_seconds"])
    assert figures["compiled_argument_bytes"] == [16, 16]  # y0 f32[3] + dt f32[]
    assert figures["compiled_output_bytes"] == [12, 12]  # y f32[3]
    assert all(temp >= 0 for temp in figures["compiled_temp_bytes"])
    assert case["compile_timeouts"] == []


def test_compile_timeout_is_a_finding_and_keeps_the_lowering():
    # A 1000- and 1500-operand stack takes seconds to compile: cut off after half a second.
    code, out, _ = run(f"{PROGRAMS}::stacked_buffer", "--n", "1000,1500", "--compile", "--compile-timeout", "0.5", "--format", "json")
    assert code == 1
    (case,) = json.loads(out)["cases"]
    assert case["compile_timeouts"] == [1000, 1500]
    assert case["figures"]["ops_inlined"] == [1069, 1602]  # the lowering figures survive the kill
    assert "compile_seconds" not in case["figures"]
    messages = [flag["message"] for flag in case["flags"]]
    assert "compile did not finish in 0.5 s at n=1000" in messages
    assert "compile did not finish in 0.5 s at n=1500" in messages


def test_compile_needs_fresh_processes():
    code, _, err = run(f"{PROGRAMS}::scan_euler", "--n", "16,64", "--compile", "--in-process")
    assert code == 2 and "--compile needs a fresh process per n" in err


def test_lowering_for_cuda_switches_equinox_checks_off_and_says_so():
    assert "EQX_ON_ERROR" not in os.environ
    code, out, _ = run(f"{PROGRAMS}::scan_euler", "--n", "16,64", "--platform", "cuda", "--format", "json", "--in-process")
    assert code == 0
    report = json.loads(out)
    assert report["platform"] == "cuda"
    assert any("EQX_ON_ERROR=nan" in note for note in report["notes"])
    assert report["cases"][0]["figures"]["loops"] == [1, 1]
    assert "EQX_ON_ERROR" not in os.environ  # restored after the run


def test_no_compile_for_another_platform():
    code, out, _ = run(f"{PROGRAMS}::scan_euler", "--n", "16,64", "--platform", "tpu", "--compile", "--format", "json")
    assert code == 0
    report = json.loads(out)
    assert "no compile: this machine cannot compile for tpu (lowering only)" in report["notes"]
    assert "compile_seconds" not in report["cases"][0]["figures"]
