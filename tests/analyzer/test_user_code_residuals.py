"""`jaxlint residuals` ends on the user's exits, interrupts and hangs like `scale` does."""

import json
import os
import subprocess
import sys

import pytest
from click.testing import CliRunner

from jaxlint.cli import main

HERE = os.path.dirname(__file__)
MISBEHAVES = os.path.join(HERE, "solve_scripts", "misbehaves.py")
APIS = "stack061:diffeqsolve,fixed_solver:diffeqsolve"


@pytest.fixture(autouse=True)
def fake_solvers(monkeypatch):
    monkeypatch.setenv("JAXLINT_SOLVE_APIS", APIS)


def run(*args, misbehave=""):
    os.environ["MISBEHAVE"] = misbehave
    try:
        result = CliRunner().invoke(main, ["residuals", *args], catch_exceptions=False)
    finally:
        os.environ.pop("MISBEHAVE", None)
    return result.exit_code, result.stdout, result.stderr


def test_exit_and_interrupt():
    code, out, err = run(MISBEHAVES, "--n", "16,64", misbehave="exit")
    assert code == 2 and "the script called sys.exit(3)" in err and out == ""
    code, _, err = run(MISBEHAVES, "--n", "16,64", misbehave="interrupt")
    assert code == 130 and "interrupted" in err


def test_prints_go_to_stderr_while_json_is_written():
    code, out, err = run(MISBEHAVES, "--n", "16,64", "--output-format", "json")
    assert code == 0, err
    assert json.loads(out)["schema"] == "jaxlint.residuals/1"
    assert "PRINTED BY THE SCRIPT" in err


def test_timeout_and_os_exit_end_the_process_with_2():
    env = dict(os.environ, JAXLINT_SOLVE_APIS=APIS, JAX_PLATFORMS="cpu")
    for misbehave, expected in (("hang", "did not finish in 5 s (--timeout)"), ("os_exit", "os._exit(3)")):
        done = subprocess.run(
            [sys.executable, "-m", "jaxlint", "residuals", MISBEHAVES, "--n", "16,64", "--timeout", "5"],
            capture_output=True, text=True, env=dict(env, MISBEHAVE=misbehave), timeout=240,
        )
        assert done.returncode == 2, done.stderr
        assert expected in done.stderr


def test_timeout_is_finite():
    code, _, err = run(MISBEHAVES, "--n", "16,64", "--timeout", "nan")
    assert code == 2 and "--timeout" in err
