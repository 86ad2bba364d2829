"""Project-level traced context through `jaxlint check`: declared entry points (`traced` in
`[tool.jaxlint]`, `--traced`), functions jitted only in the project's tests, and files the
call graph cannot resolve (still linted, nothing crashes)."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

from jaxlint._check_cmd import check
from jaxlint.rules._engine import check_paths

# A Python loop over an array's length in a library function nobody in the library jits.
LIBRARY = '''
import jax.numpy as jnp


def integrate(xs):
    total = jnp.zeros(())
    for i in range(len(xs)):
        total = total + jnp.sin(xs[i])
    return total


class Model:
    def __call__(self, xs):
        return integrate(xs)
'''


def make_project(root: Path, pyproject: str = "", tests: str | None = None) -> None:
    (root / "pyproject.toml").write_text("[project]\nname = 'demo'\n" + textwrap.dedent(pyproject))
    (root / "pkg").mkdir()
    (root / "pkg" / "__init__.py").write_text("")
    (root / "pkg" / "lib.py").write_text(LIBRARY)
    if tests is not None:
        (root / "tests").mkdir()
        (root / "tests" / "test_lib.py").write_text(textwrap.dedent(tests))


def loop_findings(root: Path, *args: str) -> tuple[int, list[dict], str]:
    result = CliRunner().invoke(check, ["--select", "JL002", "--jobs", "1", "--output-format", "json", *args, str(root)])
    payload = json.loads(result.stdout) if result.stdout.strip().startswith("{") else {"findings": []}
    return result.exit_code, payload["findings"], result.stderr


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)


def test_library_function_is_linted_only_once_declared_traced(tmp_path: Path) -> None:
    make_project(tmp_path)
    code, findings, _ = loop_findings(tmp_path, "--no-cache")
    assert (code, findings) == (0, [])

    code, findings, _ = loop_findings(tmp_path, "--no-cache", "--traced", "pkg.lib:integrate")
    assert code == 1 and [(f["path"], f["line"]) for f in findings] == [("pkg/lib.py", 7)]
    assert "`integrate` is declared traced (`pkg.lib:integrate`)" in findings[0]["message"]


def test_config_key_declares_a_class_method_and_a_class(tmp_path: Path) -> None:
    make_project(tmp_path, '[tool.jaxlint]\ntraced = ["pkg.lib:Model.__call__"]\n')
    code, findings, _ = loop_findings(tmp_path)  # with the cache: the key is part of it
    assert code == 1 and [f["line"] for f in findings] == [7]
    assert "reached from `Model.__call__` (declared traced: `pkg.lib:Model.__call__`)" in findings[0]["message"]
    # a class alone means its __call__; the re-export through the package is followed
    (tmp_path / "pyproject.toml").write_text("[tool.jaxlint]\ntraced = [\"pkg.lib:Model\"]\n")
    code, findings, _ = loop_findings(tmp_path)
    assert code == 1 and [f["line"] for f in findings] == [7]


def test_unresolved_and_malformed_entry_points(tmp_path: Path) -> None:
    make_project(tmp_path)
    code, findings, stderr = loop_findings(tmp_path, "--no-cache", "--traced", "pkg.lib:nothing")
    assert (code, findings) == (0, [])
    assert "traced entry point 'pkg.lib:nothing' names no function or class in the checked files" in stderr
    code, _, stderr = loop_findings(tmp_path, "--no-cache", "--traced", "pkg.lib.integrate")
    assert code == 2 and "--traced: 'pkg.lib.integrate' is not \"module:function\"" in stderr
    (tmp_path / "pyproject.toml").write_text("[tool.jaxlint]\ntraced = [1]\n")
    code, _, stderr = loop_findings(tmp_path, "--no-cache")
    assert code == 2 and "traced: expected a list of \"module:function\" strings" in stderr


def test_function_jitted_only_in_the_projects_tests(tmp_path: Path) -> None:
    make_project(tmp_path, tests='''
        import jax
        from pkg.lib import integrate

        def test_integrate():
            assert jax.jit(integrate)(jax.numpy.ones(3)) > 0
    ''')
    result = check_paths([tmp_path / "pkg"], select=["JL002"], use_cache=False, jobs=1)
    assert [(f.path, f.line) for f in result.findings] == [("pkg/lib.py", 7)]
    assert "reached from" not in result.findings[0].message
    assert "`integrate` is jitted at tests/test_lib.py:6" in result.findings[0].message
    # without project context (the tests are not part of the run), nothing is traced
    result = check_paths([tmp_path / "pkg"], select=["JL002"], use_cache=False, jobs=1, project_context=False)
    assert result.findings == []


def test_unresolvable_files_are_still_linted(tmp_path: Path) -> None:
    (tmp_path / "odd.py").write_text(textwrap.dedent('''
        import jax
        import jax.numpy as jnp
        from nowhere import Base, make

        class A(A):
            x: "A.B.C[" = make()

        class B(Base, B):
            def step(self, xs):
                return self.x.y.z(xs)

        @jax.jit
        def run(xs, a: A, b: "B"):
            a.x.step(xs)
            b.step(xs)
            out = jnp.zeros(())
            for i in range(len(xs)):
                out = out + jnp.sin(xs[i])
            return out
    '''))
    result = check_paths([tmp_path / "odd.py"], select=["JL002"], use_cache=False, jobs=1)
    assert [(f.path, f.line, f.code) for f in result.findings] == [("odd.py", 18, "JL002")]
