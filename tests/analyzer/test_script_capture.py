"""Plain scripts: diffeqsolve calls caught while the script runs, re-lowered at any n."""

import os
import re
import sys

import jax
import jax.numpy as jnp
import pytest

from jaxlint.analyzer import measure
from jaxlint.analyzer.cases import TargetError
from jaxlint.analyzer.script import RebuiltClosure, build_call, capture_script, has_case_markers, solve_apis
from jaxlint.analyzer.verdict import judge

HERE = os.path.dirname(__file__)
SCRIPTS = os.path.join(HERE, "solve_scripts")
EXAMPLES = os.path.join(HERE, "..", "..", "examples")
SIZES = (16, 64, 256)


def script(name):
    return os.path.join(SCRIPTS, name)


def markers(name):
    """`# SITE: x` / `# the diffrax 0.6.1 line` markers -> line numbers."""
    found = {}
    with open(script(name)) as handle:
        for number, text in enumerate(handle, start=1):
            if match := re.search(r"# SITE: (\w+)", text):
                found[match.group(1)] = number
            if "the diffrax 0.6.1 line" in text:
                found["stack"] = number
    return found


@pytest.fixture
def fake_solvers(monkeypatch):
    """Intercept the test solvers too (workers inherit the variable)."""
    monkeypatch.setenv("JAXLINT_SOLVE_APIS", "stack061:diffeqsolve,fixed_solver:diffeqsolve")


def measure_call(call, sizes=SIZES):
    return [measure(*build_call(call, n), n=n) for n in sizes]


def test_the_061_pattern_grows_at_the_stack_line(fake_solvers, capfd):
    capture = capture_script(script("lorenz_stack061.py"))
    (call,) = capture.calls
    assert call.site.line == markers("lorenz_stack061.py")["solve"]
    assert call.site.name == f"lorenz_stack061.py:{call.site.line}"
    assert call.api == "stack061" and not capture.stopped_early
    # Traced arguments are kept as shapes: y0 and t0 were tracers of the user's jit.
    assert call.arguments["y0"] == jax.ShapeDtypeStruct((3,), jnp.float32)
    assert call.arguments["t0"] == jax.ShapeDtypeStruct((), jnp.float32)
    assert "AFTER SOLVE (50, 3)" in capfd.readouterr().err  # the script ran to the end, prints on stderr

    measurements = measure_call(call)
    assert [m.figures["ops_inlined"] for m in measurements] == [73, 125, 329]
    assert [m.figures["longest_run"] for m in measurements] == [16, 64, 256]
    flag = next(f for f in judge(measurements).flags if f.figure == "ops_inlined")
    assert flag.order == "linear"
    top = flag.lines[0]
    assert top.path.endswith("stack061.py") and top.line == markers("stack061.py")["stack"]
    assert top.counts == [17, 69, 273]


def test_the_fixed_solver_does_not_grow(fake_solvers):
    (call,) = capture_script(script("lorenz_fixed.py")).calls
    measurements = measure_call(call)
    assert [m.figures["ops_inlined"] for m in measurements] == [37, 37, 37]
    assert judge(measurements).ok


def test_each_site_once_eager_jit_closure_and_vmap(fake_solvers):
    capture = capture_script(script("sites_and_closures.py"))
    lines = markers("sites_and_closures.py")
    assert [call.site.line for call in capture.calls] == [lines["eager"], lines["closure"], lines["vmapped"]]
    eager, closure, vmapped = capture.calls
    # Eager NumPy arrays become abstract inputs too; Python scalars stay static.
    assert eager.arguments["y0"] == jax.ShapeDtypeStruct((2,), jnp.float32)
    assert eager.arguments["args"] == 0.5 and eager.arguments["t0"] == 0.0
    # The vector field closed over a tracer of the user's jit: rebuilt around an input.
    field = closure.arguments["terms"].vector_field
    assert isinstance(field, RebuiltClosure)
    assert field.traced_cells == ((0, jax.ShapeDtypeStruct((), jnp.float32)),)
    # Under vmap the call is seen per example.
    assert vmapped.arguments["y0"] == jax.ShapeDtypeStruct((3,), jnp.float32)
    for call in capture.calls:
        counts = [m.figures["ops_inlined"] for m in measure_call(call, (16, 64))]
        assert counts[1] - counts[0] == 52  # the stack: one broadcast (+ concatenates) per save point


def test_rebuilt_closure_lowers_with_the_traced_value_as_an_input(fake_solvers):
    closure = capture_script(script("sites_and_closures.py")).calls[1]
    fn, args = build_call(closure, 16)
    # Every array leaf is an input of the re-lowered call (pytree order: argument names
    # sorted): saveat's ts of length n, t0, t1, the closure's `rate`, y0.
    assert [tuple(a.shape) for a in args] == [(16,), (), (), (), (4,)]
    assert jax.jit(fn).trace(*args).lower() is not None


def test_a_traced_value_in_a_plain_attribute_is_named(fake_solvers):
    (call,) = capture_script(script("hidden_tracer.py")).calls
    with pytest.raises(TargetError, match=r"hidden_tracer.py:19: cannot re-lower .* a `Decay` object in the call holds `rate`"):
        build_call(call, 16)


def test_capture_only_stops_at_the_first_solve_call(fake_solvers, capfd):
    capture = capture_script(script("sites_and_closures.py"), first_only=True)
    assert capture.stopped_early
    assert [call.site.line for call in capture.calls] == [markers("sites_and_closures.py")["eager"]]
    capture = capture_script(script("lorenz_stack061.py"), first_only=True)
    assert "AFTER SOLVE" not in capfd.readouterr().err  # the real solve never ran


def test_patches_are_undone_after_the_run(fake_solvers):
    capture_script(script("lorenz_fixed.py"))
    import fixed_solver
    import stack061

    for module in (fixed_solver, stack061):
        assert not hasattr(module.diffeqsolve, "__jaxlint_interceptor__")
    assert not any(type(finder).__name__ == "_AfterImport" for finder in sys.meta_path)


def test_script_errors_are_named():
    with pytest.raises(TargetError, match="the script raised FileNotFoundError: no state file at state.npy") as raised:
        capture_script(script("raises_after_setup.py"))
    assert 'y0 = load_initial_state("state.npy")  # RAISES' in raised.value.details
    with pytest.raises(TargetError, match=r"made no call of jaxlint.solver.diffeqsolve or diffrax.diffeqsolve.*no_solve_call.py::NAME"):
        capture_script(script("no_solve_call.py"))


def test_solve_apis_from_the_environment(monkeypatch):
    monkeypatch.setenv("JAXLINT_SOLVE_APIS", "pkg.mod:run, other:go")
    assert solve_apis()[-2:] == (("pkg.mod", "run"), ("other", "go"))
    monkeypatch.setenv("JAXLINT_SOLVE_APIS", "no_colon")
    with pytest.raises(TargetError, match="'no_colon' is not MODULE:FUNCTION"):
        solve_apis()


def test_case_markers_are_found_without_running_the_file():
    assert has_case_markers(os.path.join(HERE, "growth_programs.py"))
    assert not has_case_markers(script("lorenz_stack061.py"))


def test_jaxlint_solver_script_is_constant():
    (call,) = capture_script(script("jaxlint_solver_lorenz.py"), first_only=True).calls
    assert call.api == "jaxlint.solver"
    measurements = measure_call(call, (16, 256))
    assert measurements[0].figures["ops_inlined"] == measurements[1].figures["ops_inlined"]
    assert judge(measurements).ok


def test_diffrax_606_example_passes_on_diffrax_07():
    import diffrax

    if not diffrax.__version__.startswith("0.7"):
        pytest.skip(f"this check is for diffrax 0.7.x; installed: {diffrax.__version__}")
    (call,) = capture_script(os.path.join(EXAMPLES, "diffrax_606.py"), first_only=True).calls
    assert call.api == "diffrax" and call.site.name == "diffrax_606.py:24"
    measurements = measure_call(call, (16, 64))
    assert [m.figures["ops_inlined"] for m in measurements] == [1401, 1401]
    assert [m.figures["longest_run"] for m in measurements] == [100, 100]  # diffrax's own range(100) loop
    assert judge(measurements).ok
