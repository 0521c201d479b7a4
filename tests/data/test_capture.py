"""The captured-traffic reader: date partitions, the time window, feedback labels."""

from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest

from conveyor.data import CapturedTraffic, NoCapturedTrafficError


def test_no_captured_traffic_is_a_clear_error(tmp_path):
    end = datetime(2026, 1, 2, tzinfo=UTC)
    with pytest.raises(NoCapturedTrafficError, match="no captured traffic for 'churn'") as error:
        CapturedTraffic(str(tmp_path)).read("churn", end - timedelta(hours=24), end)
    assert "--data" in error.value.hint


def test_reads_date_partitions_and_filters_by_timestamp(tmp_path):
    folder = tmp_path / "captures" / "churn" / "date=2026-01-01"
    folder.mkdir(parents=True)
    stamps = pd.to_datetime(["2026-01-01T10:00", "2026-01-01T23:00"], utc=True)
    pd.DataFrame({"x": [1.0, 2.0], "timestamp": stamps}).to_parquet(folder / "part-0.parquet")
    end = datetime(2026, 1, 2, 1, tzinfo=UTC)
    frame = CapturedTraffic(str(tmp_path)).read("churn", end - timedelta(hours=4), end)
    assert frame["x"].tolist() == [2.0]


def test_feedback_labels_are_joined_by_request_id_and_row(tmp_path):
    day = tmp_path / "captures" / "churn" / "date=2026-01-01"
    day.mkdir(parents=True)
    stamps = pd.to_datetime(["2026-01-01T10:00"] * 3, utc=True)
    pd.DataFrame(
        {"x": [1.0, 2.0, 3.0], "request_id": ["a", "a", "b"], "row": [0, 1, 0], "timestamp": stamps}
    ).to_parquet(day / "part-0.parquet")
    # Labels arrive the next day; a corrected label for (a, 1) replaces the first one.
    feedback = tmp_path / "captures" / "churn" / "feedback" / "date=2026-01-02"
    feedback.mkdir(parents=True)
    pd.DataFrame(
        {
            "request_id": ["a", "a", "a"],
            "row": [0, 1, 1],
            "label": [1, 0, 1],
            "timestamp": pd.to_datetime(["2026-01-02T08:00", "2026-01-02T08:00", "2026-01-02T09:00"], utc=True),
        }
    ).to_parquet(feedback / "f-0.parquet")
    end = datetime(2026, 1, 2, tzinfo=UTC)
    frame = CapturedTraffic(str(tmp_path), target="churned").read("churn", end - timedelta(days=1), end)
    assert frame.sort_values(["request_id", "row"])["churned"].tolist()[:2] == [1, 1]
    assert frame["churned"].isna().sum() == 1  # request b has no label yet


def test_feedback_without_row_labels_every_row_of_the_request(tmp_path):
    day = tmp_path / "captures" / "churn" / "date=2026-01-01"
    day.mkdir(parents=True)
    pd.DataFrame(
        {"x": [1.0, 2.0], "request_id": ["a", "a"], "row": [0, 1],
         "timestamp": pd.to_datetime(["2026-01-01T10:00"] * 2, utc=True)}
    ).to_parquet(day / "part-0.parquet")
    feedback = tmp_path / "captures" / "churn" / "feedback" / "date=2026-01-01"
    feedback.mkdir(parents=True)
    pd.DataFrame({"request_id": ["a"], "label": [1]}).to_parquet(feedback / "f.parquet")
    end = datetime(2026, 1, 2, tzinfo=UTC)
    frame = CapturedTraffic(str(tmp_path), target="churned").read("churn", end - timedelta(days=1), end)
    assert frame["churned"].tolist() == [1, 1]
    assert frame["churned"].dtype.kind in "if"  # numeric, so sklearn sees a binary target


def test_parts_written_in_the_layout_are_read_back_with_their_feedback(tmp_path):
    import pyarrow as pa

    from conveyor.core import capture
    from conveyor.data import write_feedback, write_part

    now = datetime.now(UTC)
    table = pa.table({
        "x": [1.0, 2.0],
        capture.PREDICTION: [0, 1],
        capture.TIMESTAMP: [now, now],
        capture.REQUEST_ID: ["r1", "r1"],
        capture.ROW: [0, 1],
    })
    written = write_part(table, capture.served_folder(str(tmp_path), "churn", now.date()))
    assert capture.partition_date(written) == now.date().isoformat()
    write_feedback(str(tmp_path), "churn", [{"request_id": "r1", "row": 1, "label": 1}])
    frame = CapturedTraffic(str(tmp_path), target="churned").read("churn", now - timedelta(hours=1),
                                                                    now + timedelta(seconds=1))
    assert frame["x"].tolist() == [1.0, 2.0]
    assert frame["churned"].isna().tolist() == [True, False] and frame["churned"].iloc[1] == 1
