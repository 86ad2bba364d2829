"""Unrolled runs: the same op pattern k times in a row, found per block, in linear time."""

import jax.numpy as jnp
import numpy as np
import pytest
from jax import lax

from jaxlint.analyzer import measure
from jaxlint.analyzer.lower import lower_call
from jaxlint.analyzer.runs import _primitive, _stretches, find_runs, longest_run
from jaxlint.analyzer.verdict import judge
from jaxlint.analyzer.walk import walk_module

SIZES = (16, 64, 256)


def runs_of(fn, *args):
    return find_runs(walk_module(lower_call(fn, args).module))


def codes(text):
    return np.array([ord(c) for c in text], dtype=np.int64)


@pytest.mark.parametrize(
    "sequence, period, expected",
    [
        ("AAAAAB", 1, [(0, 5)]),
        ("ABABAB", 2, [(0, 6)]),
        ("ABABABA", 2, [(0, 7)]),  # a trailing partial unit is inside the stretch, not a repeat
        ("AABAABAAB", 3, [(0, 9)]),
        ("AAXAA", 1, []),  # two in a row is below MIN_REPEATS (3)
        ("AAABBBB", 1, [(0, 3), (3, 7)]),
    ],
)
def test_stretches(sequence, period, expected):
    assert list(_stretches(codes(sequence), period, 3)) == expected


def test_only_primitive_units_count():
    assert _primitive([1, 2])
    assert not _primitive([1, 2, 1, 2])
    assert not _primitive([7, 7])
    assert _primitive([1, 1, 2])


def test_stack_of_repeats_is_one_run_of_n_broadcasts(programs, marked_lines):
    measurements = [measure(*programs.stacked_buffer(n), n=n) for n in SIZES]
    assert [m.figures["longest_run"] for m in measurements] == [16, 64, 256]
    top = measurements[-1].runs[0]
    assert top["path"].endswith("growth_programs.py")
    assert (top["line"], top["pattern"], top["repeats"]) == (marked_lines["stack"], ["stablehlo.broadcast_in_dim"], 256)
    flag = next(f for f in judge(measurements).flags if f.figure == "longest_run")
    assert flag.order == "linear"


def test_python_loop_is_a_run_of_its_step_ops(programs, marked_lines):
    measurements = [measure(*programs.python_loop_euler(n), n=n) for n in SIZES]
    # Each Euler step is 12 ops. The first step's `y` update differs (t is a Python 0.0
    # there), so the run starts at its `t = t + dt` (the line after the marked step line)
    # and covers the n - 1 steps after it.
    assert [m.figures["longest_run"] for m in measurements] == [15, 63, 255]
    top = measurements[0].runs[0]
    assert len(top["pattern"]) == 12
    assert top["line"] == marked_lines["python_loop_step"] + 1


def test_loops_and_broadcasts_have_no_growing_run(programs):
    for name in ("scan_euler", "broadcast_buffer", "where_buffer"):
        assert [measure(*getattr(programs, name)(n), n=n).figures["longest_run"] for n in (16, 256)] == [1, 1]


def test_signature_includes_types():
    def squares(a, b):
        for _ in range(5):
            a = a * a
        for _ in range(5):
            b = b * b
        return a, b

    runs = runs_of(squares, jnp.ones(3), jnp.ones(3, jnp.int32))
    # Same op name ten times in a row, but f32 then i32: two runs of five.
    assert [(run.pattern, run.repeats) for run in runs] == [(("stablehlo.multiply",), 5)] * 2
    assert longest_run(runs) == 5
    assert longest_run([]) == 1


def test_block_numbers_match_the_ir_blocks():
    """The walk numbers blocks from terminators alone; check it against op.block."""

    def nested(x):
        def body(i, c):
            c = lax.cond(c.sum() > 0, lambda d: jnp.sin(d) + 1.0, lambda d: jnp.cos(d), c)
            return c + jnp.max(c)

        y = lax.fori_loop(0, 5, body, x)
        return jnp.sort(y) + lax.reduce(y, 0.0, lax.add, (0,))

    walk = walk_module(lower_call(nested, (jnp.ones(3),)).module)
    checked = 0
    for body in walk.functions.values():
        number_to_block, block_to_number = {}, {}
        for number, _, op in body.sequence:
            assert number_to_block.setdefault(number, op.block) == op.block
            assert block_to_number.setdefault(op.block, number) == number
            checked += 1
        assert len(number_to_block) == len(block_to_number)
    assert checked == sum(len(body.sequence) for body in walk.functions.values()) > 50


def test_runs_do_not_cross_blocks():
    def branches(x):
        # Three sines at the end of each branch, then three sines after the cond: the six
        # sines are in three blocks, so no run is longer than three.
        x = lax.cond(x.sum() > 0, lambda v: jnp.sin(jnp.sin(jnp.sin(v))), lambda v: jnp.sin(jnp.sin(jnp.sin(v))), x)
        return jnp.sin(jnp.sin(jnp.sin(x)))

    runs = runs_of(branches, jnp.ones(3))
    assert sorted(run.repeats for run in runs if run.pattern == ("stablehlo.sine",)) == [3, 3, 3]


def test_ops_differing_only_in_attributes_are_not_a_run():
    def slices(x):
        # 40 slices: same op name and result type, different start attributes.
        return [lax.slice(x, (i,), (i + 1,)) for i in range(40)]

    runs = runs_of(slices, jnp.ones(40))
    assert all(run.pattern != ("stablehlo.slice",) for run in runs)

    def same_slices(x):
        return [lax.slice(x, (3,), (4,)) for _ in range(40)]

    runs = runs_of(same_slices, jnp.ones(40))
    assert any(run.pattern == ("stablehlo.slice",) and run.repeats == 40 for run in runs)
