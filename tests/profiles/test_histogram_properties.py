"""Histogram statistics against their raw-value counterparts (scipy) on random data: inside
and outside the baseline's range, and on columns with few distinct values."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats as sp

from conveyor.profiles import Profiler, stats
from conveyor.profiles.profile import numeric_profile

SETTINGS = settings(max_examples=60, deadline=None)


def _profiles(reference: np.ndarray, current: np.ndarray):
    import pandas as pd

    schema = Profiler(["x"], []).fit(pd.DataFrame({"x": reference})).schema_["x"]
    ref = numeric_profile(reference, 0, 0, schema.edges)
    cur = numeric_profile(current, 0, 0, schema.edges)
    return schema, ref, cur


def _w1(schema, ref, cur) -> float:
    return stats.wasserstein_hist(np.asarray(schema.edges), ref.counts, cur.counts, ref.sums, cur.sums,
                                  discrete=schema.discrete)


def _bound(schema, ref, cur) -> float:
    """What the histogram may miss: inside a bin each CDF is only known between its values at
    the edges, so the error of a bin is at most twice its width times both masses there."""
    p, q = stats.proportions(ref.counts), stats.proportions(cur.counts)
    width = np.diff(np.asarray(schema.edges))
    return float(2 * np.sum(width * (p[1:-1] + q[1:-1])))


@st.composite
def continuous(draw):
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    n, m = draw(st.integers(200, 3000)), draw(st.integers(30, 3000))
    shift = draw(st.floats(-5, 5))  # beyond the baseline's range too
    scale = draw(st.floats(0.2, 4))
    return rng.normal(0, 1, n), rng.normal(shift, scale, m)


@given(continuous())
@SETTINGS
def test_wasserstein_is_within_the_bins_uncertainty_of_scipys(data):
    reference, current = data
    schema, ref, cur = _profiles(reference, current)
    exact = sp.wasserstein_distance(reference, current)
    assert abs(_w1(schema, ref, cur) - exact) <= _bound(schema, ref, cur) + 1e-9 * (1 + exact)


@given(continuous())
@SETTINGS
def test_binned_ks_never_exceeds_the_raw_ks(data):
    reference, current = data
    _, ref, cur = _profiles(reference, current)
    d, _ = stats.ks_binned(ref.counts, cur.counts)
    assert d <= sp.ks_2samp(reference, current).statistic + 1e-12


@st.composite
def few_distinct(draw):
    values = draw(st.lists(st.integers(-20, 20), min_size=1, max_size=8, unique=True))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    weights = rng.dirichlet(np.ones(len(values)))
    reference = rng.choice(values, draw(st.integers(50, 2000)), p=weights).astype(float)
    seen = np.unique(reference)
    outside = [seen.min() - draw(st.integers(1, 30)), seen.max() + draw(st.integers(1, 30))]
    pool = np.concatenate([seen, outside if draw(st.booleans()) else []])
    current = rng.choice(pool, draw(st.integers(30, 2000)), p=rng.dirichlet(np.ones(len(pool))))
    return reference, current.astype(float)


@given(few_distinct())
@SETTINGS
def test_few_distinct_values_get_one_bin_each_and_exact_statistics(data):
    reference, current = data
    schema, ref, cur = _profiles(reference, current)
    seen = np.unique(reference)
    assert schema.discrete and schema.distinct == len(seen)
    inner = ref.counts[1:-1]
    assert inner.tolist() == [int(np.sum(reference == v)) for v in seen]  # one bin a value
    w1 = _w1(schema, ref, cur)
    assert w1 == pytest.approx(sp.wasserstein_distance(reference, current), rel=1e-9, abs=1e-9)
    d, _ = stats.ks_binned(ref.counts, cur.counts)
    assert d == pytest.approx(sp.ks_2samp(reference, current).statistic, abs=1e-12)
    _, chi_p = stats.chi_square(ref.counts, cur.counts)
    assert 0 <= chi_p <= 1


def test_a_binary_numeric_column_compares_its_proportions():
    """diabetes `sex` (two values): 46 % → 100 % of one value is drift (it was blind)."""
    from sklearn.datasets import load_diabetes

    from conveyor.monitoring.drift import DriftSettings, compare

    frame = load_diabetes(as_frame=True).frame[["sex", "bmi"]]
    profiler = Profiler(["sex", "bmi"], []).fit(frame)
    baseline = profiler.profile(frame, sample=1000)
    assert profiler.schema_["sex"].discrete and profiler.schema_["sex"].distinct == 2
    one = frame[frame["sex"] == frame["sex"].max()]
    for method in ("default", "evidently", "psi"):
        result = compare(baseline, profiler.profile(one), DriftSettings(method=method), raw=one)
        sex = next(f for f in result.features if f.column == "sex")
        assert sex.drifted is True, (method, sex)
    counts = np.array([(frame["sex"] == v).sum() for v in sorted(frame["sex"].unique())])
    _, p = stats.chi_square(np.array([0, *counts, 0, 0]), np.array([0, 0, len(one), 0, 0]))
    expected = sp.chi2_contingency(np.vstack([counts, [0, len(one)]]), correction=False).pvalue
    assert p == expected
    same = compare(baseline, profiler.profile(frame), DriftSettings(), raw=frame)
    assert next(f for f in same.features if f.column == "sex").drifted is False


@pytest.mark.parametrize("column", ["bmi", "bp", "s5"])
def test_wasserstein_on_shifted_diabetes_is_within_a_few_percent_of_scipy(column):
    from sklearn.datasets import load_diabetes

    values = load_diabetes(as_frame=True).frame[column].to_numpy()
    reference, current = values[::2], values[1::2] + values.std() * 1.5  # beyond the range too
    schema, ref, cur = _profiles(reference, current)
    exact = sp.wasserstein_distance(reference, current)
    assert _w1(schema, ref, cur) == pytest.approx(exact, rel=0.03)
