"""diffrax 0.7.2's own tests, answered by `jaxlint.solver` through a module alias.

The machinery (download, shim, pytest subprocess) is `benchmarks/diffrax_suite.py`; the full
selection and its figures are in `benchmarks/RESULTS.md`. Here: the shim itself, and a fixed
fast subset (`CI_TESTS`) whose pass count must not fall below what it was when measured.
Skipped with the reason when diffrax's tests cannot be downloaded (offline).
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

_SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "diffrax_suite.py"

# Measured on the CI subset (RESULTS.md, "diffrax's own ODE tests"): jaxlint.solver passed
# this many of `CI_TESTS` (all of them since 95f04e3). Deterministic: a drop means a regression
# in the diffrax API.
CI_PASS_FLOOR = 34


def _suite():
    spec = importlib.util.spec_from_file_location("jaxlint_diffrax_suite", _SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_shim_is_only_an_alias(tmp_path):
    """Names jaxlint.solver defines are its own objects; any other name is a placeholder that
    can be built but not used, so it can make a test fail, never pass."""
    shim = _suite().write_shim(tmp_path)
    probe = textwrap.dedent(
        """
        import diffrax, jaxlint.solver as s
        assert diffrax.diffeqsolve is s.diffeqsolve and diffrax.Tsit5 is s.Tsit5
        solver = diffrax.NotASolverInJaxlint(root_finder=None)
        try:
            diffrax.diffeqsolve(s.ODETerm(lambda t, y, a: -y), solver, 0.0, 1.0, 0.1, 1.0)
        except TypeError as e:
            assert "`solver` must be a solver" in str(e)
        else:
            raise AssertionError("a placeholder solver was accepted")
        for use in (lambda: solver.step, lambda: diffrax._misc.not_a_jaxlint_name(1).value):
            try:
                use()
            except NotImplementedError as e:
                assert "jaxlint.solver has no" in str(e)
            else:
                raise AssertionError("a placeholder was usable")
        print("ok")
        """
    )
    env = dict(os.environ, PYTHONPATH=str(shim), JAX_PLATFORMS="cpu")
    out = subprocess.run(
        [sys.executable, "-c", probe], env=env, capture_output=True, text=True, timeout=300
    )
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr[-2000:]


def test_ci_subset_of_diffrax_tests_passes_on_jaxlint():
    suite = _suite()
    tests, reason = suite.diffrax_tests()
    if tests is None:
        pytest.skip(reason)
    outcomes = suite.run_suite("jaxlint", tests, suite.CI_TESTS, timeout=1200)
    assert set(outcomes) == set(suite.CI_TESTS)  # every selected test ran
    passed = sorted(node for node, outcome in outcomes.items() if outcome == "passed")
    assert len(passed) >= CI_PASS_FLOOR, f"{len(passed)} passed: {passed}"
