"""The seed interval: the image bootstrap's percentiles plus a Student-t seed component, in quadrature.

Checked against scipy.stats' t distribution (rib uses scipy.special.stdtrit); its coverage at S = 2, 3, 5, 10 is
measured by benchmarks/bench_coverage.py, not here."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from rib_core.metrics.replicates import p_value, seed_interval


@pytest.fixture
def image_boot():
    return np.random.default_rng(0).normal(1.0, 0.5, 1000)


def test_the_seed_component_is_students_t_added_in_quadrature(image_boot):
    values = np.array([0.2, 1.9, 0.9])
    m, sd = values.mean(), values.std(ddof=1)
    low, high = np.quantile(image_boot, [0.025, 0.975])
    h = stats.t.ppf(0.975, 2) * sd / np.sqrt(3)
    want = [m - np.hypot(m - low, h), m + np.hypot(high - m, h)]
    assert seed_interval(values, image_boot) == pytest.approx(want, abs=1e-12)
    h90 = stats.t.ppf(0.95, 2) * sd / np.sqrt(3)
    low90, high90 = np.quantile(image_boot, [0.05, 0.95])
    assert seed_interval(values, image_boot, 0.9) == pytest.approx([m - np.hypot(m - low90, h90),
                                                                    m + np.hypot(high90 - m, h90)], abs=1e-12)


def test_two_seeds_pay_for_what_they_do_not_know(image_boot):
    """t with 1 degree of freedom is 12.7: two seeds 2 points apart give an interval about +-18 points wide,
    where resampling the two seeds would have given +-1."""
    low, high = seed_interval([0.0, 2.0], image_boot * 0 + 1.0)  # no image noise at all
    assert high - 1.0 == pytest.approx(stats.t.ppf(0.975, 1) * np.sqrt(2) / np.sqrt(2), rel=1e-9)
    assert 1.0 - low == pytest.approx(high - 1.0, rel=1e-9)


def test_one_seed_is_the_image_bootstrap_alone(image_boot):
    assert seed_interval([1.0], image_boot) == pytest.approx(list(np.quantile(image_boot, [0.025, 0.975])))


def test_the_p_value_is_dual_to_the_interval(image_boot):
    """p is the level at which the interval touches 0, with the (B + 1) quantile rule (numpy's "weibull"): the
    Monte Carlo correction that keeps a tiny p from resting on two or three replicates."""
    values = [0.8, 1.4, 1.1]
    p = p_value(values, image_boot)
    assert 0.01 < p < 0.5
    low, _ = seed_interval(values, image_boot, 1 - p, "weibull")
    assert low == pytest.approx(0.0, abs=1e-6)
    assert (seed_interval(values, image_boot, 1 - 0.99 * p, "weibull")[0] < 0
            < seed_interval(values, image_boot, 1 - 1.01 * p, "weibull")[0])
    # A single seed: the bootstrap p-value, 2 * min(share below 0, share above 0), up to the quantile rule.
    single = np.random.default_rng(1).normal(0.4, 0.2, 1000)
    assert p_value([0.4], single) == pytest.approx(2 * (single < 0).mean(), abs=2 / 1000)
    assert p_value([0.0, 0.0], np.zeros(100)) == 1.0
