"""pytest plugin (entry point ``pytest11``, registered when jaxlint is installed).

    def make_solve(n):
        return solve, (y0, jnp.linspace(0.0, 1.0, n))

    def test_solve_is_flat(jaxlint_scale):
        jaxlint_scale(make_solve, n=[16, 64, 256], max_order="constant")

    @pytest.mark.jaxlint(n=[100, 1000], max_order="linear")   # defaults for this test's calls
    def test_buffer(jaxlint_scale): ...

A growing program fails the test with the growth table and the flagged lines, as
``jaxlint scale`` prints them. ``--jaxlint-baseline FILE`` also fails a case whose structural
figures grew past the baseline (``--jaxlint-tolerance 5%``); ``--jaxlint-save-baseline FILE``
writes one from the cases this session measured. Case names are ``file.py::factory`` (as
``jaxlint scale file.py::factory`` names them) unless ``name=`` is given, so a baseline written
by either tool gates both. Importing this module is cheap: jax is imported only when a test
measures something.
"""

from __future__ import annotations

import warnings
from typing import Any, Callable, Sequence

import pytest

_RUNS_KEY = pytest.StashKey[list]()
_BASELINE_KEY = pytest.StashKey[Any]()


class JaxlintBaselineWarning(UserWarning):
    """A measured case is not in the ``--jaxlint-baseline`` file, so it was not gated."""


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("jaxlint", "program size (jaxlint)")
    group.addoption("--jaxlint-baseline", metavar="FILE", default=None,
                    help="Fail a jaxlint_scale case whose structural figures grew past this baseline file.")
    group.addoption("--jaxlint-tolerance", metavar="PERCENT", default="0%",
                    help="Growth allowed over the baseline (default 0%%).")
    group.addoption("--jaxlint-save-baseline", metavar="FILE", default=None,
                    help="Write the figures of every jaxlint_scale case of this session to FILE.")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "jaxlint(n=[16, 64, 256], max_order='constant', tolerance=None): defaults for the "
        "jaxlint_scale fixture in this test",
    )
    config.stash[_RUNS_KEY] = []
    config.stash[_BASELINE_KEY] = None
    path = config.getoption("--jaxlint-baseline", default=None)
    if path is not None:
        # Checked before any test runs: a missing or malformed baseline is a usage error.
        from jaxlint.analyzer.baseline import BaselineError, load_baseline, parse_tolerance

        try:
            config.stash[_BASELINE_KEY] = (path, load_baseline(path))
            parse_tolerance(config.getoption("--jaxlint-tolerance"))
        except (BaselineError, ValueError) as error:
            raise pytest.UsageError(f"--jaxlint-baseline: {error}") from None


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    config = session.config
    path = config.getoption("--jaxlint-save-baseline", default=None)
    runs = config.stash.get(_RUNS_KEY, [])
    if path is None or not runs:
        return
    from jaxlint.analyzer.baseline import save_baseline
    from jaxlint.analyzer.scale import ScaleRun

    platforms = {run.platform for run in runs}
    if len(platforms) > 1:
        raise pytest.UsageError(f"--jaxlint-save-baseline {path}: cases lowered for several platforms ({', '.join(sorted(platforms))})")
    results = {result.name: result for run in runs for result in run.results}  # last run of a name wins
    save_baseline(path, ScaleRun(target="pytest", platform=platforms.pop(), results=list(results.values())))
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.write_line(f"jaxlint: wrote baseline {path} ({len(results)} cases)")


@pytest.fixture
def jaxlint_scale(request: pytest.FixtureRequest) -> Callable[..., Any]:
    """``jaxlint_scale(factory, n=[16, 64, 256], max_order="constant", name=None)``: lower
    ``factory(n)`` (returning ``(fn, args[, kwargs])``) at each n; fail the test if the program
    grows past ``max_order`` or the ``--jaxlint-baseline``. Returns the run (``figures_per_n``)."""
    from jaxlint.testing import DEFAULT_SIZES

    marker = request.node.get_closest_marker("jaxlint")
    defaults: dict[str, Any] = dict(marker.kwargs) if marker is not None else {}
    config = request.config

    def check(
        factory: Callable[..., Any],
        n: Sequence[int] | None = None,
        *,
        max_order: str | None = None,
        name: str | None = None,
        tolerance: float | str | None = None,
        platform: str | None = None,
    ) -> Any:
        __tracebackhide__ = True
        from jaxlint.analyzer.baseline import parse_tolerance
        from jaxlint.testing import ProgramSizeError, compare_with_baseline, measure_case, render_report

        run = measure_case(
            factory,
            n if n is not None else defaults.get("n", DEFAULT_SIZES),
            max_order=max_order or defaults.get("max_order", "constant"),
            name=name,
            platform=platform,
        )
        config.stash[_RUNS_KEY].append(run)
        gate = None
        baseline = config.stash[_BASELINE_KEY]
        if baseline is not None:
            path, document = baseline
            allowed = tolerance if tolerance is not None else defaults.get("tolerance")
            if allowed is None:
                allowed = config.getoption("--jaxlint-tolerance")
            fraction = parse_tolerance(allowed) if isinstance(allowed, str) else float(allowed)
            gate = compare_with_baseline(run, document, path, fraction)
            if gate is None:
                warnings.warn(JaxlintBaselineWarning(f"{run.results[0].name} is not in {path}: not gated"), stacklevel=2)
        if not run.results[0].verdict.ok or (gate is not None and not gate.ok):
            raise ProgramSizeError(render_report(run, gate), run)
        return run

    return check
