"""diffrax 0.7.2's own ODE tests, run against `jaxlint.solver` through a module alias.

    python benchmarks/diffrax_suite.py [--impl both|jaxlint|diffrax] [--subset full|ci]
                                       [--files test_event.py ...] [--only-ids IDS.txt]
                                       [--json OUT] [--resume]
    python benchmarks/diffrax_suite.py --baseline-ids JAXLINT.json --sample N --seed S > IDS.txt
    python benchmarks/diffrax_suite.py --ratio JAXLINT.json DIFFRAX.json

The tests come from diffrax's repository at the tag v0.7.2 (its PyPI sdist ships no tests):
the GitHub archive is downloaded once into ``~/.cache/jaxlint-bench`` (or pass
``--archive``), and the selected files must match the SHA-256 recorded below, so the count
always refers to the same tests.

Each implementation runs in its own ``pytest`` subprocess over a scratch copy of diffrax's
``test/`` folder (its ``conftest.py`` sets x64, ``rank_promotion="raise"`` and
``dtype_promotion="strict"``, as in diffrax's CI). For ``jaxlint`` a generated package named
``diffrax`` comes first on ``sys.path``, and only in that subprocess. The shim is a module
alias, nothing test-specific: ``from jaxlint.solver import *``, and every name
`jaxlint.solver` does not define (SDE paths, solvers it lacks, private helpers such as
``diffrax._misc``) resolves to a placeholder class that can be constructed (diffrax's
``test/helpers.py`` builds its solver lists at import time) but raises ``NotImplementedError``
as soon as it is used. A test that needs a missing feature therefore fails; it never passes
because of the shim.

Selection: the ODE test files named in ``TEST_FILES``, minus SDE / Brownian / CDE tests
(``DESELECT``). ``--subset ci`` runs ``CI_TESTS`` only, a fast subset for the test suite
(``tests/solver/test_diffrax_suite.py``).

The full selection is long on a small machine, so it runs one test file per ``pytest``
subprocess and ``--json`` is rewritten after each file (``--resume`` skips the files already
in it). When diffrax itself cannot be run over everything, ``--baseline-ids`` lists the tests
to run it on: every test jaxlint did not pass plus a seeded sample of those it passed; then
``--ratio`` estimates the share of diffrax's passing tests that jaxlint passes from the
sample's pass rate (and says so).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import shutil
import subprocess
import sys
import tarfile
import tempfile
import textwrap
import urllib.request
import xml.etree.ElementTree as ET
from pathlib import Path

DIFFRAX_VERSION = "0.7.2"
ARCHIVE_URL = (
    f"https://github.com/patrick-kidger/diffrax/archive/refs/tags/v{DIFFRAX_VERSION}.tar.gz"
)
CACHE_DIR = Path(os.environ.get("JAXLINT_BENCH_CACHE", Path.home() / ".cache" / "jaxlint-bench"))
ARCHIVE_NAME = f"diffrax-{DIFFRAX_VERSION}-github.tar.gz"

TEST_FILES = (
    "test_integrate.py",
    "test_adaptive_stepsize_controller.py",
    "test_step_to.py",
    "test_saveat_solution.py",
    "test_adjoint.py",
    "test_event.py",
    "test_global_interpolation.py",
    "test_local_interpolation.py",
    "test_vmap.py",
    "test_detest.py",
    "test_term.py",
    "test_solver.py",
    "test_misc.py",
)
# Support files the test modules import.
SUPPORT_FILES = ("__init__.py", "conftest.py", "helpers.py")
# Stochastic and controlled differential equations are out of scope.
DESELECT = "not (sde or brownian or milstein or langevin or control_term or cde or weakly)"

# SHA-256 over the selected files (sorted by name, each as ``name\0content\0``) at v0.7.2.
TESTS_SHA256 = "42ce469fe59407aefecb0808498a6a3fb51f452aba78960dfc95cb05a976c205"

# The fast subset for the in-suite test (tests/solver/test_diffrax_suite.py): node ids
# relative to diffrax's test folder. Small solves on the API surface (saving, events,
# results, step control, terms, interpolation, vmap); the long convergence sweeps
# (test_integrate, test_detest) are left to the full run.
CI_TESTS: tuple[str, ...] = (
    "test_saveat_solution.py::test_results",
    "test_saveat_solution.py::test_saveat_solution",
    "test_saveat_solution.py::test_saveat_solution_skip_steps",
    "test_saveat_solution.py::test_saveat_solution_skip_vs_saveat",
    "test_saveat_solution.py::test_saveat_steps_with_event",
    "test_saveat_solution.py::test_t0_eq_t1[True]",
    "test_saveat_solution.py::test_t0_eq_t1[False]",
    "test_saveat_solution.py::test_t0_eq_t1_complicated",
    "test_saveat_solution.py::test_trivial_dense",
    "test_event.py::test_continuous_terminate1",
    "test_event.py::test_continuous_terminate2",
    "test_event.py::test_continuous_event_time",
    "test_event.py::test_continuous_event_value",
    "test_event.py::test_continuous_no_event",
    "test_event.py::test_continuous_two_events",
    "test_event.py::test_event_scalar_error",
    "test_event.py::test_event_dtype_error",
    "test_event.py::test_event_trig_dir",
    "test_event.py::test_event_trig_dir_pytree_structure",
    "test_event.py::test_event_with_pytree_valued_condition_function",
    "test_event.py::test_event_save_all_steps[1]",
    "test_event.py::test_event_save_ts[1]",
    "test_event.py::test_event_save_subsaveat[1]",
    "test_event.py::test_no_step_event",
    "test_step_to.py::test_step_to_location",
    "test_adaptive_stepsize_controller.py::test_step_ts[False]",
    "test_adaptive_stepsize_controller.py::test_jump_ts[False]",
    "test_adaptive_stepsize_controller.py::test_pid_meta",
    "test_term.py::test_ode_term",
    "test_term.py::test_ode_adjoint_term",
    "test_local_interpolation.py::test_local_linear_interpolation",
    "test_local_interpolation.py::test_third_order_hermite",
    "test_vmap.py::test_vmap_y0[float64-stepsize_controller0]",
    "test_vmap.py::test_vmap_y0[float64-stepsize_controller1]",
)


def _digest(test_dir: Path) -> str:
    h = hashlib.sha256()
    for name in sorted(SUPPORT_FILES + TEST_FILES):
        h.update(name.encode() + b"\0" + (test_dir / name).read_bytes() + b"\0")
    return h.hexdigest()


def _download(archive: Path) -> None:
    archive.parent.mkdir(parents=True, exist_ok=True)
    with urllib.request.urlopen(ARCHIVE_URL, timeout=30) as response:
        data = response.read()
    partial = archive.with_suffix(".partial")
    partial.write_bytes(data)
    partial.replace(archive)


def diffrax_tests(archive: Path | None = None) -> tuple[Path | None, str]:
    """The folder holding diffrax's selected test files (extracted into the cache), or
    ``(None, reason)`` when they cannot be had (offline, or the archive does not match)."""
    archive = archive or CACHE_DIR / ARCHIVE_NAME
    target = CACHE_DIR / f"diffrax-{DIFFRAX_VERSION}-tests"
    if target.is_dir() and all((target / n).is_file() for n in SUPPORT_FILES + TEST_FILES):
        if _digest(target) == TESTS_SHA256:
            return target, ""
        shutil.rmtree(target)
    if not archive.is_file():
        try:
            _download(archive)
        except OSError as e:  # URLError is an OSError: offline, DNS, timeout
            return None, f"cannot download diffrax {DIFFRAX_VERSION}'s tests ({ARCHIVE_URL}): {e}"
    prefix = f"diffrax-{DIFFRAX_VERSION}/test/"
    wanted = {prefix + n for n in SUPPORT_FILES + TEST_FILES}
    scratch = Path(tempfile.mkdtemp(dir=CACHE_DIR))
    try:
        with tarfile.open(archive) as tar:
            for member in tar.getmembers():
                if member.name in wanted and member.isfile():
                    data = tar.extractfile(member).read()
                    (scratch / Path(member.name).name).write_bytes(data)
        missing = [n for n in SUPPORT_FILES + TEST_FILES if not (scratch / n).is_file()]
        if missing:
            return None, f"{archive} lacks diffrax's test files {missing}"
        if _digest(scratch) != TESTS_SHA256:
            return None, f"{archive}: diffrax's test files differ from v{DIFFRAX_VERSION}'s"
        scratch.replace(target)
        return target, ""
    finally:
        if scratch.exists():
            shutil.rmtree(scratch)


SHIM = '''\
"""`diffrax` answered by `jaxlint.solver` (generated by benchmarks/diffrax_suite.py)."""

import importlib
import importlib.abc
import importlib.machinery
import sys
import types

import jaxlint.solver as _solver
from jaxlint.solver import *  # noqa: F403

__all__ = list(_solver.__all__)


class _MissingType(type):
    """Class attributes of a missing class (e.g. enumeration members) are missing too."""

    def __getattr__(cls, attr):
        if attr.startswith("__"):
            raise AttributeError(attr)
        return _missing_class(f"{cls._name}.{attr}")()


class _Missing(metaclass=_MissingType):
    """A name `jaxlint.solver` does not define: constructible, unusable."""

    _name = "?"

    def __init__(self, *args, **kwargs):
        pass

    def __class_getitem__(cls, item):
        return cls

    def __call__(self, *args, **kwargs):
        raise NotImplementedError(f"jaxlint.solver has no `{self._name}`")

    def __getattr__(self, attr):
        if attr.startswith("__"):  # protocol probes (pytest ids, copy, pickle): absent
            raise AttributeError(attr)
        raise NotImplementedError(f"jaxlint.solver has no `{self._name}` (.{attr})")


def _missing_class(name):
    return _MissingType(name.rsplit(".", 1)[-1], (_Missing,), {"_name": name})


def _missing(module, name):
    if name.startswith("__"):
        raise AttributeError(name)
    cls = _missing_class(f"{module}.{name}")
    setattr(sys.modules[module], name, cls)
    return cls


def __getattr__(name):
    if name.startswith("_") and not name.startswith("__"):
        # diffrax's private modules (`diffrax._term`) are shim submodules, not jaxlint's own.
        return importlib.import_module(f"{__name__}.{name}")
    try:
        return getattr(_solver, name)
    except AttributeError:
        return _missing(__name__, name)


class _Submodules(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """`diffrax.<anything>`: a module whose names all resolve like the package's."""

    def find_spec(self, fullname, path, target=None):
        if fullname.startswith(__name__ + "."):
            return importlib.machinery.ModuleSpec(fullname, self)
        return None

    def create_module(self, spec):
        module = types.ModuleType(spec.name)
        # A name jaxlint.solver has (e.g. `diffrax._term.AdjointTerm`) resolves to it.
        module.__getattr__ = lambda name: (
            getattr(_solver, name) if hasattr(_solver, name) else _missing(spec.name, name)
        )
        module.__path__ = []
        return module

    def exec_module(self, module):
        pass


sys.meta_path.insert(0, _Submodules())
'''

PYTEST_INI = textwrap.dedent(
    """\
    [pytest]
    markers = slow
    """
)


def write_shim(directory: Path) -> Path:
    """A folder to put first on ``sys.path``: it holds the package ``diffrax`` (the alias)."""
    package = directory / "diffrax"
    package.mkdir(parents=True, exist_ok=True)
    (package / "__init__.py").write_text(SHIM)
    return directory


def run_suite(
    impl: str,
    tests: Path,
    node_ids: tuple[str, ...] | None = None,
    timeout: float = 7200,
    files: tuple[str, ...] = TEST_FILES,
) -> dict[str, str]:
    """Run the selection under ``impl`` ("jaxlint" or "diffrax") in a pytest subprocess and
    return ``{node id: "passed" | "failed" | "skipped"}`` (errors count as failed).
    ``node_ids`` (relative to diffrax's test folder) replace the ``files`` selection."""
    with tempfile.TemporaryDirectory(prefix="jaxlint-diffrax-suite-") as tmp:
        work = Path(tmp)
        shutil.copytree(tests, work / "test")
        (work / "pytest.ini").write_text(PYTEST_INI)
        env = dict(os.environ, JAX_PLATFORMS="cpu", PYTHONDONTWRITEBYTECODE="1")
        env.pop("PYTHONPATH", None)
        if impl == "jaxlint":
            env["PYTHONPATH"] = str(write_shim(work / "shim"))
        elif impl != "diffrax":
            raise ValueError(f"diffrax_suite: --impl must be jaxlint or diffrax, got {impl!r}")
        junit = work / "junit.xml"
        if node_ids is None:
            selection = [f"test/{name}" for name in files] + ["-k", DESELECT]
        else:
            selection = [f"test/{node}" for node in node_ids]
        command = [
            sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:randomly",
            "-c", str(work / "pytest.ini"), "--rootdir", str(work), f"--junitxml={junit}",
            *selection,
        ]  # fmt: skip
        proc = subprocess.run(
            command, cwd=work, env=env, capture_output=True, text=True, timeout=timeout
        )
        if not junit.is_file():
            raise RuntimeError(f"diffrax_suite: pytest wrote no report:\n{proc.stdout[-3000:]}")
        return _outcomes(junit)


def _outcomes(junit: Path) -> dict[str, str]:
    outcomes: dict[str, str] = {}
    for case in ET.parse(junit).getroot().iter("testcase"):
        module = case.get("classname", "").split(".")
        name = case.get("name", "")
        # classname "test.test_event" (module-level tests) -> "test_event.py::name"
        node = f"{module[-1]}.py::{name}" if module else name
        if case.find("failure") is not None or case.find("error") is not None:
            outcome = "failed"
        elif case.find("skipped") is not None:
            outcome = "skipped"
        else:
            outcome = "passed"
        # A teardown error adds a second record for the same test: failure wins.
        if outcomes.get(node) != "failed":
            outcomes[node] = outcome
    return outcomes


def _report(outcomes: dict[str, dict[str, str]]) -> str:
    lines = []
    for impl, results in outcomes.items():
        passed = sum(v == "passed" for v in results.values())
        lines.append(f"{impl}: {passed} passed of {len(results)}")
        for name in sorted({node.split("::")[0] for node in results}):
            mine = [v for k, v in results.items() if k.split("::")[0] == name]
            lines.append(f"  {name}: {mine.count('passed')} / {len(mine)}")
    if {"jaxlint", "diffrax"} <= outcomes.keys():
        lines.append(ratio(outcomes["jaxlint"], outcomes["diffrax"]))
    return "\n".join(lines)


def ratio(jaxlint: dict[str, str], diffrax: dict[str, str]) -> str:
    """|passed on both| / |passed on diffrax|. Exact when diffrax ran every test jaxlint ran;
    when it ran only jaxlint's non-passes plus a sample of its passes (``--baseline-ids``),
    diffrax's pass rate on the sample stands for all of jaxlint's passes."""
    jl_pass = {k for k, v in jaxlint.items() if v == "passed"}
    missing = [k for k in jaxlint if k not in diffrax]
    if not missing:
        base = {k for k, v in diffrax.items() if v == "passed" and k in jaxlint}
        both = base & jl_pass
        share = 100 * len(both) / max(len(base), 1)
        return f"jaxlint passes {len(both)} of the {len(base)} tests diffrax passes ({share:.1f} %)"
    if any(k not in jl_pass for k in missing):
        raise ValueError("diffrax_suite: the diffrax run lacks tests jaxlint did not pass")
    sample = [k for k in jl_pass if k in diffrax]
    rate = sum(diffrax[k] == "passed" for k in sample) / max(len(sample), 1)
    fail_base = sum(diffrax[k] == "passed" for k in jaxlint if k not in jl_pass)
    both = rate * len(jl_pass)
    share = 100 * both / max(both + fail_base, 1e-9)
    return (
        f"jaxlint passes {len(jl_pass)} of {len(jaxlint)}; diffrax passes {fail_base} of the "
        f"{len(jaxlint) - len(jl_pass)} jaxlint does not, and {rate:.1%} of a sample of "
        f"{len(sample)} of jaxlint's passes: estimated share of diffrax's passes that jaxlint "
        f"passes {share:.1f} % ({both:.0f} / {both + fail_base:.0f})"
    )


def baseline_ids(jaxlint: dict[str, str], sample: int, seed: int) -> list[str]:
    """Every test jaxlint did not pass, plus ``sample`` of its passes (seeded)."""
    failed = sorted(k for k, v in jaxlint.items() if v != "passed")
    passed = sorted(k for k, v in jaxlint.items() if v == "passed")
    chosen = random.Random(seed).sample(passed, min(sample, len(passed)))
    return failed + sorted(chosen)


def _load(path: Path, impl: str) -> dict[str, str]:
    data = json.loads(path.read_text())
    if impl not in data:
        raise SystemExit(f"diffrax_suite: {path} has no {impl!r} outcomes")
    return data[impl]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--impl", choices=("both", "jaxlint", "diffrax"), default="both")
    parser.add_argument("--subset", choices=("full", "ci"), default="full")
    parser.add_argument("--files", nargs="+", choices=TEST_FILES, help="only these test files")
    parser.add_argument("--only-ids", type=Path, help="a file of node ids, one per line")
    parser.add_argument("--archive", type=Path, help="diffrax's GitHub archive at v0.7.2")
    parser.add_argument("--json", type=Path, help="write every test's outcome here")
    parser.add_argument("--resume", action="store_true", help="skip files already in --json")
    parser.add_argument("--baseline-ids", type=Path, metavar="JAXLINT_JSON")
    parser.add_argument("--sample", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--ratio", type=Path, nargs=2, metavar=("JAXLINT_JSON", "DIFFRAX_JSON"))
    args = parser.parse_args(argv)
    if args.baseline_ids:
        print("\n".join(baseline_ids(_load(args.baseline_ids, "jaxlint"), args.sample, args.seed)))
        return 0
    if args.ratio:
        print(ratio(_load(args.ratio[0], "jaxlint"), _load(args.ratio[1], "diffrax")))
        return 0
    tests, reason = diffrax_tests(args.archive)
    if tests is None:
        print(f"skipped: {reason}")
        return 0
    impls = ("diffrax", "jaxlint") if args.impl == "both" else (args.impl,)
    outcomes: dict[str, dict[str, str]] = {impl: {} for impl in impls}
    if args.resume and args.json and args.json.is_file():
        outcomes.update({k: v for k, v in json.loads(args.json.read_text()).items() if k in impls})
    if args.subset == "ci" or args.only_ids:
        ids = CI_TESTS if args.subset == "ci" else tuple(
            line.strip() for line in args.only_ids.read_text().splitlines() if line.strip()
        )
        # One batch per file, so that --json and --resume work the same way.
        batches = {}
        for node in ids:
            batches.setdefault(node.split("::")[0], []).append(node)
    else:
        batches = {name: None for name in args.files or TEST_FILES}
    for impl in impls:
        for name, nodes in batches.items():
            if any(k.split("::")[0] == name for k in outcomes[impl]):
                continue  # resumed
            if nodes is None:
                result = run_suite(impl, tests, files=(name,))
            else:
                result = run_suite(impl, tests, tuple(nodes))
            outcomes[impl].update(result)
            if args.json:
                args.json.write_text(json.dumps(outcomes, indent=1, sort_keys=True))
            print(f"{impl} {name}: {sum(v == 'passed' for v in result.values())} / {len(result)}",
                  flush=True)  # fmt: skip
    print(_report(outcomes))
    return 0


if __name__ == "__main__":
    sys.exit(main())
