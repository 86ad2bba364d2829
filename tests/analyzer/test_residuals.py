"""Reverse-mode residuals: exact bytes, where they come from, how they grow, and what cannot be differentiated."""

import os
import re

import jax
import jax.numpy as jnp
import pytest
from jax._src.ad_checkpoint import saved_residuals

from jaxlint.analyzer.adjoints import adjoint_choices, library_of
from jaxlint.analyzer.cases import TargetError, load_module
from jaxlint.analyzer.residual_growth import fit_residuals, judge_residuals
from jaxlint.analyzer.residuals import ResidualError, differentiable, measure_residuals

HERE = os.path.dirname(__file__)
CASES_PATH = os.path.join(HERE, "residual_cases.py")


pytestmark = pytest.mark.usefixtures("double_precision")


@pytest.fixture(scope="module")
def cases():
    return load_module(CASES_PATH)


@pytest.fixture(scope="module")
def line_of():
    with open(CASES_PATH) as handle:
        marks = {m.group(1): number for number, text in enumerate(handle, 1) if (m := re.search(r"# LINE: (\w+)", text))}
    return lambda name: f"{os.path.relpath(CASES_PATH)}:{marks[name]}"


def measure(cases, name, n, **options):
    fn, args = getattr(cases, name)(n)[:2]
    return measure_residuals(fn, args, n=n, **options)


def test_plain_scan_saves_16000_bytes_over_500_steps(cases, line_of):
    m = measure(cases, "scan_steps", 500)
    assert m.figures == {"residual_bytes": 16_000, "residuals": 4}
    # cos(y), sin(x) and t**2 twice (written twice, saved twice: pitfall P12), each per step.
    groups = {(r.kind, r.type_text, r.count) for r in m.largest}
    assert groups == {("integer_pow", "float64[500]", 2), ("cos", "float64[500]", 1), ("sin", "float64[500]", 1)}
    assert {r.source for r in m.largest} == {line_of("vector_field")}
    assert m.lines == {line_of("vector_field"): 16_000}


def test_checkpointed_body_saves_only_the_carry(cases, line_of):
    m = measure(cases, "checkpoint_scan_steps", 500)
    assert m.figures == {"residual_bytes": 12_000, "residuals": 3}  # t, x, y per step
    assert [(r.kind, r.type_text, r.count) for r in m.largest] == [("scan", "float64[500]", 3)]
    assert m.largest[0].source == line_of("checkpoint_scan")


@pytest.mark.parametrize("name, n", [("scan_steps", 50), ("checkpoint_scan_steps", 50), ("python_loop_steps", 8)])
def test_totals_match_jax_saved_residuals(cases, name, n):
    fn, args = getattr(cases, name)(n)
    expected = [aval for aval, where in saved_residuals(fn, *args) if not where.startswith("from the argument")]
    m = measure_residuals(fn, args)
    assert m.figures["residuals"] == len(expected)
    assert m.figures["residual_bytes"] == sum(a.size * a.dtype.itemsize for a in expected)


def test_arguments_saved_as_is_are_left_out():
    x = jnp.ones(4)
    assert measure_residuals(lambda v: jnp.sum(v * v), (x,)).figures == {"residual_bytes": 0, "residuals": 0}
    assert measure_residuals(lambda v: jnp.sum(jnp.sin(v)), (x,)).figures == {"residual_bytes": 32, "residuals": 1}


def test_floating_positional_arrays_are_differentiated_the_rest_held():
    x, steps, offset = jnp.ones(3), jnp.arange(3), jnp.float32(1.0)

    def fn(x, steps, scale, *, offset):
        return {"value": jnp.sum(jnp.sin(x) * steps) * scale + offset, "count": steps.sum()}

    call = differentiable(fn, (x, steps, 2.0), {"offset": offset})
    assert call.inputs == [x]  # a float keyword argument is held fixed, like the int array
    assert [v is w for v, w in zip(call.fixed, [steps, offset])] == [True, True]
    # The integer output leaf is left out of the sum.
    assert float(call.function(call.fixed, *call.inputs)) == pytest.approx(2 * float(jnp.sum(jnp.sin(x) * steps)) + 1)
    m = measure_residuals(fn, (x, steps, 2.0), {"offset": offset}, largest=10)
    # cos(x), steps converted to float64 (computed, so counted), and the Python scale as a literal
    assert sorted((r.kind, r.nbytes) for r in m.largest) == [("convert_element_type", 24), ("cos", 24), ("literal", 8)]


def test_abstract_inputs_are_enough():
    spec = jax.ShapeDtypeStruct((500,), jnp.float64)
    m = measure_residuals(lambda v, w: jnp.sum(jnp.sin(v) * w), (spec,), {"w": spec})
    assert m.figures == {"residual_bytes": 4_000, "residuals": 1}  # cos(v); w is an argument


def test_compile_adds_the_gradients_temp_bytes(cases):
    m = measure(cases, "scan_steps", 100, compile=True)
    assert m.figures["residual_bytes"] == 3_200
    assert m.figures["compiled_temp_bytes"] >= m.figures["residual_bytes"]  # the residual buffers are temps


def test_growth_orders_and_the_default_bar(cases, line_of):
    ns = [16, 32, 64]
    scan = [measure(cases, "scan_steps", n) for n in ns]
    loop = [measure(cases, "python_loop_steps", n) for n in ns]
    fixed = [measure(cases, "fixed_size", n) for n in ns]
    assert [m.figures["residual_bytes"] for m in scan] == [512, 1024, 2048]
    scan_fits, loop_fits = fit_residuals(scan), fit_residuals(loop)
    assert (scan_fits["residual_bytes"].order, scan_fits["residual_bytes"].per_n) == ("linear", 32)
    assert scan_fits["residuals"].order == "constant"
    assert (loop_fits["residuals"].order, loop_fits["residuals"].per_n) == ("linear", 4)  # a residual per op per step
    assert {f.order for f in fit_residuals(fixed).values()} == {"constant"}

    assert judge_residuals(scan).ok  # default bar: linear (what a scan costs)
    verdict = judge_residuals(scan, max_order="constant")
    (flag,) = verdict.flags
    assert flag.figure == "residual_bytes" and flag.message == "residual_bytes grows linear: +32 bytes per n (allowed: constant)"
    (line,) = flag.lines
    assert (f"{line.path}:{line.line}", line.counts, line.gained) == (line_of("vector_field"), [512, 1024, 2048], {"float64": 1536})
    assert judge_residuals(fixed, max_order="constant").ok
    with pytest.raises(ValueError, match="max order 'cubic'"):
        judge_residuals(scan, max_order="cubic")


def test_solver_adjoints_grow_as_designed(cases):
    """RecursiveCheckpoint(k): flat in steps, linear in k; Backsolve: flat; the default grows with max_steps."""
    import jaxlint.solver as solver

    def bytes_at(name, n, adjoint=None):
        fn, args = getattr(cases, name)(n, adjoint=adjoint) if adjoint is not None else getattr(cases, name)(n)
        return measure_residuals(fn, args, n=n)

    checkpointed = [bytes_at("solver_steps", n, solver.RecursiveCheckpointAdjoint(checkpoints=8)) for n in (64, 256)]
    assert fit_residuals(checkpointed)["residual_bytes"].order == "constant"
    following = [bytes_at("solver_checkpoints", k) for k in (4, 8, 16)]
    fits = fit_residuals(following)
    assert fits["residual_bytes"].order == "linear" and fits["residuals"].order == "constant"
    backsolve = [bytes_at("solver_steps", n, solver.BacksolveAdjoint()) for n in (64, 256)]
    assert fit_residuals(backsolve)["residual_bytes"].order == "constant"
    assert backsolve[-1].figures["residual_bytes"] <= 140  # diffrax 0.7.2: 140 B
    assert checkpointed[-1].figures["residual_bytes"] <= 248 + 119 * 8  # diffrax 0.7.2: 248 + 119·k


def test_diffrax_table_figures(cases):
    """diffrax 0.7.2 on the #572 ODE: 248 + 119·k for k checkpoints, Backsolve 140 B."""
    import diffrax

    for adjoint, expected in [(diffrax.RecursiveCheckpointAdjoint(checkpoints=7), 1_081), (diffrax.BacksolveAdjoint(), 140)]:
        fn, args = cases.diffrax_steps(500, adjoint=adjoint)
        assert measure_residuals(fn, args).figures["residual_bytes"] == expected


def test_integer_output_is_named(cases):
    with pytest.raises(ResidualError, match=r"not differentiable: the function's output has no floating-point leaf \(int64\[\]\)"):
        measure(cases, "integer_output", 4)


def test_unbounded_while_loop_is_named_with_its_line(cases, line_of):
    with pytest.raises(ResidualError) as caught:
        measure(cases, "unbounded_while", 4)
    message = str(caught.value)
    assert message.startswith("not differentiable in reverse mode: a while_loop without a static trip count")
    assert f"(at {line_of('while')})" in message
    assert "Reverse-mode differentiation does not work for lax.while_loop" in caught.value.details


def test_nothing_to_differentiate_is_named(cases):
    with pytest.raises(ResidualError, match=r"no floating-point array among the positional arguments \(int64\[4\]\)"):
        measure(cases, "integer_arguments", 4)


def test_adjoint_library_comes_from_the_parameter_default(cases):
    assert library_of(cases.solver_steps, "x") == "jaxlint.solver"
    assert library_of(cases.diffrax_steps, "x") == "diffrax"
    with pytest.raises(TargetError, match=r"x takes no `adjoint` parameter: --adjoints needs NAME\(n, adjoint=...\)"):
        library_of(cases.no_adjoint_parameter, "x")
    labels = [c.label for c in adjoint_choices("diffrax", (7, 50))]
    assert labels == [
        "RecursiveCheckpointAdjoint()",
        "RecursiveCheckpointAdjoint(checkpoints=7)",
        "RecursiveCheckpointAdjoint(checkpoints=50)",
        "BacksolveAdjoint()",
        "DirectAdjoint()",
    ]
    assert [c.exact for c in adjoint_choices("diffrax", (7,))] == [True, True, False, True]


def _result(label, exact, residual_bytes, difference, tolerance):
    from jaxlint.analyzer.adjoints import AdjointResult
    from jaxlint.analyzer.residuals import ResidualMeasurement

    measurements = [ResidualMeasurement(n, {"residual_bytes": b, "residuals": 1}, []) for n, b in zip((100, 500), residual_bytes)]
    result = AdjointResult(label, label, exact, f"{label} trade-off", measurements, fit_residuals(measurements))
    result.gradient_difference, result.tolerance, result.grad_seconds = difference, tolerance, 0.001
    return result


def test_recommendation_skips_gradients_that_differ():
    from jaxlint.analyzer.adjoints import AdjointComparison, recommend

    comparison = AdjointComparison(
        "jaxlint.solver", [100, 500], 500, "A",
        [
            _result("A", True, (300, 900), 0.0, 1.5e-8),
            _result("B", True, (400, 400), 1e-15, 1.5e-8),
            _result("Backsolve", False, (120, 120), 0.4, 1e-2),
        ],
    )
    recommend(comparison)
    assert comparison.cheapest == "B" and comparison.disagreements == []
    assert comparison.summary == [
        "cheapest: B: 400 residual bytes at n=500, constant in n; trade-off: B trade-off",
        "Backsolve needs less (120 residual bytes) but its gradient differs by 0.4 (relative; allowed 0.01): Backsolve trade-off",
        "ranked by residual bytes only: the compiled gradient's own buffers (e.g. DirectAdjoint's, per max_steps) "
        "are not counted; rank by compiled peak memory (the default) to include them",
    ]
    assert comparison.ranked_by == "residual_bytes"


def test_recommendation_ranks_by_compiled_peak_memory_when_measured():
    """Few residuals but big compiled buffers (DirectAdjoint's shape) must not be called cheapest."""
    from jaxlint.analyzer.adjoints import AdjointComparison, recommend

    direct = _result("Direct", True, (100, 100), 0.0, 1.5e-8)
    checkpointed = _result("Checkpoint", True, (400, 400), 1e-15, 1.5e-8)
    direct.measurements[-1].figures["compiled_peak_bytes"] = 90_000
    checkpointed.measurements[-1].figures["compiled_peak_bytes"] = 5_000
    comparison = AdjointComparison("jaxlint.solver", [100, 500], 500, "Direct", [direct, checkpointed])
    recommend(comparison)
    assert comparison.cheapest == "Checkpoint" and comparison.ranked_by == "compiled_peak_bytes"
    assert comparison.summary == ["cheapest: Checkpoint: 5,000 compiled peak bytes at n=500; trade-off: Checkpoint trade-off"]


def test_save_times_are_never_differentiated(cases):
    """`fn(y0, ts, rate)` building SaveAt(ts=ts): ts is held fixed, so BacksolveAdjoint works."""
    import diffrax

    import jaxlint.solver as solver
    from jaxlint.analyzer.residuals import differentiable

    fn, args = cases.decay_at_ts(20, adjoint=solver.BacksolveAdjoint())
    call = differentiable(fn, args)
    assert [x.shape for x in call.inputs] == [(2,), ()] and [x.shape for x in call.fixed] == [(20,)]
    assert measure_residuals(fn, args).figures["residuals"] > 0  # no "Unexpected tangent"
    own_check = diffrax.SubSaveAt.__dict__["__check_init__"]
    fn, args = cases.diffrax_at_ts(20, adjoint=diffrax.BacksolveAdjoint())
    call = differentiable(fn, args)
    assert [x.shape for x in call.inputs] == [(), ()] and [x.shape for x in call.fixed] == [(20,)]
    # The observer is removed again: the library's own check is back in place.
    assert diffrax.SubSaveAt.__dict__["__check_init__"] is own_check
    with pytest.raises(ResidualError, match=r"nothing to differentiate: only save times \(SaveAt ts\)"):
        differentiable(lambda ts: fn(args[0], ts), (args[1],))


def test_exact_adjoints_that_disagree_are_a_finding():
    from jaxlint.analyzer.adjoints import AdjointComparison, recommend

    comparison = AdjointComparison(
        "jaxlint.solver", [100, 500], 500, "A", [_result("A", True, (300, 900), 0.0, 1.5e-8), _result("B", True, (400, 400), 1e-3, 1.5e-8)]
    )
    recommend(comparison)
    assert comparison.disagreements == ["B"] and comparison.cheapest == "A"
    assert comparison.summary[0] == "DISAGREES: B's gradient differs from A's by 0.001 (relative; allowed 1.5e-08): both are exact, so one is wrong"
    from jaxlint.analyzer.residual_growth import ResidualCaseResult

    case = ResidualCaseResult("c", [100, 500], comparison.results[0].measurements, judge_residuals(comparison.results[0].measurements))
    assert case.status == "ok"
    case.adjoints = comparison
    assert case.status == "fail"  # exit code 1
