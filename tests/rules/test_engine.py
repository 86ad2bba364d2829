"""The project runner: selection, suppression, bad input, cache correctness, fixes, notebooks.

Rules under test are pinned with ``select=["JL001"]`` (stack-of-repeats), so adding rules to
the catalogue never changes these counts.
"""

from __future__ import annotations

import json
import stat
import textwrap
from pathlib import Path

import pytest

from jaxlint.rules import check_paths
from jaxlint.rules._config import ConfigError
from jaxlint.rules._files import MissingPathError

JITTED_REPEAT = """\
import jax
import jax.numpy as jnp


@jax.jit
def init(y0, ts):
    return jnp.stack([0.25] * 10000)
"""
FIXED_REPEAT = JITTED_REPEAT.replace("jnp.stack([0.25] * 10000)", "jnp.broadcast_to(0.25, (10000, *jnp.shape(0.25)))")


def write(root: Path, relative: str, text: str | bytes) -> Path:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(textwrap.dedent(text) if text.startswith("\n") else text)
    return path


def run(root: Path, *paths: str, **options):
    options.setdefault("select", ["JL001"])
    options.setdefault("jobs", 1)
    return check_paths([str(root / p) for p in paths] or [str(root)], **options)


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)


# --- findings, positions, suppression -------------------------------------------------------
def test_finding_position_message_and_fix(tmp_path: Path) -> None:
    write(tmp_path, "model.py", JITTED_REPEAT)
    result = run(tmp_path)
    assert [(f.path, f.line, f.column, f.end_line, f.end_column, f.code) for f in result.findings] == [
        ("model.py", 7, 11, 7, 36, "JL001")
    ]
    finding = result.findings[0]
    assert "`init` is jitted at model.py:5" in finding.message
    assert finding.fix is not None and finding.fix.applicability == "safe"
    assert result.files_checked == 1 and result.files_parsed == 1


@pytest.mark.parametrize(
    "comment, suppressed",
    [
        ("# noqa: JL001", True),
        ("# noqa", True),
        ("# NOQA:JL001,JL002", True),
        ("# jaxlint: ignore[JL001]", True),
        ("# jaxlint: ignore", True),
        ("# noqa: JL002", False),
        ("# jaxlint: ignore[JL002]", False),
    ],
)
def test_noqa_comments(tmp_path: Path, comment: str, suppressed: bool) -> None:
    write(tmp_path, "model.py", JITTED_REPEAT.replace("10000)\n", f"10000)  {comment}\n"))
    assert len(run(tmp_path).findings) == (0 if suppressed else 1)


def test_select_ignore_and_config(tmp_path: Path) -> None:
    write(tmp_path, "model.py", JITTED_REPEAT)
    assert len(run(tmp_path, select=["JL0"]).findings) >= 1
    assert run(tmp_path, select=["JL001"], ignore=["JL001"]).findings == []
    assert len(run(tmp_path, select=["JL002"], extend_select=["JL001"]).findings) == 1
    write(tmp_path, "pyproject.toml", '[tool.jaxlint]\nignore = ["JL001"]\n')
    assert check_paths([str(tmp_path)], jobs=1).findings == []
    # --select on the command line replaces the config's selection, ignore still applies
    assert run(tmp_path, select=["JL001"]).findings == []


def test_per_file_ignores(tmp_path: Path) -> None:
    write(tmp_path, "model.py", JITTED_REPEAT)
    write(tmp_path, "tests/test_model.py", JITTED_REPEAT)
    write(tmp_path, "pyproject.toml", '[tool.jaxlint]\nper-file-ignores = { "tests/**" = ["JL001"] }\n')
    assert [f.path for f in run(tmp_path).findings] == ["model.py"]


@pytest.mark.parametrize(
    "table, message",
    [
        ('select = ["XY1"]', "'XY1' is not a rule code"),
        ("unknown-key = 1", "unknown key 'unknown-key'"),
        ('exclude = "build"', "expected a list of patterns"),
        ("max-file-size = -1", "max-file-size"),
    ],
)
def test_bad_config_is_a_usage_error(tmp_path: Path, table: str, message: str) -> None:
    write(tmp_path, "pyproject.toml", f"[tool.jaxlint]\n{table}\n")
    write(tmp_path, "model.py", "x = 1\n")
    with pytest.raises(ConfigError, match=message):
        check_paths([str(tmp_path)], jobs=1)


# --- discovery ---------------------------------------------------------------------------------
def test_discovery_honours_gitignore_and_excludes(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    write(tmp_path, ".gitignore", "generated/\n*_tmp.py\n!keep_tmp.py\n")
    for name in ("model.py", "generated/gen.py", "scratch_tmp.py", "keep_tmp.py", "build/out.py",
                 ".venv/lib.py", "legacy/old.py", "sub/notes.txt"):
        write(tmp_path, name, JITTED_REPEAT)
    write(tmp_path, "pyproject.toml", '[tool.jaxlint]\nextend-exclude = ["legacy/"]\n')
    result = run(tmp_path)
    assert sorted(f.path for f in result.findings) == ["keep_tmp.py", "model.py"]
    # An explicitly named file is checked even if .gitignore'd, but a config exclude wins.
    assert [f.path for f in run(tmp_path, "generated/gen.py").findings] == ["generated/gen.py"]
    assert run(tmp_path, "legacy/old.py").findings == []


def test_missing_path_names_it_and_the_rest_is_checked(tmp_path: Path) -> None:
    write(tmp_path, "model.py", JITTED_REPEAT)
    result = run(tmp_path, "nope.py", "model.py")
    assert result.usage_errors == [f"{tmp_path / 'nope.py'}: no such file or directory"]
    assert [f.path for f in result.findings] == ["model.py"]
    # The discovery function alone still raises for library callers that ask it to.
    from jaxlint.rules._files import discover

    with pytest.raises(MissingPathError, match="nope.py: no such file or directory"):
        discover([tmp_path / "nope.py"])


# --- bad input -----------------------------------------------------------------------------------
def test_syntax_error_is_jl000_and_other_files_still_checked(tmp_path: Path) -> None:
    write(tmp_path, "broken.py", "def f(:\n    pass\n")
    write(tmp_path, "model.py", JITTED_REPEAT)
    result = run(tmp_path)
    assert [(f.path, f.code, f.line, f.column) for f in result.findings] == [
        ("broken.py", "JL000", 1, 6),
        ("model.py", "JL001", 7, 11),
    ]
    assert result.findings[0].message.startswith("SyntaxError: ")


def test_unreadable_inputs_are_reported_never_raised(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(tmp_path, "latin.py", "x = 'caf\xe9'\n".encode("latin-1"))
    write(tmp_path, "binary.py", b"\x00\x01\x02binary")
    write(tmp_path, "empty.py", "")
    write(tmp_path, "huge.py", b"# padding\n" * 1_100_000)  # 11 MB
    (tmp_path / "loop_a.py").symlink_to(tmp_path / "loop_b.py")
    (tmp_path / "loop_b.py").symlink_to(tmp_path / "loop_a.py")
    (tmp_path / "dangling.py").symlink_to(tmp_path / "missing.py")
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "self").symlink_to(tmp_path / "pkg")  # a folder loop: never followed
    write(tmp_path, "pkg/model.py", JITTED_REPEAT)
    secret = write(tmp_path, "secret.py", JITTED_REPEAT)
    import jaxlint.rules._files as files

    real_open = files._open_for_reading

    def deny(path: Path) -> int:  # the tests run as root: chmod alone cannot deny reading
        if Path(path).name == "secret.py":
            raise PermissionError(13, "Permission denied")
        return real_open(path)

    monkeypatch.setattr(files, "_open_for_reading", deny)
    secret.chmod(0)
    messages = {f.path: (f.code, f.message) for f in run(tmp_path).findings}
    assert messages == {
        "binary.py": ("JL000", "binary file (contains NUL bytes); not checked"),
        "dangling.py": ("JL000", "cannot read file: No such file or directory"),
        "huge.py": ("JL000", "file is 11.0 MB, over the 8 MB limit; not checked (exclude it, or raise "
                    "`max-file-size` in [tool.jaxlint])"),
        "latin.py": ("JL000", "not valid UTF-8 text (byte 0xe9 at offset 8); not checked"),
        "loop_a.py": ("JL000", "cannot read file: Too many levels of symbolic links"),
        "loop_b.py": ("JL000", "cannot read file: Too many levels of symbolic links"),
        "pkg/model.py": ("JL001", messages["pkg/model.py"][1]),
        "secret.py": ("JL000", "cannot read file: Permission denied"),
    }
    secret.chmod(stat.S_IRUSR | stat.S_IWUSR)


def test_declared_encoding_is_honoured(tmp_path: Path) -> None:
    write(tmp_path, "latin.py", "# -*- coding: latin-1 -*-\nx = 'caf\xe9'\n".encode("latin-1") + JITTED_REPEAT.encode())
    assert [f.code for f in run(tmp_path).findings] == ["JL001"]


# --- cache -------------------------------------------------------------------------------------
def test_cache_hits_and_invalidation_by_content(tmp_path: Path) -> None:
    write(tmp_path, "model.py", JITTED_REPEAT)
    write(tmp_path, "other.py", "import jax.numpy as jnp\n\ndef f(x):\n    return jnp.stack([x] * 3)\n")
    cold = run(tmp_path)
    warm = run(tmp_path)
    assert (cold.files_parsed, cold.cache_hits) == (2, 0)
    assert (warm.files_parsed, warm.cache_hits) == (0, 2)
    assert warm.findings == cold.findings
    write(tmp_path, "other.py", "import jax.numpy as jnp\n\ndef f(x, n):\n    return jnp.stack([x] * n)\n")
    edited = run(tmp_path)
    assert (edited.files_parsed, edited.cache_hits) == (1, 1)
    assert [f.path for f in edited.findings] == ["model.py", "other.py"]
    assert (tmp_path / ".jaxlint_cache" / "CACHEDIR.TAG").is_file()


def test_cache_follows_cross_file_traced_facts(tmp_path: Path) -> None:
    """Editing solve.py (removing the jit) changes what model.py's finding says: the cache
    must re-lint model.py although model.py itself did not change."""
    write(tmp_path, "pkg/__init__.py", "")
    write(tmp_path, "pkg/model.py", "import jax.numpy as jnp\n\ndef helper(y0, n):\n    return jnp.stack([y0] * n)\n")
    write(tmp_path, "pkg/solve.py", "import jax\nfrom pkg.model import helper\n\n@jax.jit\ndef solve(y0):\n    return helper(y0, 100)\n")
    first = run(tmp_path)
    assert "reached from `solve` (jitted at pkg/solve.py:4)" in first.findings[0].message
    write(tmp_path, "pkg/solve.py", "from pkg.model import helper\n\ndef solve(y0):\n    return helper(y0, 100)\n")
    second = run(tmp_path)
    assert len(second.findings) == 1 and "reached from" not in second.findings[0].message
    assert second.files_parsed == 1  # model.py only: solve.py has nothing for JL001


def test_no_cache_reads_and_writes_nothing(tmp_path: Path) -> None:
    write(tmp_path, "model.py", JITTED_REPEAT)
    result = run(tmp_path, use_cache=False)
    assert len(result.findings) == 1
    assert not (tmp_path / ".jaxlint_cache").exists()


def test_parallel_run_matches_serial(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import jaxlint.rules._runner as runner

    monkeypatch.setattr(runner, "PARALLEL_MIN_BYTES", 0)  # use workers even for small trees
    for index in range(8):
        write(tmp_path, f"m{index}.py", JITTED_REPEAT + f"\n\ndef pad(x):\n    return x + {index}\n")
    write(tmp_path, "broken.py", "def f(:\n")
    serial = run(tmp_path, jobs=1, use_cache=False)
    parallel = run(tmp_path, jobs=2, use_cache=False)
    assert len(serial.findings) == 9
    assert parallel.findings == serial.findings


# --- fixes -------------------------------------------------------------------------------------
def test_fix_writes_atomically_and_is_idempotent(tmp_path: Path) -> None:
    path = write(tmp_path, "model.py", JITTED_REPEAT)
    path.chmod(0o640)
    result = run(tmp_path, fix=True)
    assert (result.fixes_applied, result.fixed_files, result.findings) == (1, ["model.py"], [])
    assert path.read_text() == FIXED_REPEAT
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    again = run(tmp_path, fix=True)
    assert (again.fixes_applied, again.findings) == (0, [])
    assert [p.name for p in tmp_path.iterdir() if "jaxlint-tmp" in p.name] == []


def test_diff_writes_nothing(tmp_path: Path) -> None:
    path = write(tmp_path, "model.py", JITTED_REPEAT)
    result = run(tmp_path, diff=True)
    assert path.read_text() == JITTED_REPEAT
    assert len(result.diffs) == 1
    assert "-    return jnp.stack([0.25] * 10000)\n+    return jnp.broadcast_to(0.25, (10000, *jnp.shape(0.25)))" in result.diffs[0]


def test_unsafe_fixes_only_when_asked(tmp_path: Path) -> None:
    source = "import jax.numpy as jnp\n\ndef big(x):\n    return jnp.array([x] * 1000)\n"
    path = write(tmp_path, "model.py", source)
    assert run(tmp_path, fix=True).fixes_applied == 0
    assert path.read_text() == source
    assert run(tmp_path, fix=True, unsafe_fixes=True).fixes_applied == 1
    assert "jnp.broadcast_to(x, (1000, *jnp.shape(x)))" in path.read_text()


def test_fix_never_overwrites_a_concurrent_edit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import jaxlint.rules._engine as engine

    path = write(tmp_path, "model.py", JITTED_REPEAT)
    real_loop = engine._fix_loop

    def edit_meanwhile(*args, **kwargs):
        path.write_text(JITTED_REPEAT + "# edited by someone else\n")
        return real_loop(*args, **kwargs)

    monkeypatch.setattr(engine, "_fix_loop", edit_meanwhile)
    result = run(tmp_path, fix=True)
    assert path.read_text() == JITTED_REPEAT + "# edited by someone else\n"
    assert result.fixes_applied == 0
    assert result.warnings == ["model.py: changed since it was read; fix not written"]


# --- notebooks ---------------------------------------------------------------------------------
def _notebook(cells: list[tuple[str, str]]) -> str:
    return json.dumps(
        {
            "cells": [
                {"cell_type": kind, "metadata": {}, "source": text.splitlines(keepends=True),
                 **({"outputs": [], "execution_count": None} if kind == "code" else {})}
                for kind, text in cells
            ],
            "metadata": {"language_info": {"name": "python"}},
            "nbformat": 4,
            "nbformat_minor": 5,
        },
        indent=1,
    ) + "\n"


def test_notebook_findings_by_cell_and_fix_written_back(tmp_path: Path) -> None:
    cells = [
        ("markdown", "# A study"),
        ("code", "import jax\nimport jax.numpy as jnp\n%matplotlib inline"),
        ("code", "@jax.jit\ndef init(y0, ts):\n    return jnp.stack([0.25] * 10000)\n!ls"),
    ]
    path = write(tmp_path, "study.ipynb", _notebook(cells))
    result = run(tmp_path)
    assert [(f.path, f.cell, f.line, f.column, f.code) for f in result.findings] == [
        ("study.ipynb", 3, 3, 11, "JL001")
    ]
    assert "jitted at study.ipynb:" in result.findings[0].message
    fixed = run(tmp_path, fix=True)
    assert (fixed.fixes_applied, fixed.findings) == (1, [])
    document = json.loads(path.read_text())
    assert document["cells"][2]["source"] == [
        "@jax.jit\n", "def init(y0, ts):\n", "    return jnp.broadcast_to(0.25, (10000, *jnp.shape(0.25)))\n", "!ls",
    ]
    assert document["cells"][1]["source"][-1] == "%matplotlib inline"
    assert document["cells"][0]["source"] == ["# A study"]
    assert path.read_text().startswith('{\n "cells"')  # original indentation kept


def test_notebook_syntax_error_and_bad_json(tmp_path: Path) -> None:
    write(tmp_path, "bad.ipynb", _notebook([("code", "x = 1"), ("code", "def f(:\n    pass")]))
    write(tmp_path, "notjson.ipynb", "{ not json")
    found = {(f.path, f.cell, f.line, f.code) for f in run(tmp_path).findings}
    assert found == {("bad.ipynb", 2, 1, "JL000"), ("notjson.ipynb", None, 1, "JL000")}
