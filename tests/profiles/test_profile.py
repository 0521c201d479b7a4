import json

import numpy as np
import pandas as pd
import pytest

from conveyor.profiles import (
    CategoricalProfile,
    DatasetProfile,
    NumericProfile,
    ProfileMismatchError,
    Profiler,
    merge,
    merge_all,
)

NUMERIC, CATEGORICAL = ["x", "y", "calls"], ["colour", "size"]


def test_edges_come_from_training_quantiles_with_open_outer_bins(frame_factory):
    frame = frame_factory()
    profiler = Profiler(NUMERIC, CATEGORICAL, bins=10).fit(frame)
    edges = profiler.schema_["x"].edges
    assert edges[0] == frame["x"].min() and edges[-1] == frame["x"].max()
    assert np.allclose(edges, np.quantile(frame["x"], np.linspace(0, 1, 11)))
    outside = pd.DataFrame({"x": [edges[0] - 100, edges[-1] + 100, edges[-1]]})
    counts = Profiler.from_schema({"x": profiler.schema_["x"]}).profile(outside).columns["x"].counts
    assert counts[0] == 1 and counts[-1] == 1 and counts[-2] == 1  # max closes the last inner bin


def test_numeric_profile_counts_missing_invalid_and_moments(frame_factory):
    frame = frame_factory(rows=1000, missing=0.1)
    profile = Profiler(NUMERIC, CATEGORICAL).fit(frame).profile(frame).columns["x"]
    assert isinstance(profile, NumericProfile)
    values = frame["x"].dropna()
    assert profile.missing == frame["x"].isna().sum()
    assert profile.count == len(values) == profile.counts.sum()
    assert profile.mean == pytest.approx(values.mean())
    assert profile.std == pytest.approx(values.std(ddof=0))


def test_strings_in_a_numeric_column_are_counted_as_invalid():
    reference = pd.DataFrame({"x": np.arange(100.0)})
    profiler = Profiler(["x"], []).fit(reference)
    current = pd.DataFrame({"x": ["1.5", "abc", None, "7", "n/a"]})
    profile = profiler.profile(current).columns["x"]
    assert (profile.count, profile.missing, profile.invalid) == (2, 1, 2)
    assert "abc" in profile.invalid_examples


def test_categories_past_the_cap_fall_into_other():
    frame = pd.DataFrame({"c": ["a"] * 5 + ["b"] * 3 + ["c"] * 2 + ["d"]})
    profiler = Profiler([], ["c"], category_cap=2).fit(frame)
    assert profiler.schema_["c"].categories == ("a", "b")
    profile = profiler.profile(frame).columns["c"]
    assert isinstance(profile, CategoricalProfile)
    assert profile.counts == {"a": 5, "b": 3} and profile.new == {"c": 2, "d": 1}


def test_profile_round_trips_through_json(frame_factory):
    frame = frame_factory(rows=500, missing=0.05, new_category=0.1)
    profiler = Profiler(NUMERIC, CATEGORICAL).fit(frame)
    profile = profiler.profile(frame, sample=100)
    profile.metrics = {"roc_auc": 0.9}
    again = DatasetProfile.from_dict(json.loads(json.dumps(profile.to_dict())))
    assert again.to_dict() == profile.to_dict()


def test_absent_and_unexpected_columns_are_listed(frame_factory):
    frame = frame_factory(rows=100)
    profiler = Profiler(NUMERIC, CATEGORICAL).fit(frame)
    profile = profiler.profile(frame.drop(columns=["y"]).assign(extra=1))
    assert profile.absent == ["y"] and profile.unexpected == ["extra"]


def test_profiles_with_different_schemas_do_not_merge(frame_factory):
    a = Profiler(NUMERIC, CATEGORICAL).fit(frame_factory(seed=1)).profile(frame_factory(rows=10))
    b = Profiler(NUMERIC, CATEGORICAL).fit(frame_factory(seed=2)).profile(frame_factory(rows=10))
    with pytest.raises(ProfileMismatchError):
        merge(a, b)
    with pytest.raises(ProfileMismatchError):
        merge_all([])


from hypothesis import given, settings
from hypothesis import strategies as st

from conveyor.profiles.histogram import _bin_index, _searched_bins, fit_edges


@settings(max_examples=60, deadline=None, derandomize=True)
@given(
    seed=st.integers(0, 2**32 - 1),
    scale=st.sampled_from([1e-6, 1.0, 1e3, 1e9]),
    discrete=st.booleans(),
    bins=st.integers(8, 60),
)
def test_lookup_table_bins_equal_the_binary_search(seed: int, scale: float, discrete: bool, bins: int) -> None:
    """The table path must give exactly the bins of a search, including values on edges,
    outside the range, NaN and infinities."""
    rng = np.random.default_rng(seed)
    train = rng.normal(size=5000) * scale
    if discrete:
        train = np.round(train / scale * 3) * scale
    edges = fit_edges(train, bins)
    if len(edges) < 2:
        return
    values = np.concatenate([
        rng.normal(size=6000) * scale * 1.5,
        np.asarray(edges),  # exactly on every edge
        np.nextafter(np.asarray(edges), np.inf), np.nextafter(np.asarray(edges), -np.inf),
        [np.nan, np.inf, -np.inf],
    ])
    rng.shuffle(values)
    assert np.array_equal(_bin_index(values, edges), _searched_bins(values, np.asarray(edges)))


def test_long_categories_are_counted_under_bounded_distinct_names(tmp_path) -> None:
    import pandas as pd

    from conveyor.profiles import Profiler, profile_parquet
    from conveyor.profiles.profile import MAX_NAME_CHARS, NAME_PREFIX, category_name

    assert category_name("basic") == "basic" and category_name(3) == "3"
    a, b = "a" * 1_000_000, "a" * 999_999 + "b"
    assert category_name(a) != category_name(b) and category_name(a) == category_name("a" * 1_000_000)
    assert len(category_name(a)) == NAME_PREFIX + 18 < MAX_NAME_CHARS
    frame = pd.DataFrame({"plan": ["basic", a, b, a, None] * 20})
    profiler = Profiler([], ["plan"]).fit(frame.head(1))
    by_frame = profiler.profile(frame).columns["plan"]
    frame.to_parquet(tmp_path / "p.parquet")
    by_parquet = profile_parquet(profiler, tmp_path / "p.parquet").columns["plan"]
    assert by_frame.new == by_parquet.new == {category_name(a): 40, category_name(b): 20}
    assert by_frame.missing == 20 and by_frame.counts == {"basic": 20}
