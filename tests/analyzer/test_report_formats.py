"""Report formats: markdown (a PR comment), github (annotations on the growing lines), json, --plot."""

import json
import os
import sys

from click.testing import CliRunner

from jaxlint.analyzer.attribute import display_path
from jaxlint.cli import main

HERE = os.path.dirname(__file__)
PROGRAMS = os.path.join(HERE, "growth_programs.py")
STACKED = f"{PROGRAMS}::stacked_buffer"


def run(*args):
    result = CliRunner().invoke(main, ["scale", *args, "--in-process"], catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def test_markdown_is_a_pr_comment_with_the_rewrite(marked_lines):
    code, out, _ = run(STACKED, "--n", "16,64,256", "--format", "markdown")
    assert code == 1
    assert out.startswith("## jaxlint scale: FAIL\n\n0 of 1 case(s) ok, lowered for `cpu`.\n")
    assert "### FAIL `growth_programs.py::stacked_buffer`" in out
    assert "| figure | n=16 | n=64 | n=256 | fit | |" in out
    assert "| ops_inlined | 18 | 70 | 274 | linear: +1.07 ops per n | **FLAG** |" in out
    assert "| longest_run | 16 | 64 | 256 | linear: +1 repeats per n | **FLAG** |" in out
    line = f"`{display_path(PROGRAMS)}:{marked_lines['stack']}` 17 → 69 → 273 (+240 broadcast_in_dim, +16 concatenate)"
    assert line in out
    assert "  - **JL001** stack-of-repeats:" in out
    assert "    - return jnp.stack([y0] * ts.shape[0])  # LINE: stack" in out
    assert "    + return jnp.broadcast_to(y0, (ts.shape[0], *jnp.shape(y0)))  # LINE: stack" in out
    assert out.count("**JL001**") == 1  # once per line, though the ops and the run both point at it


def test_markdown_ok_case():
    code, out, _ = run(f"{PROGRAMS}::scan_euler", "--n", "16,64", "--format", "markdown")
    assert code == 0
    assert out.startswith("## jaxlint scale: OK\n") and "### OK `growth_programs.py::scan_euler`" in out


def test_github_annotations_sit_on_the_growing_line(marked_lines):
    code, out, _ = run(STACKED, "--n", "16,64,256", "--format", "github")
    assert code == 1
    lines = out.splitlines()
    assert len(lines) == 1  # one growing line, annotated once for all its flags
    prefix = f"::error file={display_path(PROGRAMS)},line={marked_lines['stack']},title=jaxlint scale growth_programs.py%3A%3Astacked_buffer::"
    assert lines[0].startswith(prefix)
    message = lines[0][len(prefix):]
    assert message.startswith("growth_programs.py::stacked_buffer: ops grows linear: +1.07 ops per n (allowed: constant); this line: 17 → 69 → 273")
    assert "%0AJL001 stack-of-repeats:" in message and "%0Afix: return jnp.broadcast_to(y0" in message
    assert "\n" not in message


def test_github_notice_for_ok_and_error_for_broken_cases():
    code, out, _ = run(os.path.join(HERE, "mixed_cases.py"), "--n", "16,64", "--format", "github")
    assert code == 2
    assert "::notice title=jaxlint scale mixed_cases.py%3A%3Afine::mixed_cases.py::fine: no figure grows past the bar" in out
    assert "::error title=jaxlint scale mixed_cases.py%3A%3Araises_at_64::" in out


def test_json_carries_runs_lint_and_platform(marked_lines):
    code, out, _ = run(STACKED, "--n", "16,64,256", "--format", "json")
    assert code == 1
    report = json.loads(out)
    assert report["platform"] == "cpu" and report["notes"] == [] and report["baseline"] is None
    (case,) = report["cases"]
    assert case["runs"][0] == {
        "path": display_path(PROGRAMS), "line": marked_lines["stack"],
        "pattern": ["stablehlo.broadcast_in_dim"], "repeats": [16, 64, 256],
    }
    (lint,) = case["lint"]
    assert (lint["code"], lint["line"], lint["fix"]["applicability"]) == ("JL001", marked_lines["stack"], "unsafe")  # n may be 0: unsafe
    assert case["compile_timeouts"] == []
    flag = next(f for f in case["flags"] if f["figure"] == "longest_run")
    assert flag["lines"][0]["counts"] == [16, 64, 256]


def test_plot_writes_an_svg(tmp_path):
    path = tmp_path / "growth.svg"
    code, _, err = run(STACKED, "--n", "16,64", "--plot", str(path))
    assert code == 1
    assert f"wrote plot {path}" in err
    text = path.read_text()
    assert text.startswith("<?xml") and "<svg" in text
    assert "longest_run" in text and "ops_inlined" in text


def test_plot_without_matplotlib_says_how_to_get_it(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib -> ImportError
    code, _, err = run(STACKED, "--n", "16,64", "--plot", str(tmp_path / "p.png"))
    assert code == 2
    assert "--plot needs matplotlib, an optional extra: pip install '.[plot]' in the jaxlint checkout" in err


def test_plot_file_name_is_checked_before_running(tmp_path):
    code, _, err = run(STACKED, "--n", "16,64", "--plot", str(tmp_path / "p.pdf"))
    assert code == 2 and "the file must end in .svg or .png" in err


def test_a_crashing_lint_rule_costs_only_the_rewrite(monkeypatch):
    import jaxlint.rules
    from jaxlint.analyzer import lint_match

    def crash(source, path="<string>", **options):
        raise TypeError("a rule bug")

    monkeypatch.setattr(jaxlint.rules, "check_source", crash)
    lint_match._file_findings.cache_clear()
    try:
        code, out, _ = run(STACKED, "--n", "16,64", "--format", "json")
    finally:
        lint_match._file_findings.cache_clear()
    assert code == 1
    report = json.loads(out)
    assert report["cases"][0]["lint"] == []
    (note,) = report["notes"]
    assert note.startswith("no lint match: linting ") and note.endswith("growth_programs.py failed: TypeError: a rule bug")
