"""Exact figures of small programs lowered at n = 16, 64, 256 (op counts are deterministic)."""

import pytest

from jaxlint.analyzer import measure
from jaxlint.analyzer.verdict import TIMING_FIGURES
from jaxlint.analyzer.verdict import judge as judge_all

SIZES = (16, 64, 256)


def judge(measurements, **kwargs):
    """The verdict on the deterministic figures only (timings are for benchmarks, not tests)."""
    counts = [name for name in measurements[0].figures if name not in TIMING_FIGURES]
    return judge_all(measurements, figures=counts, **kwargs)


def measure_sizes(programs, name, sizes=SIZES):
    factory = getattr(programs, name)
    return [measure(*factory(n), n=n) for n in sizes]


@pytest.mark.parametrize(
    "name, ops_inlined, order",
    [
        ("python_loop_euler", [194, 770, 3074], "linear"),
        ("scan_euler", [23, 23, 23], "constant"),
        ("stacked_buffer", [18, 70, 274], "linear"),
        ("broadcast_buffer", [2, 2, 2], "constant"),
        ("where_buffer", [13, 13, 13], "constant"),
        ("cond_per_element", [194, 774, 3090], "linear"),
        ("scan_unrolled", [100, 388, 1540], "linear"),
    ],
)
def test_inlined_op_counts_and_fitted_order(programs, name, ops_inlined, order):
    measurements = measure_sizes(programs, name)
    assert [m.figures["ops_inlined"] for m in measurements] == ops_inlined
    verdict = judge(measurements)
    assert verdict.fits["ops_inlined"].order == order
    assert verdict.ok == (order == "constant")


def test_scan_counts_loops_and_calls(programs):
    (m, *_) = measure_sizes(programs, "scan_euler", (16, 64))
    assert m.figures["loops"] == 1
    assert m.figures["calls"] == 1  # the scan body is a func.call inside the while
    assert m.figures["ops"] == 24  # the call op itself is counted in `ops`, replaced when inlined
    assert m.figures["max_depth"] == 1


def test_cond_in_python_loop_grows_branches(programs, marked_lines):
    measurements = measure_sizes(programs, "cond_per_element")
    assert [m.figures["branches"] for m in measurements] == [16, 64, 256]
    verdict = judge(measurements)
    flag = next(f for f in verdict.flags if f.figure == "branches")
    assert flag.order == "linear"
    # The loop's own line first (it is what unrolls: JL002's line), then the body line.
    assert [line.line for line in flag.lines] == [marked_lines["cond"] - 1, marked_lines["cond"]]
    for line in flag.lines:
        assert line.counts == [16, 64, 256]
        assert line.gained == {"stablehlo.case": 240}


def test_unrolled_scan_inlines_body_per_iteration(programs):
    measurements = measure_sizes(programs, "scan_unrolled")
    # unroll=n with length n removes the loop and calls the body n times.
    assert [m.figures["loops"] for m in measurements] == [0, 0, 0]
    assert [m.figures["calls"] for m in measurements] == [16, 64, 256]
    assert [m.figures["ops"] for m in measurements] == [56, 200, 776]


def test_quadratic_unroll_is_fitted_quadratic(programs, marked_lines):
    measurements = measure_sizes(programs, "quadratic_unroll", (4, 8, 16))
    assert [m.figures["ops_inlined"] for m in measurements] == [98, 386, 1538]
    verdict = judge(measurements, max_order="linear")
    flag = next(f for f in verdict.flags if f.figure == "ops_inlined")
    assert flag.order == "quadratic"
    # Both loops (outer first: n² bodies; the inner one too) and the body line.
    assert [line.line for line in flag.lines[:3]] == [marked_lines["pair"] - 2, marked_lines["pair"] - 1, marked_lines["pair"]]
    # Under --max-order quadratic nothing is flagged.
    assert judge(measurements, max_order="quadratic").ok


def test_stack_flag_names_the_stack_line(programs, marked_lines):
    verdict = judge(measure_sizes(programs, "stacked_buffer"))
    flag = next(f for f in verdict.flags if f.figure == "ops_inlined")
    assert "+1.07 ops per n" in flag.message
    top = flag.lines[0]
    assert top.path.endswith("growth_programs.py")
    assert top.line == marked_lines["stack"]
    assert top.counts == [17, 69, 273]
    assert top.gained == {"stablehlo.broadcast_in_dim": 240, "stablehlo.concatenate": 16}


def test_python_loop_flags_the_step_line_first(programs, marked_lines):
    verdict = judge(measure_sizes(programs, "python_loop_euler"))
    lines = next(f for f in verdict.flags if f.figure == "ops_inlined").lines
    assert {line.line for line in lines} >= {marked_lines["python_loop_step"]}
    # The `for` line is charged with everything its body made (the step and the vector field).
    assert lines[0].line == marked_lines["python_loop_step"] - 1
    # The vector field's own lines are charged too (one copy per step).
    assert all(line.counts[0] < line.counts[1] < line.counts[2] for line in lines)


def test_measurement_round_trips_through_json(programs):
    (m,) = measure_sizes(programs, "scan_euler", (16,))
    from jaxlint.analyzer import Measurement

    assert Measurement.from_json(m.to_json()) == m
