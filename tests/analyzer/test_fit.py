"""Growth classification: exact for counts, noise-tolerant for timings."""

import math

import pytest
import random

from hypothesis import HealthCheck, example, given, settings, strategies as st

from jaxlint.analyzer.fit import ORDERS, fit_growth, order_rank

NS = (16, 64, 256)


@pytest.mark.parametrize(
    "formula, order",
    [
        (lambda n: 100, "constant"),
        (lambda n: 50 + round(3 * math.log2(n)), "log"),
        (lambda n: 855 + round(1.07 * n), "linear"),
        (lambda n: 10 + round(n * math.log2(n)), "nlogn"),
        (lambda n: 40 + n * n // 2 + 3 * n, "quadratic"),
        (lambda n: n**3, "worse"),
    ],
)
def test_counts_are_classified_exactly(formula, order):
    fit = fit_growth(NS, [formula(n) for n in NS])
    assert fit.order == order


def test_diffrax_061_figures_are_linear_at_107_per_save_point():
    # StableHLO ops of the diffrax 0.6.1 Lorenz reproduction (shared/PITFALLS.md).
    fit = fit_growth([1000, 10000, 30000], [1716, 11317, 32650])
    assert fit.order == "linear"
    assert round(fit.per_n, 2) == 1.07
    assert fit.describe("ops") == "linear: +1.07 ops per n"


def test_two_sizes_default_to_linear_unless_clearly_faster():
    assert fit_growth([16, 64], [53, 105]).order == "linear"
    assert fit_growth([16, 64], [256, 4096]).order == "quadratic"


def test_unsorted_input_is_sorted_first():
    assert fit_growth([256, 16, 64], [274, 18, 70]).per_n == pytest.approx((274 - 18) / 240)


def test_timings_within_noise_are_constant():
    assert fit_growth(NS, [0.50, 0.56, 0.47], exact=False).order == "constant"
    assert fit_growth(NS, [0.001, 0.004, 0.002], exact=False).order == "constant"  # below the floor
    assert fit_growth(NS, [0.5, 8.0, 130.0], exact=False).order in ("quadratic", "nlogn", "worse")


def test_timing_that_grew_less_than_n_is_never_super_linear():
    assert fit_growth([1000, 10000, 30000], [0.28, 0.34, 0.97], exact=False).order == "linear"


def test_fewer_than_two_sizes_is_an_error():
    with pytest.raises(ValueError, match="two distinct sizes"):
        fit_growth([16, 16], [1, 2])


def test_orders_rank_from_best_to_worst():
    assert [order_rank(o) for o in ORDERS] == list(range(len(ORDERS)))


# Derandomized: CI sees the same examples every run. The root cause of the old ~3 % failure
# (two close sizes let a log curve fit a line "within rounding") is fixed in fit.py: exact
# integer differences are tested before any curve is fitted.
@settings(derandomize=True, max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@example(a=0, b=1, ns=[1000, 1001, 4000])
@example(a=7, b=3, ns=[2, 3, 8])
@given(
    a=st.integers(0, 10_000),
    b=st.integers(1, 50),
    ns=st.lists(st.integers(2, 100_000), min_size=3, max_size=6, unique=True),
)
def test_any_exact_line_is_linear_with_its_slope(a, b, ns):
    ns = sorted(ns)
    if ns[-1] < 4 * ns[0]:  # sizes for a growth fit span a range (16..256, 1k..30k)
        ns.append(4 * ns[0])
    fit = fit_growth(ns, [a + b * n for n in ns])
    assert fit.order == "linear"
    assert fit.per_n == pytest.approx(b)


def test_two_close_sizes_never_turn_a_line_into_a_log():
    # `jaxlint scale --n 1000,1001,4000 --max-order log` once passed a linear program.
    ns = [1000, 1001, 4000]
    assert fit_growth(ns, [855 + 2 * n for n in ns]).order == "linear"
    assert fit_growth(ns, [855 + round(1.07 * n) for n in ns]).order == "linear"


def test_three_sizes_with_one_equal_pair_count_as_two():
    # (16, 16, 64): two distinct sizes; the repeated one is averaged, not a third point.
    assert fit_growth([16, 16, 64], [53, 53, 105]).order == "linear"
    assert fit_growth([16, 16, 64], [53, 53, 105]).per_n == pytest.approx(52 / 48)
    assert fit_growth([16, 64, 64], [7, 7, 7]).order == "constant"


def test_exact_curves_are_named_by_differences_not_by_fit():
    ns = [100, 101, 400]
    assert fit_growth(ns, [n * n for n in ns]).order == "quadratic"
    assert fit_growth(ns, [3 + 5 * n for n in ns]).coefficient == pytest.approx(5)


def test_noisy_linear_timings_stay_linear_or_below():
    rng = random.Random(606)  # seeded: the same noise every run
    ns = [1000, 10000, 30000]
    for _ in range(200):
        ys = [0.5 + 1e-4 * n * rng.uniform(0.8, 1.2) for n in ns]
        assert order_rank(fit_growth(ns, ys, exact=False).order) <= order_rank("linear")


def test_noisy_quadratic_timings_are_super_linear():
    rng = random.Random(572)
    ns = [16, 64, 256]
    for _ in range(200):
        ys = [0.5 + 2e-3 * n * n * rng.uniform(0.9, 1.1) for n in ns]
        assert order_rank(fit_growth(ns, ys, exact=False).order) > order_rank("linear")
