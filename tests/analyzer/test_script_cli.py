"""`jaxlint scale solve.py` end to end: plain scripts, subprocess workers, exit codes, lint match."""

import json
import os

import pytest
from click.testing import CliRunner

from jaxlint.cli import main

HERE = os.path.dirname(__file__)
SCRIPTS = os.path.join(HERE, "solve_scripts")


def run(*args):
    result = CliRunner().invoke(main, ["scale", *args], catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture(autouse=True)
def fake_solvers(monkeypatch):
    monkeypatch.setenv("JAXLINT_SOLVE_APIS", "stack061:diffeqsolve,fixed_solver:diffeqsolve")


def stack_line():
    with open(os.path.join(SCRIPTS, "stack061.py")) as handle:
        return next(i for i, text in enumerate(handle, start=1) if "the diffrax 0.6.1 line" in text)


def test_subprocess_workers_recapture_the_site_and_name_the_rule():
    code, out, err = run(os.path.join(SCRIPTS, "lorenz_stack061.py"), "--n", "16,64", "--format", "json")
    assert code == 1
    (case,) = json.loads(out)["cases"]
    assert case["name"] == "lorenz_stack061.py:solve#1" and case["verdict"] == "fail"
    assert case["site"]["line"] == 17 and case["axis"] == "save points"
    # The jitted `solve` around the call, re-traced at n: the solve's 73 / 125 ops plus a
    # few that do not grow (the ts of length n, the solution cut back to the caller's length).
    assert case["figures"]["ops_inlined"][1] - case["figures"]["ops_inlined"][0] == 125 - 73
    assert case["figures"]["longest_run"] == [16, 64]
    (lint,) = [entry for entry in case["lint"] if entry["code"] == "JL001"][:1]
    assert lint["path"].endswith("stack061.py") and lint["line"] == stack_line()
    assert lint["fix"]["after"].strip().startswith("outs = jnp.broadcast_to(out, (out_size, *jnp.shape(out)))")
    assert "AFTER SOLVE" not in out  # the script's prints never reach the JSON on stdout


def test_table_shows_the_growing_line_with_its_rewrite():
    code, out, _ = run(os.path.join(SCRIPTS, "lorenz_stack061.py"), "--n", "16,64,256", "--in-process")
    assert code == 1
    assert "FAIL  lorenz_stack061.py:solve#1 (line 17, n = save points)" in out
    assert f"stack061.py:{stack_line()}  17 → 69 → 273" in out
    assert "JL001 stack-of-repeats" in out
    assert "- outs = jnp.stack([out] * out_size)" in out
    assert "+ outs = jnp.broadcast_to(out, (out_size, *jnp.shape(out)))" in out
    assert "unrolled runs that grow" in out and "16 → 64 → 256  (+240 [broadcast_in_dim])" in out


def test_fixed_solver_passes():
    code, out, _ = run(os.path.join(SCRIPTS, "lorenz_fixed.py"), "--n", "16,64,256", "--in-process")
    assert code == 0
    assert "OK    lorenz_fixed.py:" in out and "(line 12, n = save points)" in out


def test_every_site_is_a_case():
    code, out, _ = run(os.path.join(SCRIPTS, "sites_and_closures.py"), "--n", "16,64", "--in-process", "--format", "json")
    assert code == 1
    cases = json.loads(out)["cases"]
    # Keyed by enclosing function and ordinal, shown with their lines.
    assert [case["name"] for case in cases] == [
        "sites_and_closures.py:<module>#1", "sites_and_closures.py:decay#1",
        "sites_and_closures.py:one#1",
    ]
    assert [case["site"]["line"] for case in cases] == [10, 19, 26]


@pytest.mark.parametrize(
    "script, message",
    [
        ("no_solve_call.py", "made no call of jaxlint.solver.diffeqsolve or diffrax.diffeqsolve"),
        ("raises_after_setup.py", "the script raised FileNotFoundError: no state file at state.npy"),
    ],
)
def test_script_problems_exit_2(script, message):
    code, out, err = run(os.path.join(SCRIPTS, script), "--n", "16,64", "--in-process")
    assert code == 2
    assert message in err
    if script == "no_solve_call.py":
        assert "no_solve_call.py::NAME" in err
    else:
        assert 'y0 = load_initial_state("state.npy")  # RAISES' in err  # the user's traceback


def test_a_traced_value_in_a_plain_attribute_is_measured_through_its_jit():
    # The solve alone cannot be re-lowered (a tracer hides in a plain object), but the jitted
    # `solve` around it can: it builds the object again in its own trace.
    code, out, _ = run(os.path.join(SCRIPTS, "hidden_tracer.py"), "--n", "16,64", "--in-process", "--format", "json")
    assert code == 1
    (case,) = json.loads(out)["cases"]
    assert case["name"] == "hidden_tracer.py:solve#1" and case["verdict"] == "fail"
    assert not any("fell back" in note for note in case["notes"])


def test_capture_only_does_not_run_the_real_solve():
    code, out, err = run(os.path.join(SCRIPTS, "lorenz_stack061.py"), "--n", "16,64", "--in-process", "--capture-only")
    assert code == 1
    assert "AFTER SOLVE" not in out + err


def test_capture_only_is_for_plain_scripts():
    code, _, err = run(f"{HERE}/growth_programs.py::scan_euler", "--n", "16,64", "--capture-only")
    assert code == 2
    assert "--capture-only applies to plain scripts" in err
