"""Root finders of the implicit solvers: `VeryChord` (diffrax's name and fields), optimistix's
root finders, `with_stepsize_controller_tols`, and complex states."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxlint.solver as js

optx = pytest.importorskip("optimistix")

CUBIC = js.ODETerm(lambda t, y, args: -10 * y**3)  # y(1) = 1 / sqrt(21) from y0 = 1
PID = js.PIDController(rtol=1e-8, atol=1e-8)
EXACT = 1 / np.sqrt(21.0)

ROOT_FINDERS = {
    "VeryChord": js.VeryChord(),
    "VeryChord-max-norm": js.VeryChord(norm=optx.max_norm),
    "optx.Newton": optx.Newton(rtol=1e-10, atol=1e-10),
    "optx.Chord": optx.Chord(rtol=1e-10, atol=1e-10),
    "with-tols(optx.Newton)": js.with_stepsize_controller_tols(optx.Newton)(),
}


@pytest.mark.parametrize("name", sorted(ROOT_FINDERS))
@pytest.mark.parametrize("solver_cls", [js.Kvaerno3, js.Kvaerno5])
def test_implicit_solvers_accept_every_root_finder(name, solver_cls):
    solver = solver_cls(root_finder=ROOT_FINDERS[name])
    sol = js.diffeqsolve(CUBIC, solver, 0, 1, 0.1, 1.0, stepsize_controller=PID)
    assert int(sol.result) == js.RESULTS.successful
    np.testing.assert_allclose(sol.ys[-1], EXACT, rtol=1e-6)


def test_optimistix_root_finder_is_differentiable():
    def final(rate):
        term = js.ODETerm(lambda t, y, args: -rate * y)
        solver = js.Kvaerno5(root_finder=optx.Newton(rtol=1e-10, atol=1e-10))
        return js.diffeqsolve(term, solver, 0, 1, 0.1, 1.0, stepsize_controller=PID).ys[-1]

    np.testing.assert_allclose(jax.grad(final)(1.0), -np.exp(-1.0), rtol=1e-5)


def test_default_tolerances_are_leaves_that_tree_at_can_set():
    # diffrax's test helper sets (rtol, atol, norm) of the default root finder with tree_at.
    solver = eqx.tree_at(
        lambda s: (s.root_finder.rtol, s.root_finder.atol, s.root_finder.norm),
        js.Kvaerno3(),
        (1e-8, 1e-8, optx.rms_norm),
    )
    sol = js.diffeqsolve(js.ODETerm(lambda t, y, args: -y), solver, 0, 1, 0.05, 1.0)
    np.testing.assert_allclose(sol.ys[-1], np.exp(-1.0), rtol=1e-5)
    bound = js.Kvaerno5().bind_tolerances(1e-6, 1e-9)
    assert (bound.root_finder.rtol, bound.root_finder.atol) == (1e-6, 1e-9)
    assert js.Newton is js.VeryChord


def test_failed_root_find_with_constant_steps_is_reported():
    # One step of 1 for y' = -10 y^3 has no chord-reachable solution at tolerance 1e-5.
    solver = js.ImplicitEuler(root_finder=js.VeryChord(rtol=1e-5, atol=1e-5))
    out = js.diffeqsolve(CUBIC, solver, 0, 1, 1, 1.0, throw=False)
    assert int(out.result) == js.RESULTS.implicit_nonconvergence
    out = js.diffeqsolve(CUBIC, js.ImplicitEuler(), 0, 1, 1, 1.0, throw=False,
                         stepsize_controller=js.PIDController(rtol=1e-5, atol=1e-5))
    assert int(out.result) == js.RESULTS.successful


def test_bad_root_finder_and_tols_arguments():
    with pytest.raises(TypeError, match="root_finder"):
        js.Kvaerno5(root_finder="newton")
    with pytest.raises(TypeError, match="rtol"):
        js.with_stepsize_controller_tols(optx.Newton)(rtol=1e-3)
    with pytest.raises(ValueError, match="max_steps"):
        js.VeryChord(max_steps=0)


@pytest.mark.parametrize("solver_cls", [js.ImplicitEuler, js.Kvaerno3, js.Kvaerno5])
def test_complex_state_in_implicit_solvers(solver_cls):
    # y' = -i y: the solution rotates, y(1) = exp(-i) y0. jacfwd never sees complex input.
    y0 = jnp.array([1.0 + 0.0j, 2.0j])
    sol = js.diffeqsolve(
        js.ODETerm(lambda t, y, args: -1j * y), solver_cls(), 0, 1, 0.01, y0,
        stepsize_controller=js.PIDController(rtol=1e-7, atol=1e-7),
    )
    assert sol.ys.dtype == jnp.complex128
    tol = 1e-2 if solver_cls is js.ImplicitEuler else 1e-5
    np.testing.assert_allclose(sol.ys[-1], np.exp(-1j) * np.asarray(y0), rtol=tol, atol=tol)


def test_complex_state_with_a_non_holomorphic_field():
    # y' = -conj(y) is not complex-differentiable; the real/imaginary split is still exact.
    y0 = jnp.array([1.0 + 1.0j])
    sol = js.diffeqsolve(
        js.ODETerm(lambda t, y, args: -jnp.conj(y)), js.Kvaerno5(), 0, 1, 0.05, y0,
        stepsize_controller=js.PIDController(rtol=1e-8, atol=1e-8),
    )
    # Re: x' = -x, Im: v' = +v.
    np.testing.assert_allclose(sol.ys[-1], [np.exp(-1.0) + 1j * np.exp(1.0)], rtol=1e-6)
