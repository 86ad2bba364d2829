"""`jaxlint scale` end to end: output, JSON schema, exit codes, and every bad input named."""

import json
import os

import pytest
from click.testing import CliRunner

from jaxlint.cli import main

HERE = os.path.dirname(__file__)
PROGRAMS = os.path.join(HERE, "growth_programs.py")
MIXED = os.path.join(HERE, "mixed_cases.py")


def run(*args):
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def test_flagged_case_exits_1_and_names_the_line(marked_lines):
    code, out, _ = run("scale", f"{PROGRAMS}::stacked_buffer", "--n", "16,64,256", "--in-process")
    assert code == 1
    assert "FAIL" in out and "linear: +1.07 ops per n" in out
    assert f"growth_programs.py:{marked_lines['stack']}" in out
    assert "17 → 69 → 273" in out


def test_clean_case_exits_0():
    code, out, _ = run("scale", f"{PROGRAMS}::scan_euler", "--n", "16,64", "--in-process")
    assert code == 0
    assert "OK" in out and "FLAG" not in out


def test_marked_cases_all_run_when_no_name_is_given():
    code, out, _ = run("scale", PROGRAMS, "--n", "16,64,256", "--in-process", "--format", "json")
    assert code == 1
    report = json.loads(out)
    assert report["schema"] == "jaxlint.scale/1"
    by_name = {case["name"]: case for case in report["cases"]}
    assert set(by_name) == {"growth_programs.py::python_loop_euler", "growth_programs.py::scan_euler"}
    loop = by_name["growth_programs.py::python_loop_euler"]
    assert loop["verdict"] == "fail" and loop["n"] == [16, 64, 256]
    assert loop["figures"]["ops_inlined"] == [194, 770, 3074]
    assert loop["fits"]["ops_inlined"]["order"] == "linear"
    flag = next(f for f in loop["flags"] if f["figure"] == "ops_inlined")
    assert {"figure", "order", "message", "lines"} <= set(flag)
    assert {"path", "line", "counts"} <= set(flag["lines"][0])
    assert by_name["growth_programs.py::scan_euler"]["verdict"] == "ok"


def test_max_order_moves_the_bar():
    code, _, _ = run("scale", f"{PROGRAMS}::stacked_buffer", "--n", "16,64,256", "--in-process", "--max-order", "linear")
    assert code == 0


def test_subprocess_mode_gives_the_same_counts():
    code, out, _ = run("scale", f"{PROGRAMS}::stacked_buffer", "--n", "16,64", "--format", "json", "--timeout", "120")
    assert code == 1
    (case,) = json.loads(out)["cases"]
    assert case["figures"]["ops_inlined"] == [18, 70]


def test_one_bad_case_does_not_stop_the_others():
    code, out, err = run("scale", MIXED, "--n", "16,64", "--in-process")
    assert code == 2
    assert "OK    mixed_cases.py::fine" in out
    assert "FAIL  mixed_cases.py::grows" in out
    assert "raises_at_64(64) raised ValueError: cannot build at this size" in out
    assert 'raise ValueError("cannot build at this size")' in out  # the user's traceback
    assert "wrong_shape(16) returned list; expected (fn, args) or (fn, args, kwargs)" in out
    assert "fails_to_lower at n=16: tracing failed" in out


@pytest.mark.parametrize(
    "target, sizes, message",
    [
        ("missing.py::f", "16,64", "missing.py: no such file"),
        (f"{PROGRAMS}::nope", "16,64", "no function named 'nope'"),
        (f"{MIXED}::NOT_CALLABLE", "16,64", "NOT_CALLABLE is not callable"),
        (f"{PROGRAMS}::not_a_case", "16,64", "returned int; expected (fn, args)"),
        (f"{PROGRAMS}::raises", "16,64", "raises(16) raised RuntimeError: no program at n=16"),
        (os.path.join(HERE, "conftest.py"), "16,64", "no function is marked @jaxlint.case"),
        (f"{PROGRAMS}::scan_euler", "16,1x", "'1x' is not a size"),
        (f"{PROGRAMS}::scan_euler", "16,16", "fewer than two distinct sizes"),
        (f"{PROGRAMS}::scan_euler", "0,16", "sizes must be positive"),
        (f"{PROGRAMS}::scan_euler", "1.5,16", "is not a whole number"),
        (f"{HERE}::f", "16,64", "must be a .py file"),
    ],
)
def test_bad_input_exits_2_with_a_named_error(target, sizes, message):
    code, out, err = run("scale", target, "--n", sizes, "--in-process")
    assert code == 2
    assert message in out + err


def test_bad_name_is_named_in_subprocess_mode_too():
    code, out, err = run("scale", f"{PROGRAMS}::nope", "--n", "16,64")
    assert code == 2
    assert "no function named 'nope'" in err


@pytest.mark.parametrize("token, value", [("1k", 1000), ("2.5k", 2500), ("1e4", 10000), ("30000", 30000), ("1M", 1_000_000)])
def test_size_tokens(token, value):
    from jaxlint._options import parse_size

    assert parse_size(token) == value


def test_version_and_module_entry_point():
    import subprocess
    import sys

    import jaxlint

    code, out, _ = run("--version")
    assert code == 0 and jaxlint.__version__ in out
    completed = subprocess.run([sys.executable, "-m", "jaxlint", "--version"], capture_output=True, text=True)
    assert completed.returncode == 0 and jaxlint.__version__ in completed.stdout
