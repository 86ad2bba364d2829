"""What a script case measures: the user's jitted function around the solve, at each n."""

import json
import os
import runpy

import jax
import jax.numpy as jnp
import pytest
from click.testing import CliRunner

from jaxlint.analyzer import measure
from jaxlint.analyzer.resize import lower_script_call
from jaxlint.analyzer.measure import measure_lowered
from jaxlint.analyzer.script import MAX_STEPS, SAVE_POINTS, ScriptRun, SkipCall, size_axis
from jaxlint.cli import main

HERE = os.path.dirname(__file__)
SCRIPTS = os.path.join(HERE, "solve_scripts")
S = jax.ShapeDtypeStruct


@pytest.fixture(autouse=True)
def fake_solvers(monkeypatch):
    monkeypatch.setenv("JAXLINT_SOLVE_APIS", "stack061:diffeqsolve,fixed_solver:diffeqsolve,stepsaver:diffeqsolve")


def script(name):
    return os.path.join(SCRIPTS, name)


def site_line(name, marker):
    with open(script(name)) as handle:
        return next(i for i, text in enumerate(handle, start=1) if f"# SITE: {marker}" in text)


def ops_at(call, ns, axis=SAVE_POINTS):
    out = []
    for n in ns:
        program, notes = lower_script_call(call, n, axis, platform=None)
        out.append((measure_lowered(program, n=n).figures["ops_inlined"], notes))
    return out


def by_hand(name, function, make_args, ns):
    """The user's own jitted function lowered at each n, as a user would."""
    namespace = runpy.run_path(script(name), run_name="by_hand")
    return [measure(namespace[function], make_args(n), n=n).figures["ops_inlined"] for n in ns]


def test_grad_and_vmap_through_the_solve_grow_as_the_users_step():
    ns = (16, 64)
    with ScriptRun(script("train_step061.py")) as capture:
        (call,) = capture.calls
        assert call.key == "train_step061.py:loss.<locals>.one#1"
        assert call.entry is not None and call.entry.name == "step"
        measured = ops_at(call, ns)
    assert all(notes == [] for _, notes in measured)
    ours = [ops for ops, _ in measured]
    hand = by_hand("train_step061.py", "step", lambda n: (S((), jnp.float32), S((4, 3), jnp.float32), S((n,), jnp.float32), S((4, n, 3), jnp.float32)), ns)
    growth, hand_growth = (ours[1] - ours[0]) / 48, (hand[1] - hand[0]) / 48
    assert hand_growth > 1
    assert growth == pytest.approx(hand_growth, rel=0.01)


def test_the_step_is_more_than_the_solve_alone():
    from jaxlint.analyzer.script import build_call

    with ScriptRun(script("train_step061.py")) as capture:
        (call,) = capture.calls
        fn, args = build_call(call, 16)
        bare16 = measure(fn, args).figures["ops_inlined"]
        fn, args = build_call(call, 64)
        bare64 = measure(fn, args).figures["ops_inlined"]
        (step16, _), (step64, _) = ops_at(call, (16, 64))
    # The step holds the batched forward pass, its gradient and the loss: far more than the
    # bare, forward, unbatched solve that jaxlint used to re-lower.
    assert step16 > 3 * bare16 and step64 > bare64


def test_fallback_when_the_function_raises_at_another_n(tmp_path, monkeypatch):
    path = tmp_path / "strict.py"
    path.write_text(
        "import jax, jax.numpy as jnp\n"
        "from stack061 import Euler, ODETerm, SaveAt, diffeqsolve\n"
        "sizes = []\n"
        "@jax.jit\n"
        "def solve(y0, ts):\n"
        "    sizes.append(1)\n"
        "    if len(sizes) > 1:\n"
        "        raise RuntimeError('traced twice')\n"
        "    return diffeqsolve(ODETerm(lambda t, y, a: -y), Euler(), t0=ts[0], t1=ts[-1], dt0=None, y0=y0, saveat=SaveAt(ts=ts)).ys\n"
        "print(solve(jnp.ones(3), jnp.linspace(0.0, 1.0, 8)).shape)\n"
    )
    monkeypatch.syspath_prepend(SCRIPTS)
    with ScriptRun(str(path)) as capture:
        (call,) = capture.calls
        (ops16, notes16), (ops64, _) = ops_at(call, (16, 64))
    assert notes16 and notes16[0].startswith("fell back on the solve on its own: `solve` could not be re-traced at n=16")
    assert "traced twice" in notes16[0]
    assert ops64 - ops16 == 52  # the bare solve's growth


def test_what_n_is_for_calls_that_save_no_ts():
    with ScriptRun(script("saves_no_ts.py")) as capture:
        final, steps, dense = capture.calls
        with pytest.raises(SkipCall, match=r"saves no `ts`, no steps and no dense output"):
            size_axis(final)
        assert size_axis(steps) == MAX_STEPS and size_axis(dense) == MAX_STEPS
        with pytest.raises(SkipCall, match=r"--size save-points, but the call saves at no `ts`"):
            size_axis(steps, SAVE_POINTS)
        assert size_axis(final, MAX_STEPS) == MAX_STEPS  # asked for: max_steps is varied anyway
        counts = [ops for ops, _ in ops_at(steps, (16, 64), MAX_STEPS)]
        assert counts[1] - counts[0] == 52  # one broadcast per row of the max_steps buffer, and concatenates


def run_cli(*args):
    result = CliRunner().invoke(main, ["scale", *args], catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def test_axis_is_labelled_and_the_t1_call_skipped():
    code, out, _ = run_cli(script("saves_no_ts.py"), "--n", "16,64", "--in-process", "--format", "json")
    assert code == 1
    cases = {case["name"]: case for case in json.loads(out)["cases"]}
    assert cases["saves_no_ts.py:final#1"]["verdict"] == "skipped"
    assert "only t0/t1" in cases["saves_no_ts.py:final#1"]["skipped"]
    assert cases["saves_no_ts.py:every_step#1"]["axis"] == "max_steps"
    assert cases["saves_no_ts.py:every_step#1"]["verdict"] == "fail"
    code, out, _ = run_cli(script("saves_no_ts.py"), "--n", "16,64", "--in-process")
    assert "SKIP  saves_no_ts.py:final#1" in out
    assert f"FAIL  saves_no_ts.py:every_step#1 (line {site_line('saves_no_ts.py', 'steps')}, n = max_steps)" in out


def test_filter_jit_entry_is_measured_with_its_static_fields():
    with ScriptRun(script("filter_jit_step.py")) as capture:
        (call,) = capture.calls
        assert call.entry is not None and call.entry.name == "predict"
        (ops16, notes16), (ops64, _) = ops_at(call, (16, 64))
    assert notes16 == []
    namespace = runpy.run_path(script("filter_jit_step.py"), run_name="by_hand")
    model = namespace["Model"](jnp.float32(0.5))
    hand = [
        measure(lambda y0, ts: namespace["predict"](model, y0, ts), (S((3,), jnp.float32), S((n,), jnp.float32))).figures["ops_inlined"]
        for n in (16, 64)
    ]
    assert ops64 - ops16 == hand[1] - hand[0] > 0
