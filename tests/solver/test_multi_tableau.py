"""MultiButcherTableau: one explicit tableau per term of a MultiTerm (additive Runge–Kutta)."""

from typing import ClassVar

import jax.numpy as jnp
import numpy as np
import pytest
from jaxlint.solver import (
    AbstractRungeKutta,
    Bosh3,
    CalculateJacobian,
    ConstantStepSize,
    Dopri5,
    Heun,
    Kvaerno3,
    LocalLinearInterpolation,
    Midpoint,
    MultiButcherTableau,
    MultiTerm,
    ODETerm,
    PIDController,
    SaveAt,
    diffeqsolve,
)

SPLIT = MultiTerm(
    ODETerm(lambda t, y, args: -0.6 * y + jnp.sin(t)), ODETerm(lambda t, y, args: -0.4 * y**3)
)
SUM = ODETerm(lambda t, y, args: -0.6 * y + jnp.sin(t) - 0.4 * y**3)


class _DoubleDopri5(AbstractRungeKutta):
    tableau: ClassVar[MultiButcherTableau] = MultiButcherTableau(Dopri5.tableau, Dopri5.tableau)
    interpolation_cls: ClassVar[type] = LocalLinearInterpolation
    calculate_jacobian: ClassVar[CalculateJacobian] = CalculateJacobian.never
    _order: ClassVar[int] = 5


def _tableau_solver(first, second, order):
    class Split(AbstractRungeKutta):
        tableau: ClassVar[MultiButcherTableau] = MultiButcherTableau(first, second)
        interpolation_cls: ClassVar[type] = LocalLinearInterpolation
        _order: ClassVar[int] = order

    return Split()


def test_equal_tableaus_are_the_single_method_on_the_sum():
    # One step: the same numbers to rounding.
    y0, split_solver, single_solver = jnp.asarray(1.0), _DoubleDopri5(), Dopri5()
    split_state = split_solver.init(SPLIT, 0.0, 0.1, y0, None)
    single_state = single_solver.init(SUM, 0.0, 0.1, y0, None)
    split = split_solver.step(SPLIT, 0.0, 0.1, y0, None, split_state, False)
    single = single_solver.step(SUM, 0.0, 0.1, y0, None, single_state, False)
    np.testing.assert_allclose(split[0], single[0], rtol=1e-14)
    np.testing.assert_allclose(split[1], single[1], rtol=1e-6, atol=1e-18)
    assert split_solver.error_order(SPLIT) == 5.0  # from `order`, as diffrax
    # A whole adaptive solve: the same steps. (The error estimate is a small difference of
    # stages, so its rounding moves step sizes at the 1e-8 level, not more.)
    controller = PIDController(rtol=1e-8, atol=1e-10)
    kwargs = dict(saveat=SaveAt(steps=True), stepsize_controller=controller, max_steps=256)
    split = diffeqsolve(SPLIT, _DoubleDopri5(), 0.0, 3.0, None, 1.0, **kwargs)
    single = diffeqsolve(SUM, Dopri5(), 0.0, 3.0, None, 1.0, **kwargs)
    assert int(split.stats["num_accepted_steps"]) == int(single.stats["num_accepted_steps"])
    np.testing.assert_allclose(split.ts, single.ts, rtol=1e-6)
    np.testing.assert_allclose(split.ys, single.ys, rtol=1e-7)


def _order_of(solver):
    term = MultiTerm(ODETerm(lambda t, y, args: -0.7 * y), ODETerm(lambda t, y, args: 0.4j * y))
    exact = np.exp(-0.7 + 0.4j)
    errors = [
        abs(complex(diffeqsolve(term, solver, 0.0, 1.0, 1 / n, jnp.asarray(1.0 + 0j),
                                stepsize_controller=ConstantStepSize()).ys[0]) - exact)
        for n in (32, 64, 128)
    ]  # fmt: skip
    return np.polyfit(np.log([32, 64, 128]), -np.log(errors), 1)[0]


@pytest.mark.filterwarnings("ignore:Complex dtype")
def test_coupling_conditions_decide_the_order():
    # Each tableau alone is second order; together they also need sum_i b^m_i c^n_i = 1/2 for
    # every pair (m, n). Heun (b = (1/2, 1/2)) with Midpoint (c = (0, 1/2)) gives 1/4: first
    # order. Heun with itself satisfies every coupling condition: second order.
    heun, midpoint = Heun.tableau, Midpoint.tableau
    assert heun.b @ midpoint.c == pytest.approx(0.25)
    assert abs(_order_of(_tableau_solver(heun, heun, 2)) - 2) < 0.1
    assert abs(_order_of(_tableau_solver(heun, midpoint, 2)) - 1) < 0.1


def test_bad_tableaus_and_terms():
    with pytest.raises(ValueError, match="same number of stages"):
        MultiButcherTableau(Dopri5.tableau, Bosh3.tableau)
    with pytest.raises(ValueError, match="at most one tableau may be implicit"):
        MultiButcherTableau(Kvaerno3.tableau, Kvaerno3.tableau)
    imex = _tableau_solver(Bosh3.tableau, Kvaerno3.tableau, 3)  # defining it is fine
    with pytest.raises(NotImplementedError, match="IMEX"):
        diffeqsolve(MultiTerm(*SPLIT.terms), imex, 0.0, 1.0, 0.1, 1.0)
    with pytest.raises(ValueError, match="needs a `MultiTerm` of as many terms"):
        diffeqsolve(SUM, _DoubleDopri5(), 0.0, 1.0, 0.1, 1.0)
    with pytest.raises(ValueError, match="combine them with `MultiTerm"):
        diffeqsolve(SPLIT.terms, _DoubleDopri5(), 0.0, 1.0, 0.1, 1.0)
    assert [c.name for c in CalculateJacobian] == [
        "never", "every_stage", "first_stage", "second_stage"
    ]
