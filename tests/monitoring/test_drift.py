import numpy as np
import pytest

from conveyor.monitoring.drift import DriftSettings, compare
from conveyor.profiles import Profiler

NUMERIC, CATEGORICAL = ["x", "y", "calls"], ["colour", "size"]
DOCUMENTED_FALSE_ALARM_RATE = 0.01  # per feature, default method (drift.py docstring)


@pytest.fixture(scope="module")
def baseline(frame_factory):

    rng_frame = frame_factory(4000, seed=0)
    profiler = Profiler(NUMERIC, CATEGORICAL).fit(rng_frame)
    return profiler, profiler.profile(rng_frame, sample=1000)


def _check(baseline, frame, **settings):
    profiler, reference = baseline
    return compare(reference, profiler.profile(frame), DriftSettings(**settings), raw=frame)


def _feature(result, name):
    return next(f for f in result.features if f.column == name)


@pytest.mark.parametrize("rows", [300, 3000])  # exact tests on raw data / distances on profiles
@pytest.mark.parametrize(
    "shift, column",
    [({"shift": 1.0}, "x"), ({"scale": 1.6}, "x"), ({"new_category": 0.1}, "colour"),
     ({"missing": 0.3}, "x")],
    ids=["mean-shift", "variance-change", "new-category", "missing-rate-jump"],
)
def test_known_shifts_are_detected(frame_factory, baseline, rows, shift, column):
    result = _check(baseline, frame_factory(rows, seed=11, **shift))
    assert _feature(result, column).drifted is True
    others = [f.column for f in result.features if f.drifted and f.column != column]
    assert others == []


def test_new_category_is_named(frame_factory, baseline):
    feature = _feature(_check(baseline, frame_factory(3000, seed=3, new_category=0.1)), "colour")
    assert feature.new_categories == ["purple"]
    assert any("purple" in m for m in feature.messages)


def test_missing_rate_jump_reason_is_reported(frame_factory, baseline):
    feature = _feature(_check(baseline, frame_factory(3000, seed=3, missing=0.3)), "x")
    assert any(r.startswith("missing rate 0.0%") for r in feature.reasons)


@pytest.mark.parametrize("method", ["evidently", "psi"])
def test_presets_detect_a_large_shift_and_pass_identical_data(frame_factory, baseline, method):
    shifted = _check(baseline, frame_factory(3000, seed=5, shift=2.0, new_category=0.3), method=method)
    assert _feature(shifted, "x").drifted and _feature(shifted, "colour").drifted
    same = _check(baseline, frame_factory(3000, seed=6), method=method)
    assert not any(f.drifted for f in same.features)


def test_psi_uses_ten_bins_and_reports_the_moderate_band(frame_factory, baseline):
    result = _check(baseline, frame_factory(3000, seed=5, shift=0.6), method="psi")
    x = _feature(result, "x")
    assert x.test == "psi" and x.threshold == 0.25
    assert 0.1 <= x.score and (x.drifted or any("moderate" in m for m in x.messages))


@pytest.mark.parametrize("rows", [300, 3000])
def test_iid_resamples_stay_within_the_documented_false_alarm_rate(frame_factory, baseline, rows):
    seeds = range(100, 260)
    alarms = datasets = 0
    for seed in seeds:
        result = _check(baseline, frame_factory(rows, seed=seed))
        alarms += sum(bool(f.drifted) for f in result.features)
        datasets += bool(result.dataset_drift)
    rate = alarms / (len(seeds) * len(NUMERIC + CATEGORICAL))
    assert rate <= 2 * DOCUMENTED_FALSE_ALARM_RATE, rate
    assert datasets == 0


def test_dataset_drift_needs_the_share_of_features(frame_factory, baseline):
    one = _check(baseline, frame_factory(3000, seed=7, shift=2.0))
    assert one.drifted_features == ["x"] and one.share == pytest.approx(0.2)
    assert one.dataset_drift is False
    assert _check(baseline, frame_factory(3000, seed=7, shift=2.0), share=0.2).dataset_drift is True


# --- bad input -------------------------------------------------------------------------------

def test_empty_window_gives_no_verdict(frame_factory, baseline):
    result = _check(baseline, frame_factory(0, seed=1))
    assert result.dataset_drift is None and result.share is None
    assert all(f.drifted is None for f in result.features)
    assert any("no feature had enough data" in m for m in result.messages)


def test_too_few_rows_says_so_instead_of_guessing(frame_factory, baseline):
    result = _check(baseline, frame_factory(10, seed=1, shift=5.0))
    x = _feature(result, "x")
    assert x.drifted is None
    assert any("at least 30 are needed for a verdict" in m for m in x.messages)


def test_all_nan_column_is_flagged_by_its_missing_rate(frame_factory, baseline):
    frame = frame_factory(500, seed=1).assign(x=np.nan)
    x = _feature(_check(baseline, frame), "x")
    assert x.drifted is True
    assert "all values are missing" in x.messages
    assert any("missing rate" in r for r in x.reasons)


def test_missing_and_new_columns_are_reported(frame_factory, baseline):
    frame = frame_factory(500, seed=1).drop(columns=["y"]).assign(surprise=1.0)
    result = _check(baseline, frame)
    y = _feature(result, "y")
    assert y.drifted is None and "column missing from the current data" in y.messages
    assert any("'y' is missing" in m for m in result.messages)
    assert any("'surprise' is new" in m for m in result.messages)
    assert result.dataset_drift is not None  # the other features still get a verdict


def test_numbers_arriving_as_strings_are_a_type_change(frame_factory, baseline):
    frame = frame_factory(500, seed=1)
    frame["x"] = frame["x"].map(lambda v: f"{v:.2f}").astype(object)
    frame.loc[:99, "x"] = "unknown"
    x = _feature(_check(baseline, frame), "x")
    assert x.drifted is True
    assert any(m.startswith("type change: 100 of 500") for m in x.messages)
    parsed = frame_factory(500, seed=1)
    parsed["x"] = parsed["x"].map(lambda v: f"{v:.6f}")  # numbers as strings still compare
    assert _feature(_check(baseline, parsed), "x").drifted is False
