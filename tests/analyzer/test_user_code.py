"""The user's code, whatever it does, ends the run with one line and a clear exit code."""

import json
import os
import shutil
import subprocess
import sys

import pytest
from click.testing import CliRunner

from jaxlint.cli import main

HERE = os.path.dirname(__file__)
SCRIPTS = os.path.join(HERE, "solve_scripts")
MISBEHAVES = os.path.join(SCRIPTS, "misbehaves.py")
APIS = "stack061:diffeqsolve,fixed_solver:diffeqsolve"


@pytest.fixture(autouse=True)
def fake_solvers(monkeypatch):
    monkeypatch.setenv("JAXLINT_SOLVE_APIS", APIS)


def run(*args, misbehave=""):
    os.environ["MISBEHAVE"] = misbehave
    try:
        result = CliRunner().invoke(main, ["scale", *args], catch_exceptions=False)
    finally:
        os.environ.pop("MISBEHAVE", None)
    return result.exit_code, result.stdout, result.stderr


def run_process(*args, misbehave="", limit=240):
    """`python -m jaxlint scale ...` in a process of its own: --in-process watchdogs end the
    whole process, which a test must not do to pytest."""
    env = dict(os.environ, MISBEHAVE=misbehave, JAXLINT_SOLVE_APIS=APIS, JAX_PLATFORMS="cpu")
    done = subprocess.run([sys.executable, "-m", "jaxlint", "scale", *args], capture_output=True, text=True, env=env, timeout=limit)
    return done.returncode, done.stdout, done.stderr


@pytest.mark.parametrize("mode", [[], ["--in-process"]])
def test_sys_exit_in_the_script_is_exit_2_with_a_message(mode):
    code, out, err = run(MISBEHAVES, "--n", "16,64", *mode, misbehave="exit")
    assert code == 2
    assert "misbehaves.py: the script called sys.exit(3)" in err
    assert out == ""


def test_os_exit_in_the_child_is_exit_2_naming_the_code():
    code, _, err = run(MISBEHAVES, "--n", "16,64", misbehave="os_exit")
    assert code == 2
    assert "os._exit(3)" in err


def test_os_exit_in_process_is_exit_2_not_3():
    code, _, err = run_process(MISBEHAVES, "--n", "16,64", "--in-process", misbehave="os_exit")
    assert code == 2
    assert "the user's code called os._exit(3)" in err


@pytest.mark.parametrize("mode", [[], ["--in-process"]])
def test_keyboard_interrupt_in_the_script_is_exit_130(mode):
    code, _, err = run(MISBEHAVES, "--n", "16,64", *mode, misbehave="interrupt")
    assert code == 130
    assert "interrupted" in err


def test_timeout_covers_the_script_run_in_the_child():
    code, _, err = run(MISBEHAVES, "--n", "16,64", "--timeout", "4", misbehave="hang")
    assert code == 2
    assert "did not finish in 4 s (--timeout)" in err


def test_timeout_covers_the_script_run_in_process():
    code, _, err = run_process(MISBEHAVES, "--n", "16,64", "--in-process", "--timeout", "6", misbehave="hang")
    assert code == 2
    assert "did not finish in 6 s (--timeout)" in err


@pytest.mark.parametrize("mode", [[], ["--in-process"]])
def test_a_thread_that_never_ends_does_not_hang_the_run(mode):
    code, out, _ = run_process(MISBEHAVES, "--n", "16,64", "--format", "json", *mode, misbehave="thread", limit=180)
    assert code == 0
    assert json.loads(out)["cases"][0]["verdict"] == "ok"


@pytest.mark.parametrize("mode", [[], ["--in-process"]])
def test_prints_go_to_stderr_while_json_is_written(mode):
    code, out, err = run(MISBEHAVES, "--n", "16,64", "--output-format", "json", *mode)
    assert code == 0
    assert json.loads(out)["schema"] == "jaxlint.scale/1"
    assert "PRINTED BY THE SCRIPT" in err and "PRINTED" not in out


@pytest.mark.parametrize("value", ["nan", "inf", "-1", "0", "soon"])
def test_timeout_must_be_a_finite_positive_number(value):
    code, _, err = run(MISBEHAVES, "--n", "16,64", "--timeout", value)
    assert code == 2
    assert "--timeout" in err


def test_arguments_after_double_dash_are_the_scripts():
    script = os.path.join(SCRIPTS, "needs_args.py")
    code, out, err = run(script, "--n", "16,64", "--in-process", "--format", "json", "--", "--points", "8")
    assert code == 0, err
    assert "points (8, 2)" in err
    assert json.loads(out)["cases"][0]["name"] == "needs_args.py:solve#1"
    code, _, err = run(script, "--n", "16,64", "--in-process")
    assert code == 2
    assert "usage: needs_args.py --points N" in err


def test_several_targets_in_one_run():
    fixed = os.path.join(SCRIPTS, "lorenz_fixed.py")
    stack = os.path.join(SCRIPTS, "lorenz_stack061.py")
    code, out, _ = run(fixed, stack, "--n", "16,64", "--in-process", "--format", "json")
    assert code == 1
    assert [case["name"] for case in json.loads(out)["cases"]] == ["lorenz_fixed.py:solve#1", "lorenz_stack061.py:solve#1"]


def test_the_gate_survives_lines_added_above_the_call(tmp_path):
    for name in ("lorenz_fixed.py", "fixed_solver.py", "stack061.py"):
        shutil.copy(os.path.join(SCRIPTS, name), tmp_path / name)
    script = tmp_path / "lorenz_fixed.py"
    baseline = tmp_path / "baseline.json"
    code, _, err = run(str(script), "--n", "16,64", "--in-process", "--save-baseline", str(baseline))
    assert code == 0, err
    document = json.loads(baseline.read_text())
    assert list(document["cases"]) == ["lorenz_fixed.py:solve#1"]
    assert document["cases"]["lorenz_fixed.py:solve#1"]["line"] == 12

    script.write_text("# a comment\n# and another\n" + script.read_text())
    code, out, err = run(str(script), "--n", "16,64", "--in-process", "--baseline", str(baseline), "--format", "json")
    assert code == 0, err
    gate = json.loads(out)["baseline"]
    assert gate["ok"] and gate["compared"] > 0 and gate["unmatched_cases"] == []

    # A baseline from before (keyed by line) is matched and said so.
    document["cases"] = {"lorenz_fixed.py:12": document["cases"]["lorenz_fixed.py:solve#1"]}
    baseline.write_text(json.dumps(document))
    code, out, _ = run(str(script), "--n", "16,64", "--in-process", "--baseline", str(baseline), "--format", "json")
    assert code == 0
    gate = json.loads(out)["baseline"]
    assert gate["compared"] > 0 and gate["migrated"] == {"lorenz_fixed.py:solve#1": "lorenz_fixed.py:12"}
