"""``jaxlint check``/``rules``/``rule`` on the command line: exit codes, formats, the hooks."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from jaxlint._check_cmd import check, rule, rules

REPO = Path(__file__).resolve().parents[2]
SOURCE = """\
import jax
import jax.numpy as jnp


@jax.jit
def init(y0, ts):
    return jnp.stack([0.25] * 10000)
"""


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "model.py").write_text(SOURCE)
    (tmp_path / "clean.py").write_text("x = 1\n")
    return tmp_path


def invoke(*args: str):
    return CliRunner().invoke(check, ["--select", "JL001", "--jobs", "1", *args])


def test_exit_codes(project: Path) -> None:
    assert invoke("clean.py").exit_code == 0
    assert invoke().exit_code == 1  # default path "."
    assert invoke("--exit-zero").exit_code == 0
    missing = invoke("clean.py", "nope.py")
    assert missing.exit_code == 2
    assert "nope.py: no such file or directory" in missing.output
    bad = CliRunner().invoke(check, ["--select", "E501", "clean.py"])
    assert bad.exit_code == 2 and "'E501' is not a rule code" in bad.output


def test_text_output_shows_snippet_and_fix(project: Path) -> None:
    result = invoke("model.py")
    lines = result.output.splitlines()
    assert lines[0].startswith("model.py:7:12: JL001 [*] `jnp.stack` of `[x] * n`")
    assert "7 |     return jnp.stack([0.25] * 10000)" in lines
    assert "  |            ^^^^^^^^^^^^^^^^^^^^^^^^^ JL001" in lines
    assert lines[4:6] == ["  = fix (safe):", "        return jnp.broadcast_to(0.25, (10000, *jnp.shape(0.25)))"]
    assert lines[-2:] == ["Found 1 error.", "[*] 1 fixable with the `--fix` option."]
    assert invoke("clean.py").output == "All checks passed!\n"


def test_json_output(project: Path) -> None:
    payload = json.loads(invoke("--output-format", "json", "model.py").output)
    assert payload["schema"] == "jaxlint.check/1"
    assert payload["summary"] == {"findings": 1, "fixable": 1, "files": 1, "fixed": 0}
    (finding,) = payload["findings"]
    assert {k: finding[k] for k in ("path", "line", "column", "end_line", "end_column", "code", "cell")} == {
        "path": "model.py", "line": 7, "column": 12, "end_line": 7, "end_column": 37, "code": "JL001", "cell": None,
    }
    assert finding["fix"] == {
        "applicability": "safe",
        # the minimal edit: `stack([0.25] * 10000` -> `broadcast_to(0.25, (10000, *jnp.shape(0.25))`
        "edits": [{"line": 7, "column": 16, "end_line": 7, "end_column": 36,
                   "content": "broadcast_to(0.25, (10000, *jnp.shape(0.25))"}],
    }
    clean = json.loads(invoke("--output-format", "json", "clean.py").output)
    assert clean["findings"] == [] and clean["summary"]["findings"] == 0


def test_github_and_sarif_output(project: Path) -> None:
    github = invoke("--output-format", "github", "model.py").output
    assert github.startswith("::error title=JL001 (stack-of-repeats),file=model.py,line=7,col=12,endLine=7,endColumn=37::JL001 ")
    assert github.count("\n") == 1
    sarif = json.loads(invoke("--output-format", "sarif", "model.py").output)
    assert sarif["version"] == "2.1.0"
    run = sarif["runs"][0]
    rule_ids = [r["id"] for r in run["tool"]["driver"]["rules"]]
    assert rule_ids[0] == "JL000" and "JL001" in rule_ids
    (result,) = run["results"]
    assert result["ruleId"] == "JL001" and rule_ids[result["ruleIndex"]] == "JL001"
    region = result["locations"][0]["physicalLocation"]["region"]
    assert region == {"startLine": 7, "startColumn": 12, "endLine": 7, "endColumn": 37}
    replacement = result["fixes"][0]["artifactChanges"][0]["replacements"][0]
    assert replacement["insertedContent"]["text"] == "broadcast_to(0.25, (10000, *jnp.shape(0.25))"


def test_statistics(project: Path) -> None:
    (project / "other.py").write_text(SOURCE.replace("init", "other"))
    (project / "broken.py").write_text("def f(:\n")
    text = invoke("--statistics").output
    assert text == "2\tJL001\t[*] stack-of-repeats\n1\tJL000\t[ ] syntax-error\n"
    rows = json.loads(invoke("--statistics", "--output-format", "json").output)
    assert rows == [
        {"code": "JL001", "name": "stack-of-repeats", "count": 2, "fixable": True},
        {"code": "JL000", "name": "syntax-error", "count": 1, "fixable": False},
    ]


def test_diff_then_fix(project: Path) -> None:
    diff = invoke("--diff", "model.py")
    assert diff.exit_code == 1
    assert "+    return jnp.broadcast_to(0.25, (10000, *jnp.shape(0.25)))" in diff.output
    assert (project / "model.py").read_text() == SOURCE
    fixed = invoke("--fix", "model.py")
    assert fixed.exit_code == 0
    assert "Found 1 error (1 fixed, 0 remaining)." in fixed.output
    assert "jnp.broadcast_to" in (project / "model.py").read_text()
    assert invoke("--diff", "model.py").exit_code == 0  # nothing left to fix


def test_rules_and_rule_commands() -> None:
    listing = CliRunner().invoke(rules, [])
    assert listing.exit_code == 0
    assert any(line.startswith("JL001  stack-of-repeats") for line in listing.output.splitlines())
    catalogue = json.loads(CliRunner().invoke(rules, ["--output-format", "json"]).output)
    assert catalogue["schema"] == "jaxlint.rules/1"
    assert catalogue["rules"][0]["code"] == "JL001" and catalogue["rules"][0]["fix"] == "safe"
    doc = CliRunner().invoke(rule, ["JL001"])
    assert doc.exit_code == 0
    for section in ("# JL001 stack-of-repeats", "## Why it costs", "## Example (fires)", "## Use instead",
                    "## Fix safety", "## References", "diffrax#606"):
        assert section in doc.output
    assert CliRunner().invoke(rule, ["stack-of-repeats"]).output == doc.output
    unknown = CliRunner().invoke(rule, ["JL999"])
    assert unknown.exit_code == 2 and "unknown rule 'JL999'" in unknown.output


def test_commands_are_registered_on_main() -> None:
    import click

    from jaxlint.cli import main

    context = click.Context(main)
    assert {"check", "rules", "rule"} <= set(main.list_commands(context))
    for name in ("check", "rules", "rule"):
        assert isinstance(main.get_command(context, name), click.Command)


def test_check_does_not_import_jax() -> None:
    """Commands load lazily: pre-commit's `jaxlint check` never pays for importing jax."""
    import subprocess
    import sys

    code = "import sys; from jaxlint.cli import main; main(['check', '--exit-zero', '--no-cache', __file__], standalone_mode=False); print('jax' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code.replace("__file__", repr(__file__))], capture_output=True, text=True, check=True).stdout
    assert out.strip().splitlines()[-1] == "False"


def test_pre_commit_manifest_is_valid() -> None:
    from pre_commit.clientlib import load_manifest

    hooks = {hook["id"]: hook for hook in load_manifest(str(REPO / ".pre-commit-hooks.yaml"))}
    assert set(hooks) == {"jaxlint", "jaxlint-fix"}
    assert hooks["jaxlint"]["entry"] == "jaxlint check"
    assert hooks["jaxlint-fix"]["entry"] == "jaxlint check --fix"
    for hook in hooks.values():
        assert hook["require_serial"] is True
        assert hook["pass_filenames"] is True
        assert hook["language"] == "python"
        assert set(hook["types_or"]) == {"python", "pyi", "jupyter"}
