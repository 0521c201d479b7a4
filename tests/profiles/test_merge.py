"""Profiling N partitions and merging equals profiling the whole."""

import itertools

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conveyor.profiles import Profiler, merge_all
from conveyor.profiles import profile as profile_module

numbers = st.one_of(st.none(), st.floats(-1e6, 1e6, allow_nan=False), st.sampled_from([0.0, 1.0, 2.5]))
labels = st.one_of(st.none(), st.sampled_from(["a", "b", "c"]), st.text("xyz", min_size=1, max_size=3))


@st.composite
def partitioned(draw):
    rows = draw(st.integers(1, 60))
    frame = pd.DataFrame({
        "x": pd.array(draw(st.lists(numbers, min_size=rows, max_size=rows)), dtype="Float64"),
        "c": draw(st.lists(labels, min_size=rows, max_size=rows)),
    })
    cuts = sorted(draw(st.lists(st.integers(0, rows), max_size=5)))
    bounds = [0, *cuts, rows]
    parts = [frame.iloc[a:b] for a, b in itertools.pairwise(bounds)]
    reference = draw(st.lists(st.floats(-1e3, 1e3, allow_nan=False), min_size=1, max_size=30))
    vocab = draw(st.lists(st.sampled_from(["a", "b", "c", "x"]), max_size=4))
    return frame, parts, reference, vocab


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(partitioned(), st.integers(1, 4))
def test_merging_partition_profiles_equals_profiling_the_whole(case, cap):
    frame, parts, reference, vocab = case
    fitted = Profiler(["x"], ["c"], bins=8).fit(
        pd.DataFrame({"x": reference, "c": (vocab * len(reference))[: len(reference)] or None})
    )
    original = profile_module.NEW_CATEGORY_CAP
    profile_module.NEW_CATEGORY_CAP = cap  # small cap: exercise the "other" bucket
    try:
        whole = fitted.profile(frame)
        merged = merge_all(fitted.profile(p) for p in parts)
    finally:
        profile_module.NEW_CATEGORY_CAP = original
    assert merged.rows == whole.rows
    a, b = merged.columns["x"], whole.columns["x"]
    assert np.array_equal(a.counts, b.counts)
    assert (a.count, a.missing, a.invalid, a.minimum, a.maximum) == (
        b.count, b.missing, b.invalid, b.minimum, b.maximum)
    assert np.isclose(a.mean, b.mean, rtol=1e-9, atol=1e-6)
    assert np.isclose(a.m2, b.m2, rtol=1e-7, atol=1e-3)
    assert merged.columns["c"].to_dict() == whole.columns["c"].to_dict()
