"""Profiling a Parquet file batch by batch equals profiling the frame read whole."""

import numpy as np
import pandas as pd
import pytest

from conveyor.core.errors import SourceError
from conveyor.profiles import (
    DatasetProfile,
    Profiler,
    bin_index,
    fit_edges,
    fit_parquet,
    histogram,
    profile_parquet,
)

NUMERIC, CATEGORICAL = ["x", "y", "calls"], ["colour", "size"]


def _assert_same(streamed: DatasetProfile, whole: DatasetProfile) -> None:
    a, b = streamed.to_dict(), whole.to_dict()
    assert (a["rows"], a["schema"], a["absent"], a["unexpected"]) == (
        b["rows"], b["schema"], b["absent"], b["unexpected"])
    assert a["columns"].keys() == b["columns"].keys()
    for name, x in a["columns"].items():
        y = b["columns"][name]
        for key in ("mean", "m2", "sums"):  # floating sums: equal up to rounding
            if key in x:
                assert x.pop(key) == pytest.approx(y.pop(key), rel=1e-9, abs=1e-9), name
        assert x == y, name


@pytest.fixture
def messy(frame_factory) -> pd.DataFrame:
    frame = frame_factory(rows=3000, missing=0.1, new_category=0.05)
    frame.loc[::97, "y"] = np.inf
    frame.loc[::89, "colour"] = None
    frame["calls"] = frame["calls"].fillna(0).astype("int64")
    return frame


@pytest.mark.parametrize("batch_rows", [1, 7, 1000, 10_000])
def test_parquet_profile_equals_frame_profile(tmp_path, messy, batch_rows):
    path = tmp_path / "data.parquet"
    messy.to_parquet(path)
    whole = Profiler(NUMERIC, CATEGORICAL, bins=20).fit(messy)
    streamed = fit_parquet(Profiler(NUMERIC, CATEGORICAL, bins=20), path, batch_rows=batch_rows)
    assert streamed.schema_ == whole.schema_
    _assert_same(profile_parquet(streamed, path, sample=50, seed=3, batch_rows=batch_rows),
                 whole.profile(messy, sample=50, seed=3))


def test_parquet_profile_keeps_type_changes_absent_and_new_columns(tmp_path, frame_factory):
    reference = frame_factory(rows=500)
    profiler = Profiler(NUMERIC, CATEGORICAL).fit(reference)
    current = pd.DataFrame({"x": ["1.5", "abc", None, "7", "n/a"] * 20, "colour": ["red"] * 100,
                            "extra": range(100)}, index=pd.Index(range(100, 200), name="row"))
    path = tmp_path / "current.parquet"
    current.to_parquet(path)
    streamed = profile_parquet(profiler, path, batch_rows=30)
    _assert_same(streamed, profiler.profile(pd.read_parquet(path)))
    assert streamed.columns["x"].invalid == 40 and "abc" in streamed.columns["x"].invalid_examples
    assert streamed.absent == ["y", "calls", "size"] and streamed.unexpected == ["extra"]


def test_fitting_on_a_parquet_file_without_a_column_says_which(tmp_path, frame_factory):
    path = tmp_path / "data.parquet"
    frame_factory(rows=50).drop(columns=["size"]).to_parquet(path)
    with pytest.raises(SourceError, match="size"):
        fit_parquet(Profiler(NUMERIC, CATEGORICAL), path)


def test_sorted_histogram_and_quantiles_match_the_definitions():
    rng = np.random.default_rng(5)
    for rows in (1, 2, 5, 999):
        values = np.round(rng.normal(size=rows), 1)  # ties on the edges
        for bins in (1, 4, 50):
            edges = fit_edges(values, bins)
            expected = np.unique(np.quantile(values, np.linspace(0, 1, bins + 1)))
            assert np.array_equal(edges, expected)
            probe = np.concatenate([values, rng.normal(size=100) * 3, edges])
            assert np.array_equal(histogram(probe, edges),
                                  np.bincount(bin_index(probe, edges), minlength=len(edges) + 1))


def test_a_parquet_file_on_s3_profiles_as_the_local_file(tmp_path, messy, s3):
    import s3fs

    path = tmp_path / "data.parquet"
    messy.to_parquet(path)
    s3fs.S3FileSystem(**s3).put(str(path), "lake/profiles/data.parquet")
    url = "s3://lake/profiles/data.parquet"
    local = fit_parquet(Profiler(NUMERIC, CATEGORICAL, bins=20), path)
    remote = fit_parquet(Profiler(NUMERIC, CATEGORICAL, bins=20), url, storage_options=s3)
    assert remote.schema_ == local.schema_
    _assert_same(profile_parquet(remote, url, batch_rows=500, storage_options=s3),
                 profile_parquet(local, path, batch_rows=500))
    with pytest.raises(SourceError, match="does not exist"):
        fit_parquet(Profiler(NUMERIC, CATEGORICAL), "s3://lake/profiles/missing.parquet", storage_options=s3)
