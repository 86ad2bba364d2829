"""The pytest plugin end to end: an inner pytest run (pytester) uses the ``jaxlint_scale``
fixture, the ``jaxlint`` marker and ``--jaxlint-baseline`` as a user's suite would; and
``jaxlint.testing.assert_program_size`` for other runners."""

from __future__ import annotations

import json

import pytest

# Inner runs are in-process, and pytester drops the modules imported after it starts; jaxlib's
# native extension cannot be imported twice, so everything the inner runs use is imported here.
import jax.numpy  # noqa: F401  isort: skip
import jaxlint.analyzer.baseline  # noqa: F401  isort: skip
import jaxlint.analyzer.lint_match  # noqa: F401  isort: skip
import jaxlint.analyzer.report  # noqa: F401  isort: skip
import jaxlint.testing  # noqa: F401  isort: skip

pytest_plugins = ["pytester"]

CASES = '''
import jax.numpy as jnp
import pytest

from jaxlint.testing import figures_per_n

def stacked(y0, ts):
    return jnp.stack([y0] * ts.shape[0])


def broadcast(y0, ts):
    return jnp.broadcast_to(y0, (ts.shape[0], *jnp.shape(y0)))


def make_stacked(n):
    return stacked, (jnp.ones(3), jnp.linspace(0.0, 1.0, n))


def make_flat(n):
    return broadcast, (jnp.ones(3), jnp.linspace(0.0, 1.0, n))


def test_flat(jaxlint_scale):
    run = jaxlint_scale(make_flat, n=[4, 8, 16])
    assert len(set(figures_per_n(run).values())) == 1


def test_grows(jaxlint_scale):
    jaxlint_scale(make_stacked, n=[4, 8, 16])


@pytest.mark.jaxlint(n=[4, 8, 16], max_order="linear")
def test_grows_linearly_allowed(jaxlint_scale):
    jaxlint_scale(make_stacked)
'''


@pytest.fixture
def inner(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makepyfile(test_cases=CASES)
    pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\n")  # pytest-asyncio (test extra)
    return pytester


def test_fixture_and_marker_pass_and_fail_like_scale(inner: pytest.Pytester) -> None:
    result = inner.runpytest("-p", "no:cacheprovider", "-p", "no:randomly")
    result.assert_outcomes(passed=2, failed=1)
    text = result.stdout.str()
    # The failure is an ordinary assertion failure carrying `jaxlint scale`'s report.
    result.stdout.fnmatch_lines([
        "*ProgramSizeError: FAIL  test_cases.py::make_stacked*",
        "*ops_inlined*6*10*18*linear: +1 ops per n*FLAG*",
        "*flag ops_inlined grows linear*(allowed: constant)*",
        "*source lines whose ops grow*",
        "*test_cases.py:7  5 → 9 → 17  (+12 broadcast_in_dim)*",
        "*JL001 stack-of-repeats*",
        "*+ return jnp.broadcast_to(y0, (ts.shape?0?, *jnp.shape(y0)))*",  # fnmatch: ? for [ and ]
    ])
    assert "test_grows_linearly_allowed" not in text.split("short test summary")[-1]


def test_baseline_gate(inner: pytest.Pytester) -> None:
    baseline = inner.path / "baseline.json"
    saved = inner.runpytest("-p", "no:cacheprovider", "-k", "flat", f"--jaxlint-save-baseline={baseline}")
    saved.assert_outcomes(passed=1)
    document = json.loads(baseline.read_text())
    assert document["schema"] == "jaxlint.baseline/1"
    assert document["cases"]["test_cases.py::make_flat"]["figures"]["ops_inlined"] == [2, 2, 2]
    # The same name now builds a bigger (still flat) program: 2 -> 5 ops at every n.
    inner.makepyfile(test_cases=CASES.replace(
        "return jnp.broadcast_to(y0, (ts.shape[0], *jnp.shape(y0)))",
        "return jnp.broadcast_to(y0 * 2.0, (ts.shape[0], *jnp.shape(y0)))",
    ))
    gated = inner.runpytest("-p", "no:cacheprovider", "-k", "flat", f"--jaxlint-baseline={baseline}")
    gated.assert_outcomes(failed=1)
    gated.stdout.fnmatch_lines([
        f"*FAIL  baseline {baseline} (tolerance 0.0%, 18 figures compared): 6 grew*",  # 6 structural × 3 n
        "*test_cases.py::make_flat: ops at n=4: 2 → 5 (+150.0%)*",
    ])
    tolerant = inner.runpytest("-p", "no:cacheprovider", "-k", "flat", f"--jaxlint-baseline={baseline}",
                               "--jaxlint-tolerance=150%")
    tolerant.assert_outcomes(passed=1)


def test_bad_baseline_is_a_usage_error(inner: pytest.Pytester) -> None:
    result = inner.runpytest("-p", "no:cacheprovider", "--jaxlint-baseline=missing.json")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--jaxlint-baseline: missing.json: no such baseline file*"])


def test_assert_program_size_for_other_runners() -> None:
    import jax.numpy as jnp

    from jaxlint.testing import ProgramSizeError, assert_program_size, figures_per_n

    def make(n: int):
        return (lambda ts: jnp.stack([ts[0]] * n)), (jnp.zeros(n),)

    with pytest.raises(ProgramSizeError) as failure:
        assert_program_size(make, n=[4, 8])
    assert isinstance(failure.value, AssertionError)
    message = str(failure.value)
    assert message.startswith("FAIL  test_plugin.py::test_assert_program_size_for_other_runners.<locals>.make")
    assert "flag ops grows linear" in message
    assert "trace_seconds" not in message  # clock readings are never judged in a test
    run = assert_program_size(make, n=[4, 8], max_order="linear", name="stack")
    assert run.results[0].name == "stack"
    assert figures_per_n(run, "longest_run") == {4: 4, 8: 8}
    with pytest.raises(TypeError, match=r"stack\(4\) returned int; expected \(fn, args\)"):
        assert_program_size(lambda n: n, n=[4, 8], name="stack")


def test_plugin_is_registered_with_the_package() -> None:
    from importlib.metadata import entry_points

    (entry,) = [e for e in entry_points(group="pytest11") if e.name == "jaxlint"]
    assert entry.value == "jaxlint.pytest_plugin"
    assert entry.dist is not None and entry.dist.name == "jaxlint-hlo"
