"""Attribution that leads to the fix: loop lines, hoisted constants, constant bytes, annotations."""

import os

from jaxlint.analyzer import measure
from jaxlint.analyzer.attribute import CONSTANT_BYTES_KEY
from jaxlint.analyzer.fit import Fit
from jaxlint.analyzer.report import render_github
from jaxlint.analyzer.scale import CaseResult
from jaxlint.analyzer.verdict import CaseVerdict, Flag, LineGrowth, growing_lines

SIZES = (16, 64, 256)


def measure_sizes(programs, name, sizes=SIZES):
    factory = getattr(programs, name)
    return [measure(*factory(n), n=n) for n in sizes]


def test_hoisted_constants_belong_to_the_line_that_uses_them(programs, marked_lines):
    measurements = measure_sizes(programs, "python_loop_euler")
    for m in measurements:
        # Only the function's return is left without a frame: every constant has a line.
        assert m.lines.get("<no user frame>:0", {}).get("stablehlo.constant", 0) == 0
    lines = growing_lines(measurements, None)
    assert not any(line.path == "<no user frame>" for line in lines)
    # The per-step literals (0.5, dt) grow with the lines that use them.
    assert sum(line.gained.get("stablehlo.constant", 0) for line in lines) > 0


def test_constant_bytes_growth_names_its_line(programs, marked_lines):
    measurements = measure_sizes(programs, "closed_over_table")
    assert [m.figures["constant_bytes"] for m in measurements] == [64, 256, 1024]
    (line,) = growing_lines(measurements, frozenset({CONSTANT_BYTES_KEY}))
    assert (line.line, line.counts) == (marked_lines["table"], [64, 256, 1024])


def _result(site, lines):
    flag = Flag("ops", "linear", "ops grows linear: +1.07 ops per n (allowed: constant)", lines)
    fit = Fit("linear", 1.07, 1.07, 1.0, 0.0)
    return CaseResult(name="solve.py:solve#1", ns=[16, 64], verdict=CaseVerdict({"ops": fit}, [flag]), site=site)


def test_github_annotates_only_files_under_the_working_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "solve.py").write_text("x = 1\n" * 30)
    library = LineGrowth("diffrax/_integrate.py", 785, [17, 69], {"stablehlo.broadcast_in_dim": 48})
    frameless = LineGrowth("<no user frame>", 0, [1, 2], {"stablehlo.constant": 1})
    out = render_github([_result(("solve.py", 24), [library, frameless])]).splitlines()
    assert len(out) == 1
    # One annotation, on the user's call site, naming the library line in its message.
    assert out[0].startswith("::error file=solve.py,line=24,title=jaxlint scale solve.py%3Asolve#1::")
    assert "diffrax/_integrate.py:785: 17 → 69" in out[0]
    assert "file=diffrax" not in out[0] and "file=<no user frame>" not in out[0]


def test_github_puts_user_lines_on_the_line(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "model.py").write_text("x = 1\n" * 30)
    mine = LineGrowth("model.py", 12, [17, 69], {"stablehlo.add": 52})
    elsewhere = LineGrowth(os.path.join(str(tmp_path.parent), "other.py"), 3, [1, 2], {"stablehlo.add": 1})
    out = render_github([_result(None, [mine, elsewhere])]).splitlines()
    assert [line.split("::")[1].split(",")[0] for line in out] == ["error file=model.py"]
