"""ruff's command-line manners for ``jaxlint`` and ``jaxlint check``: stdin, --quiet, excludes,
--show-fixes, -V, bare ``jaxlint``, one error prefix, colour only on a terminal, ruff's fix
counts, the JSON schema id, and the rule catalogue's explanations and links.

Most tests run the real entry point in a subprocess (``python -m jaxlint``): what a user or a
pre-commit hook sees, piped (so never a terminal), with click's standalone error handling.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ANSI = re.compile(r"\x1b\[[0-9;]*m")
ROOT = Path(__file__).resolve().parents[1]
SOURCE = textwrap.dedent(
    """\
    import jax
    import jax.numpy as jnp


    @jax.jit
    def init(y0, ts):
        return jnp.stack([0.25] * 10000)
    """
)
FIXED = SOURCE.replace("jnp.stack([0.25] * 10000)", "jnp.broadcast_to(0.25, (10000, *jnp.shape(0.25)))")
# JL001 (safe fix) and JL002 (no fix) in one jitted function.
TWO = SOURCE + textwrap.dedent(
    """\


    @jax.jit
    def euler(y0, ts):
        ys = [y0]
        for i in range(len(ts) - 1):
            ys.append(ys[-1] * ts[i])
        return jnp.stack([0.25] * 10000), ys
    """
)


def jaxlint(*args: str, cwd: Path, stdin: str | None = None, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "FORCE_COLOR", "COLUMNS")}
    environment.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "jaxlint", *args], cwd=cwd, input=stdin, capture_output=True, text=True, env=environment,
        timeout=120,
    )


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "pyproject.toml").write_text("[tool.jaxlint]\n")
    (tmp_path / "model.py").write_text(SOURCE)
    (tmp_path / "clean.py").write_text("x = 1\n")
    return tmp_path


def test_bare_jaxlint_prints_help_and_version(tmp_path: Path) -> None:
    bare = jaxlint(cwd=tmp_path)
    assert bare.returncode == 0 and bare.stderr == ""
    assert bare.stdout.startswith("Usage: jaxlint [OPTIONS] [COMMAND] [ARGS]...")
    for command in ("check", "scale", "residuals", "rules", "rule", "server"):
        assert re.search(rf"^  {command} ", bare.stdout, re.M), command
    from jaxlint import __version__

    for flag in ("-V", "--version"):
        version = jaxlint(flag, cwd=tmp_path)
        assert (version.returncode, version.stdout) == (0, f"jaxlint {__version__}\n")


def test_one_error_prefix(project: Path) -> None:
    for args, message in [
        (("nope",), "error: No such command 'nope'."),
        (("check", "--bogus"), "error: No such option '--bogus'"),
        (("check", "missing.py"), "error: missing.py: no such file or directory"),
        (("check", "--select", "JL999", "model.py"), "error: "),
        (("rule", "JL999"), "error: unknown rule 'JL999'"),
        (("check", "-", "model.py"), "error: '-' (stdin) cannot be combined with other paths"),
        (("check", "--stdin-filename", "x.py", "model.py"), "error: --stdin-filename needs the path '-'"),
    ]:
        result = jaxlint(*args, cwd=project)
        assert result.returncode == 2, args
        assert message in result.stderr, (args, result.stderr)
        assert "jaxlint: error" not in result.stderr and "Error:" not in result.stderr, args
        assert all(line.startswith(("error: ", "Usage: ", "Try ")) or not line for line in result.stderr.splitlines()), args


def test_stdin_with_stdin_filename(project: Path) -> None:
    linted = jaxlint("check", "-", "--stdin-filename", "model.py", cwd=project, stdin=SOURCE)
    assert linted.returncode == 1
    assert linted.stdout.startswith("model.py:7:12: JL001 [*] ")
    assert "Found 1 error." in linted.stdout
    anonymous = jaxlint("check", "-", cwd=project, stdin=SOURCE)
    assert anonymous.stdout.startswith("-:7:12: JL001 ")
    # --fix: the fixed code on stdout (a formatter-style filter), the report on stderr; no file written.
    fixed = jaxlint("check", "-", "--fix", "--stdin-filename", "new.py", cwd=project, stdin=SOURCE)
    assert (fixed.returncode, fixed.stdout) == (0, FIXED)
    assert "Found 1 error (1 fixed, 0 remaining)." in fixed.stderr
    assert not (project / "new.py").exists()


def test_stdin_gets_the_project_context(project: Path) -> None:
    """A helper read from stdin is traced because a file on disk jits it (JL002 fires in traced code only)."""
    (project / "solve.py").write_text("import jax\nfrom helper import step\n\nrun = jax.jit(step)\n")
    helper = "def step(ys, ts):\n    for i in range(len(ts)):\n        ys = ys + ts[i]\n    return ys\n"
    inside = jaxlint("check", "-", "--stdin-filename", "helper.py", "--output-format", "json", cwd=project, stdin=helper)
    (finding,) = json.loads(inside.stdout)["findings"]
    assert (finding["path"], finding["code"]) == ("helper.py", "JL002")
    alone = jaxlint("check", "-", "--stdin-filename", "unrelated.py", cwd=project, stdin=helper)  # nothing jits it
    assert alone.returncode == 0 and alone.stdout == "All checks passed!\n"


def test_quiet(project: Path) -> None:
    quiet = jaxlint("check", "-q", "model.py", cwd=project)
    assert quiet.returncode == 1
    assert quiet.stdout.startswith("model.py:7:12: JL001")
    assert "Found" not in quiet.stdout and "fixable" not in quiet.stdout
    assert jaxlint("check", "--quiet", "clean.py", cwd=project).stdout == ""


def test_exclude_and_extend_exclude(project: Path) -> None:
    (project / "legacy").mkdir()
    (project / "legacy" / "old.py").write_text(SOURCE)
    everything = json.loads(jaxlint("check", "--output-format", "json", ".", cwd=project).stdout)
    assert sorted(f["path"] for f in everything["findings"]) == ["legacy/old.py", "model.py"]
    extended = json.loads(jaxlint("check", "--format", "json", "--extend-exclude", "legacy/", ".", cwd=project).stdout)
    assert [f["path"] for f in extended["findings"]] == ["model.py"]
    replaced = json.loads(jaxlint("check", "--format", "json", "--exclude", "model.py,legacy", ".", cwd=project).stdout)
    assert replaced["findings"] == [] and replaced["summary"]["files"] == 1  # clean.py


def test_fix_counts_and_show_fixes(project: Path) -> None:
    (project / "two.py").write_text(TWO)
    before = jaxlint("check", "two.py", cwd=project)
    assert "Found 3 errors." in before.stdout  # JL001 twice, JL002 once
    fixed = jaxlint("check", "--fix", "--show-fixes", "two.py", cwd=project)
    assert fixed.returncode == 1
    lines = fixed.stdout.splitlines()
    assert "Found 3 errors (2 fixed, 1 remaining)." in lines
    assert lines[-3:] == ["Fixed 2 errors:", "- two.py:", "    2 × JL001 (stack-of-repeats)"]
    assert [line.split(": ")[1].split()[0] for line in lines if line.startswith("two.py:")] == ["JL002"]


def test_json_schema_id_and_version(project: Path) -> None:
    from jaxlint import __version__

    for flag in ("--output-format", "--format"):
        payload = json.loads(jaxlint("check", flag, "json", "model.py", cwd=project).stdout)
        assert payload["schema"] == "jaxlint.check/1"
        assert payload["jaxlint_version"] == __version__
    for args, schema in ((("rules",), "jaxlint.rules/1"), (("rule", "JL001"), "jaxlint.rule/1")):
        payload = json.loads(jaxlint(*args, "--format", "json", cwd=project).stdout)
        assert (payload["schema"], payload["jaxlint_version"]) == (schema, __version__)


def test_colour_only_on_a_terminal(project: Path) -> None:
    piped = jaxlint("check", "model.py", cwd=project)
    assert not ANSI.search(piped.stdout)
    forced = jaxlint("check", "model.py", cwd=project, env={"FORCE_COLOR": "1"})
    assert ANSI.search(forced.stdout)
    assert ANSI.sub("", forced.stdout) == piped.stdout  # the same text, only styled
    no_color = jaxlint("check", "model.py", cwd=project, env={"FORCE_COLOR": "1", "NO_COLOR": "1"})
    assert no_color.stdout == piped.stdout


def test_piped_console_is_not_wrapped_at_80_columns(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    from rich.table import Table

    from jaxlint._console import UNWRAPPED_WIDTH, make_console

    monkeypatch.delenv("COLUMNS", raising=False)
    table = Table()
    for name in ("figure", "n=1,000", "n=10,000", "n=30,000", "fit"):
        table.add_column(name)
    table.add_row("lower_seconds", "0.025", "0.176", "0.545", "linear: +1.79e-05 s per n " + "x" * 80)
    console = make_console()
    assert console.width == UNWRAPPED_WIDTH and not console.is_terminal
    console.print(table)
    rows = capsys.readouterr().out.splitlines()
    assert len(rows) == 5 and len(rows[3]) > 120  # one line per row, however wide
    monkeypatch.setenv("COLUMNS", "100")
    assert make_console().width == 100


def test_rules_listing_explains_its_columns() -> None:
    from click.testing import CliRunner

    from jaxlint._check_cmd import rules

    listing = CliRunner().invoke(rules, []).output
    header, *_ = listing.splitlines()
    assert header.split() == ["code", "name", "fix", "fires", "in", "message"]
    assert "pitfall" not in listing.lower()
    assert "fix: safe (applied by --fix), unsafe (needs --unsafe-fixes), none." in listing
    assert "fires in: traced = only in jitted/vmapped/differentiated code" in listing


def test_every_rule_page_links_its_references() -> None:
    from jaxlint.rules._catalogue import all_rules, reference_url, rule_doc

    for rule in all_rules():
        doc = rule_doc(rule)
        assert "Pitfall" not in doc, rule.CODE
        assert rule.REFERENCES, rule.CODE
        for reference in rule.REFERENCES:
            url = reference_url(reference)
            assert url is not None and url.startswith("https://"), (rule.CODE, reference)
            assert f"[{reference}]({url})" in doc
    assert reference_url("diffrax#606") == "https://github.com/patrick-kidger/diffrax/issues/606"
    assert reference_url("diffrax PR #618 (fixed)") == "https://github.com/patrick-kidger/diffrax/pull/618"
    assert reference_url("jax#2777") == "https://github.com/jax-ml/jax/issues/2777"


def test_606_figures_agree() -> None:
    """The #606 compile times are quoted in three places; they must be the same figures."""
    root = ROOT
    from jaxlint.rules._catalogue import rule_by_code, rule_doc

    quoted = {
        "README intro": (root / "README.md").read_text().split("## Set up")[0],
        "jaxlint rule JL001": rule_doc(rule_by_code("JL001")),
        "examples/diffrax_606.py": (root / "examples" / "diffrax_606.py").read_text(),
    }
    figures = re.compile(r"(\d+(?:\.\d+)?) s / (\d+) s / (?:>|more than) ?(\d+) min")
    found = {where: figures.search(" ".join(text.split())) for where, text in quoted.items()}
    assert all(found.values()), {k: bool(v) for k, v in found.items()}
    assert len({m.groups() for m in found.values()}) == 1, {k: m.group(0) for k, m in found.items()}
    results = (root / "benchmarks" / "RESULTS.md").read_text()
    seconds_1k, seconds_10k, _ = next(iter(found.values())).groups()
    assert f"| n = 1k | {seconds_1k} |" in results and f"| n = 10k | {seconds_10k}" in results


def test_scale_table_is_not_wrapped_when_piped(tmp_path: Path) -> None:
    """CI logs: a table wider than 80 columns keeps one line per row (COLUMNS still narrows it)."""
    target = f"{ROOT / 'examples' / 'growth_cases.py'}::stacked_save_buffer"
    args = ("scale", target, "--n", "16,64,256,1024", "--in-process")
    piped = jaxlint(*args, cwd=tmp_path)
    assert piped.returncode == 1, piped.stderr
    table = [line for line in piped.stdout.splitlines() if line and line[0] in "┏┃┡│└"]
    assert {len(line) for line in table} == {86}  # the table's natural width
    assert len([line for line in table if line.startswith("│")]) == len({line.split()[1] for line in table if line.startswith("│")})
    assert not ANSI.search(piped.stdout)
    narrow = jaxlint(*args, cwd=tmp_path, env={"COLUMNS": "70"})
    assert {len(line) for line in narrow.stdout.splitlines() if line and line[0] in "┏┃┡│└"} == {70}
