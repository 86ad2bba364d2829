"""Hostile and unlucky input (issue 11): nothing hangs, nothing aborts the run, no wrong
answers, and ``--fix`` keeps every byte and every file property it does not mean to change.

FIFOs, symlinks and deep trees are made at test time in ``tmp_path``. Cases that would hang
or exhaust memory if they regressed run ``jaxlint check`` in a subprocess with a timeout, so
a regression fails the test instead of stalling the suite.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from jaxlint._check_cmd import check
from jaxlint.rules import check_paths
from jaxlint.rules._config import ConfigError

JITTED_REPEAT = """\
import jax
import jax.numpy as jnp


@jax.jit
def init(y0, ts):
    return jnp.stack([0.25] * 10000)
"""
OLD_CALL = "jnp.stack([0.25] * 10000)"
NEW_CALL = "jnp.broadcast_to(0.25, (10000, *jnp.shape(0.25)))"


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)


def run(root: Path, *paths: str, **options):
    options.setdefault("select", ["JL001"])
    options.setdefault("jobs", 1)
    options.setdefault("use_cache", False)
    return check_paths([str(root / p) for p in paths] or [str(root)], **options)


def cli(*args: str):
    return CliRunner().invoke(check, ["--no-cache", "--jobs", "1", *args])


def cli_subprocess(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    """``jaxlint check`` in its own process: a hang or runaway read fails by timeout."""
    env = {**os.environ, "JAX_PLATFORMS": "cpu", "NO_COLOR": "1"}
    return subprocess.run([sys.executable, "-m", "jaxlint", "check", "--no-cache", "--jobs", "1", *args],
                          cwd=cwd, env=env, capture_output=True, text=True, timeout=120)


# --- 2. hangs ------------------------------------------------------------------------------------
def test_fifo_and_dev_zero_are_reported_not_read(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe.py")
    (tmp_path / "zero.py").symlink_to("/dev/zero")
    (tmp_path / "model.py").write_text(JITTED_REPEAT)
    expected = {
        "pipe.py:1:1: JL000 not a regular file (a FIFO); not checked",
        "zero.py:1:1: JL000 not a regular file (a character device); not checked",
    }
    for args in (["."], ["pipe.py", "zero.py", "model.py"]):  # found in a folder, and named directly
        done = cli_subprocess(tmp_path, "--select", "JL001", *args)
        assert done.returncode == 1, done.stderr
        lines = done.stdout.splitlines()
        assert expected <= set(lines)
        assert sum(line.startswith("model.py:7:12: JL001") for line in lines) == 1


def test_fifo_gitignore_and_config_do_not_hang(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    os.mkfifo(tmp_path / ".gitignore")
    (tmp_path / "model.py").write_text(JITTED_REPEAT)
    done = cli_subprocess(tmp_path, "--select", "JL001", ".")
    assert done.returncode == 1 and "model.py:7:12: JL001" in done.stdout
    assert ".gitignore: not a regular file (a FIFO)" in done.stderr
    os.mkfifo(tmp_path / "config.toml")
    done = cli_subprocess(tmp_path, "--config", "config.toml", ".")
    assert done.returncode == 2
    assert "config.toml: not a regular file (a FIFO)" in done.stderr


def test_many_double_stars_on_a_deep_tree(tmp_path: Path) -> None:
    """Ten `**/` against a 25-deep path is exponential for a backtracking matcher."""
    from jaxlint.rules._files import PATTERN_BACKEND

    assert PATTERN_BACKEND == "re2"  # pathspec's linear-time backend is installed and used
    (tmp_path / ".git").mkdir()
    deep = tmp_path.joinpath(*["a"] * 25)
    deep.mkdir(parents=True)
    (deep / "model.py").write_text(JITTED_REPEAT)
    (deep / "skip.py").write_text(JITTED_REPEAT)
    never = "/".join(["**/a"] * 10) + "/nothing.py"
    (tmp_path / ".gitignore").write_text(f"{never}\n**/a/**/a/**/a/**/a/**/a/**/a/**/a/**/a/**/a/**/a/**/skip.py\n")
    (tmp_path / "pyproject.toml").write_text(f'[tool.jaxlint]\nextend-exclude = ["{never}"]\n')
    found = [f.path for f in run(tmp_path).findings]
    assert found == ["/".join(["a"] * 25) + "/model.py"]


def test_noqa_with_a_long_run_of_spaces(tmp_path: Path) -> None:
    from jaxlint.rules._lint import suppressed_codes

    assert suppressed_codes("x = 1  # noqa: JL002" + " " * 50_000) == {"JL002"}
    assert suppressed_codes("x = 1  # noqa: JL001 ,  JL002," + " " * 50_000 + "x") == {"JL001", "JL002"}
    assert suppressed_codes("x  # noqa:" + " " * 50_000) == frozenset()  # no codes: blanket
    source = JITTED_REPEAT.replace("10000)\n", "10000)  # noqa: JL002" + " " * 20_000 + "\n")
    (tmp_path / "model.py").write_text(source)
    assert [f.code for f in run(tmp_path).findings] == ["JL001"]
    (tmp_path / "model.py").write_text(source.replace("JL002", "JL001"))
    assert run(tmp_path).findings == []


# --- 3. one bad input never aborts the run ----------------------------------------------------------
def _notebook(code: object, metadata: object) -> str:
    return json.dumps({"cells": [{"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None,
                                  "source": code}], "metadata": metadata, "nbformat": 4, "nbformat_minor": 5})


def test_malformed_notebooks_are_findings_and_the_rest_is_checked(tmp_path: Path) -> None:
    code = JITTED_REPEAT.splitlines(keepends=True)
    (tmp_path / "list_metadata.ipynb").write_text(_notebook(code, ["not", "a", "table"]))
    (tmp_path / "string_language.ipynb").write_text(_notebook(code, {"language_info": "python"}))
    (tmp_path / "int_source.ipynb").write_text(_notebook(["x = 1\n", 5], {}))
    (tmp_path / "deep.ipynb").write_text("[" * 100_000 + "]" * 100_000)
    (tmp_path / "big_number.ipynb").write_text('{"cells": [], "n": ' + "1" * 5000 + "}")
    (tmp_path / "surrogate.ipynb").write_text(_notebook(["s = '\\ud800'\n"], {}).replace("\\\\ud800", "\\ud800"))
    (tmp_path / "model.py").write_text(JITTED_REPEAT)
    found = sorted((f.path, f.code, f.message if f.code == "JL000" else "") for f in run(tmp_path).findings)
    assert found == [
        ("big_number.ipynb", "JL000", "not valid notebook JSON (Exceeds the limit (4300 digits) for integer string conversion)"),
        ("deep.ipynb", "JL000", "not a Jupyter notebook (JSON nested too deeply)"),
        ("int_source.ipynb", "JL000", "cell 1: `source` must be a string or a list of strings"),
        ("list_metadata.ipynb", "JL001", ""),  # malformed metadata says nothing: checked as Python
        ("model.py", "JL001", ""),
        ("string_language.ipynb", "JL001", ""),
        ("surrogate.ipynb", "JL000", "cell 1: source has a lone surrogate (U+D800)"),
    ]
    result = cli("--select", "JL001", ".")
    assert result.exit_code == 1 and "Traceback" not in result.output


@pytest.mark.parametrize(
    "toml, message",
    [
        ("tool = 5\n", "pyproject.toml: `tool` must be a table, got 5"),
        ('[tool.jaxlint]\nextend-exclude = ["[z-a]"]\n', "extend-exclude: invalid pattern '[z-a]'"),
        ('[tool.jaxlint]\nexclude = ["ok/", "bad\\\\"]\n', "exclude: invalid pattern 'bad\\\\'"),
        ('[tool.jaxlint]\nper-file-ignores = { "[z-a]" = ["JL001"] }\n', "per-file-ignores: invalid pattern '[z-a]'"),
        ('[tool.jaxlint]\nselect = ["JL999"]\n', "select: unknown rule code 'JL999'"),
        ('[tool.jaxlint]\nignore = ["JL9"]\n', "ignore: unknown rule code 'JL9'"),
        ("[tool.jaxlint]\nmax-file-size = inf\n", "max-file-size: expected a number of MB in (0, 1024], got inf"),
        ("[tool.jaxlint]\nmax-file-size = nan\n", "max-file-size: expected a number of MB in (0, 1024], got nan"),
        ("a = " + "[" * 50_000 + "]" * 50_000 + "\n", "pyproject.toml: cannot read (nested too deeply)"),
    ],
)
def test_bad_config_is_one_line_and_exit_2(tmp_path: Path, toml: str, message: str) -> None:
    (tmp_path / "pyproject.toml").write_text(toml)
    (tmp_path / "model.py").write_text(JITTED_REPEAT)
    with pytest.raises(ConfigError, match=re.escape(message)):
        check_paths([str(tmp_path)], jobs=1)
    result = cli(".")
    assert result.exit_code == 2
    assert result.output.count("\n") == 1 and message in result.output


def test_bad_gitignore_line_is_skipped_with_a_warning(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    (tmp_path / ".gitignore").write_text("[z-a]\nskipped_*.py\n[]]\n")
    for name in ("model.py", "skipped_one.py", "]"):
        (tmp_path / name).write_text(JITTED_REPEAT)
    result = run(tmp_path)
    assert [f.path for f in result.findings] == ["model.py"]  # the good line still applies
    assert result.warnings == [f"{tmp_path}/.gitignore:1: invalid pattern skipped (bad character range z-a at position 10)"]
    done = cli("--select", "JL001", ".")
    assert done.exit_code == 1 and ".gitignore:1: invalid pattern skipped" in done.output


def test_a_folder_that_cannot_be_listed_is_a_warning(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "locked").mkdir()
    (tmp_path / "locked" / "model.py").write_text(JITTED_REPEAT)
    (tmp_path / "model.py").write_text(JITTED_REPEAT)
    real_scandir = os.scandir

    def scandir(path=".", *args):  # the tests run as root: chmod alone cannot deny listing
        if os.fspath(path).endswith("locked"):
            raise PermissionError(13, "Permission denied", os.fspath(path))
        return real_scandir(path, *args)

    monkeypatch.setattr(os, "scandir", scandir)
    result = run(tmp_path)
    assert [f.path for f in result.findings] == ["model.py"]
    assert result.warnings == [f"{tmp_path}/locked: cannot list folder (Permission denied); its files are not checked"]


def test_huge_gitignore_is_matched_in_chunks(tmp_path: Path) -> None:
    """Thousands of lines (more than one matcher holds) and a line longer than any path."""
    (tmp_path / ".git").mkdir()
    lines = [f"generated_{i}_*.py" for i in range(2000)]
    lines[1500] = "skip_me.py"
    lines[10] = "**/" * 5000 + "x.py"
    lines.append("!generated_7_keep.py")
    (tmp_path / ".gitignore").write_text("\n".join(lines) + "\n")
    for name in ("model.py", "skip_me.py", "generated_1999_a.py", "generated_7_keep.py"):
        (tmp_path / name).write_text(JITTED_REPEAT)
    result = run(tmp_path)
    assert sorted(f.path for f in result.findings) == ["generated_7_keep.py", "model.py"]
    assert result.warnings == [f"{tmp_path}/.gitignore:11: invalid pattern skipped (pattern longer than 4096 characters)"]


def test_symlink_loop_and_missing_path_on_the_command_line(tmp_path: Path) -> None:
    (tmp_path / "model.py").write_text(JITTED_REPEAT)
    (tmp_path / "loop_a.py").symlink_to("loop_b.py")
    (tmp_path / "loop_b.py").symlink_to("loop_a.py")
    looped = cli("--select", "JL001", "loop_a.py", "model.py")  # loop_a.py first: the config search starts there
    assert looped.exit_code == 1
    assert "loop_a.py:1:1: JL000 cannot read file: Too many levels of symbolic links" in looped.output
    assert "model.py:7:12: JL001" in looped.output
    missing = cli("--select", "JL001", "nope.py", "model.py")
    assert missing.exit_code == 2
    assert "nope.py: no such file or directory" in missing.output and "model.py:7:12: JL001" in missing.output
    alone = cli("nope.py")
    assert alone.exit_code == 2 and "All checks passed!" not in alone.output


# --- 4. wrong answers --------------------------------------------------------------------------------
@pytest.mark.parametrize("separator", ["\f", "\u2028", "\x0b", "\x1c", "\x85"])
def test_line_separators_python_does_not_count(tmp_path: Path, separator: str) -> None:
    """str.splitlines() splits at these, Python's tokenizer does not: noqa and the snippet
    must use Python's lines."""
    header = f"x = 1  # one{separator}line\ny = '{separator}'\n" if separator != "\f" else "x = 1\n\f\n"
    source = header + JITTED_REPEAT
    line = source.count("\n") - 0  # the finding is on the last line
    (tmp_path / "model.py").write_text(source, encoding="utf-8")
    result = run(tmp_path)
    assert [(f.line, f.code) for f in result.findings] == [(line, "JL001")]
    assert result.sources[("model.py", None)][line - 1] == f"    return {OLD_CALL}"
    (tmp_path / "model.py").write_text(source.replace("10000)\n", "10000)  # noqa: JL001\n"), encoding="utf-8")
    assert run(tmp_path).findings == []


def test_unknown_selector_on_the_command_line_is_a_usage_error(tmp_path: Path) -> None:
    from jaxlint.rules._catalogue import all_rules
    from jaxlint.rules._config import known_codes

    assert known_codes() == {"JL000", *(r.CODE for r in all_rules())}
    (tmp_path / "model.py").write_text(JITTED_REPEAT)
    for option in ("--select", "--extend-select", "--ignore"):
        result = cli(option, "JL999", "model.py")
        assert result.exit_code == 2 and "unknown rule code 'JL999'" in result.output
    assert cli("--select", "JL0", "model.py").exit_code == 1  # a prefix that selects rules is fine


@pytest.mark.parametrize("ending", ["\r", "\r\n", "mixed"])
def test_fix_with_cr_line_endings(tmp_path: Path, ending: str) -> None:
    if ending == "mixed":  # one stray CR in an LF file
        source = "x = 1\r# comment\n" + JITTED_REPEAT
    else:
        source = JITTED_REPEAT.replace("\n", ending)
    path = tmp_path / "model.py"
    path.write_bytes(source.encode())
    result = run(tmp_path, fix=True)
    assert (result.fixes_applied, result.findings, result.errors, result.warnings) == (1, [], [], [])
    assert path.read_bytes() == source.replace(OLD_CALL, NEW_CALL).encode()


def test_a_refused_fix_is_reported(tmp_path: Path) -> None:
    from jaxlint.rules._engine import _fix_loop
    from jaxlint.rules._findings import Edit, Finding, Fix

    source = "x = f(1)\n"
    broken = Fix("safe", (Edit(1, 4, 1, 8, "f(", 4, 8),))
    finding = Finding("m.py", 1, 4, 1, 8, "JL001", "stack-of-repeats", "m", broken)
    problems: list[str] = []
    text, applied, remaining = _fix_loop(source, "m.py", lambda text: [finding], False, problems)
    assert (text, applied) == (source, 0)
    assert len(problems) == 1 and problems[0].startswith("m.py: JL001 fix not applied: the fixed code would not parse")


# --- 5. --fix keeps every byte and file property it does not mean to change -------------------------
def test_notebook_fix_edits_the_cell_source_in_place(tmp_path: Path) -> None:
    magic_lookalike = "z = 2  # jaxlint: IPython syntax\n"
    document = json.dumps(
        {
            "cells": [
                {"cell_type": "markdown", "metadata": {}, "source": ["Caf\u00e9 \u2014 notes"]},
                {"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": 1,
                 "source": ["import jax\n", "import jax.numpy as jnp\n", "%matplotlib inline\n", magic_lookalike,
                            "label = '\u00e9t\u00e9'"]},
                {"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": 2,
                 "source": ["@jax.jit\n", "def init(y0, ts):\n", f"    return {OLD_CALL}\n", "!ls"]},
            ],
            "metadata": {"language_info": {"name": "python"}},
            "nbformat": 4, "nbformat_minor": 5,
        },
        indent="\t", ensure_ascii=True,
    ).replace("\n", "\r\n") + "\r\n"
    path = tmp_path / "study.ipynb"
    path.write_bytes(b"\xef\xbb\xbf" + document.encode())
    result = run(tmp_path, fix=True)
    assert (result.fixes_applied, result.findings, result.warnings) == (1, [], [])
    expected = document.replace(json.dumps(f"    return {OLD_CALL}\n"), json.dumps(f"    return {NEW_CALL}\n"))
    assert expected != document
    assert path.read_bytes() == b"\xef\xbb\xbf" + expected.encode()
    loaded = json.loads(expected)
    assert loaded["cells"][1]["source"][3] == magic_lookalike  # a user's line is never taken for a magic


def test_notebook_fix_that_changes_the_line_count(tmp_path: Path) -> None:
    from jaxlint.rules._notebook import Cell, Notebook, dump_notebook, source_tokens

    document = '{"cells": [{"cell_type": "code", "source": [\n  "a = 1\\n",\n  "b = 2\\n",\n  "c = 3"\n ]}]}\n'
    for new, tokens in [
        ("a = 1\nb = 20\nextra = 4\nc = 3", ["a = 1\n", "b = 20\n", "extra = 4\n", "c = 3"]),
        ("a = 1\nc = 3", ["a = 1\n", "c = 3"]),
        ("c = 3", ["c = 3"]),
        ("zero\na = 1\nb = 2\nc = 3", ["zero\n", "a = 1\n", "b = 2\n", "c = 3"]),
    ]:
        cell = Cell(1, "a = 1\nb = 2\nc = 3", True)
        cell.source = new
        dumped = dump_notebook(Notebook(document, [cell]))
        assert json.loads(dumped)["cells"][0]["source"] == tokens
        assert dumped.startswith('{"cells": [{"cell_type": "code", "source": [\n  "')
        assert len(source_tokens(dumped)[1]) == len(tokens)


def test_fix_writes_through_symlinks_and_keeps_links_mode_and_owner(tmp_path: Path) -> None:
    real = tmp_path / "real"
    real.mkdir()
    target = real / "model.py"
    target.write_text(JITTED_REPEAT)
    target.chmod(0o640)
    (tmp_path / "link.py").symlink_to(target)
    (real / "hard.py").unlink(missing_ok=True)
    os.link(target, real / "hard.py")
    if os.geteuid() == 0:
        os.chown(target, 1234, 5678)
    before = os.stat(target)
    result = run(tmp_path, "link.py", fix=True)
    assert (result.fixes_applied, result.fixed_files) == (1, ["link.py"])
    assert (tmp_path / "link.py").is_symlink()
    after = os.stat(target)
    assert target.read_text() == JITTED_REPEAT.replace(OLD_CALL, NEW_CALL)
    assert (real / "hard.py").read_text() == target.read_text()  # still one file with two names
    assert (after.st_ino, after.st_nlink, after.st_mode, after.st_uid, after.st_gid) == (
        before.st_ino, 2, before.st_mode, before.st_uid, before.st_gid)


def test_fix_keeps_owner_of_a_single_link_file(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("changing a file's owner needs root")
    path = tmp_path / "model.py"
    path.write_text(JITTED_REPEAT)
    os.chown(path, 1234, 5678)
    path.chmod(0o604)
    assert run(tmp_path, fix=True).fixes_applied == 1
    info = os.stat(path)
    assert (info.st_uid, info.st_gid, info.st_mode & 0o777) == (1234, 5678, 0o604)
    assert [p.name for p in tmp_path.iterdir()] == ["model.py"]


def test_notebook_string_source_keeps_escapes_outside_the_change() -> None:
    from jaxlint.rules._notebook import _edit_token, load_notebook, dump_notebook

    token = '"caf\\u00e9 \\ud83d\\ude00 \\/ x = stack(a)\\n"'
    assert _edit_token(token, "caf\u00e9 \U0001f600 / x = tile(a)\n", True) == '"caf\\u00e9 \\ud83d\\ude00 \\/ x = tile(a)\\n"'
    document = '{"cells": [{"cell_type": "code", "source": "a = 1\\r\\nb = \\"\\u00e9\\"\\r"},\n {"cell_type": "code", "source": "\\nc = 3"}]}'
    notebook = load_notebook(document)
    joined, spans = notebook.module_source()
    assert joined == 'a = 1\r\nb = "\u00e9"\r\n\nc = 3\n' and spans == [(1, 1, 2), (2, 3, 2)]
    notebook.cells[0].source = notebook.cells[0].source.replace("a = 1", "a = 10")
    assert dump_notebook(notebook) == document.replace('"a = 1', '"a = 10')
