"""Progress meters: what TextProgressMeter prints, in order, under jit/vmap/grad; the default
adds nothing to the program."""

import importlib.util

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jaxlint.solver import (
    ConstantStepSize,
    NoProgressMeter,
    ODETerm,
    PIDController,
    TextProgressMeter,
    TqdmProgressMeter,
    Tsit5,
    diffeqsolve,
)

DECAY = ODETerm(lambda t, y, args: -y)


def _lines(capsys) -> list[str]:
    jax.effects_barrier()  # host callbacks finished
    return capsys.readouterr().out.split()


def test_text_meter_prints_every_minimum_increase(capsys):
    sol = diffeqsolve(DECAY, Tsit5(), 0.0, 2.0, 0.02, 1.0,
                      progress_meter=TextProgressMeter(minimum_increase=0.25))
    assert _lines(capsys) == ["0.00%", "25.00%", "50.00%", "75.00%", "100.00%"]
    np.testing.assert_allclose(sol.ys[0], np.exp(-2.0), rtol=1e-9)


def test_backwards_in_time_and_adaptive_steps_still_count_up(capsys):
    diffeqsolve(DECAY, Tsit5(), 1.0, 0.0, None, 1.0,
                stepsize_controller=PIDController(rtol=1e-8, atol=1e-8),
                progress_meter=TextProgressMeter(minimum_increase=0.1))
    lines = _lines(capsys)
    values = [float(line.rstrip("%")) for line in lines]
    assert values[0] == 0.0 and values[-1] == 100.0 and values == sorted(values)
    assert all(b - a >= 10 for a, b in zip(values[:-2], values[1:-1]))  # every >= 10 %


def test_vmap_reports_the_least_advanced_solve_and_grad_works(capsys):
    solve = lambda t1: diffeqsolve(
        DECAY, Tsit5(), 0.0, t1, 0.05, 1.0, stepsize_controller=ConstantStepSize(),
        progress_meter=TextProgressMeter(minimum_increase=0.5),
    ).ys[0]
    ys = jax.vmap(solve)(jnp.array([1.0, 2.0]))
    np.testing.assert_allclose(ys, np.exp([-1.0, -2.0]), rtol=1e-9)
    lines = _lines(capsys)
    assert lines[0] == "0.00%" and lines[-1] == "100.00%" and len(lines) >= 3
    grad = jax.grad(lambda y0: diffeqsolve(DECAY, Tsit5(), 0.0, 1.0, 0.1, y0,
                                           progress_meter=TextProgressMeter()).ys[0])(1.0)
    np.testing.assert_allclose(grad, np.exp(-1.0), rtol=1e-9)


def test_the_default_meter_adds_no_operations():
    def count(meter):
        jaxpr = jax.make_jaxpr(
            lambda y0: diffeqsolve(DECAY, Tsit5(), 0.0, 1.0, 0.1, y0, progress_meter=meter).ys
        )(1.0)
        return str(jaxpr).count("\n")

    assert count(NoProgressMeter()) < count(TextProgressMeter())
    plain = jax.make_jaxpr(lambda y0: diffeqsolve(DECAY, Tsit5(), 0.0, 1.0, 0.1, y0).ys)(1.0)
    assert str(plain).count("\n") == count(NoProgressMeter())


@pytest.mark.skipif(importlib.util.find_spec("tqdm") is not None, reason="tqdm is installed")
def test_tqdm_meter_without_tqdm_says_what_to_install():
    with pytest.raises(ImportError, match="TqdmProgressMeter.*pip install tqdm"):
        TqdmProgressMeter()


def test_tqdm_meter_runs_when_tqdm_is_installed():
    pytest.importorskip("tqdm")
    sol = diffeqsolve(DECAY, Tsit5(), 0.0, 1.0, 0.01, 1.0,
                      progress_meter=TqdmProgressMeter(refresh_steps=10))
    np.testing.assert_allclose(sol.ys[0], np.exp(-1.0), rtol=1e-9)
