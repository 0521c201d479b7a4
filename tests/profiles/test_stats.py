import numpy as np
import pytest
from scipy import stats as sp

from conveyor.profiles import bin_index, stats


def _hist(values, edges):
    return np.bincount(bin_index(values, tuple(edges)), minlength=len(edges) + 1)


def _w1(a, b, edges):
    """The histogram Wasserstein of two raw samples, through their profiles."""
    from conveyor.profiles.profile import numeric_profile

    ref, cur = (numeric_profile(v, 0, 0, tuple(edges)) for v in (a, b))
    return stats.wasserstein_hist(np.asarray(edges), ref.counts, cur.counts, ref.sums, cur.sums)


@pytest.mark.parametrize("shift, scale, tolerance", [(0.3, 1.0, 0.02), (0.5, 1.3, 0.02), (3.0, 1.0, 0.01),
                                                      (-2.0, 0.5, 0.01), (0.0, 3.0, 0.02)])
def test_histogram_wasserstein_matches_scipy_on_raw_data(shift, scale, tolerance):
    # Each bin's sum places its mass; beyond the edges the tails' sums say how far the current
    # data went, so data far outside the baseline's range is measured as far as it went.
    rng = np.random.default_rng(0)
    a, b = rng.normal(0, 1, 20000), rng.normal(shift, scale, 20000)
    edges = np.quantile(a, np.linspace(0, 1, 51))
    assert _w1(a, b, edges) == pytest.approx(sp.wasserstein_distance(a, b), rel=tolerance)


def test_binned_ks_is_a_lower_bound_of_raw_ks():
    rng = np.random.default_rng(1)
    a, b = rng.normal(0, 1, 5000), rng.normal(0.2, 1, 3000)
    edges = np.quantile(a, np.linspace(0, 1, 51))
    d, p = stats.ks_binned(_hist(a, edges), _hist(b, edges))
    raw = sp.ks_2samp(a, b)
    assert d <= raw.statistic + 1e-12 and d == pytest.approx(raw.statistic, abs=0.02)
    assert p < 0.001


def test_psi_and_js_are_zero_for_identical_and_grow_with_shift():
    p = np.array([10, 20, 30, 40])
    assert stats.psi(p, p) == pytest.approx(0) and stats.jensen_shannon(p, p) == pytest.approx(0)
    q = np.array([40, 30, 20, 10])
    assert stats.psi(p, q) > 0.25 and stats.jensen_shannon(p, q) > 0.1
    assert stats.jensen_shannon(p, q) <= np.sqrt(np.log(2))


def test_chi_square_pools_sparse_cells():
    statistic, p = stats.chi_square(np.array([500, 300, 1, 0]), np.array([50, 30, 0, 2]))
    assert 0 <= p <= 1 and np.isfinite(statistic)


def test_decile_groups_give_ten_equal_mass_bins():
    counts = np.array([0] + [100] * 50 + [0])
    groups = stats.decile_groups(counts)
    assert len(groups) == 10
    assert all(stats.regroup(counts, groups) == 500)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_chi_square_and_two_proportions_equal_scipys(seed):
    from scipy.stats import chi2_contingency, norm

    rng = np.random.default_rng(seed)
    ref, cur = rng.integers(20, 5000, 6).astype(float), rng.integers(20, 5000, 6).astype(float)
    statistic, p, _, _ = chi2_contingency(np.vstack([ref, cur]), correction=False)
    assert stats.chi_square(ref, cur) == pytest.approx((statistic, p), rel=1e-12, abs=1e-300)
    k1, n1, k2, n2 = 40 + seed, 1000, 70, 1200
    pooled = (k1 + k2) / (n1 + n2)
    z = (k2 / n2 - k1 / n1) / np.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    assert stats.two_proportions(k1, n1, k2, n2) == pytest.approx(2 * norm.sf(abs(z)), rel=1e-12)
