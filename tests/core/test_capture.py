"""The captured-traffic layout: one set of names for the writer and the reader."""

from datetime import date

from conveyor.core import capture


def test_paths_follow_the_documented_layout() -> None:
    day = date(2026, 1, 2)
    assert capture.model_root("s3://store/", "churn") == "s3://store/captures/churn"
    assert capture.served_folder("/a", "churn", day) == "/a/captures/churn/date=2026-01-02"
    assert capture.shadow_folder("/a", "churn", "2026-01-02") == "/a/captures/churn/shadow/date=2026-01-02"
    assert capture.feedback_folder("/a", "churn", day) == "/a/captures/churn/feedback/date=2026-01-02"


def test_partition_date_reads_the_day_back() -> None:
    assert capture.partition_date("/a/captures/churn/date=2026-01-02/x.parquet") == "2026-01-02"
    assert capture.partition_date("/a/captures/churn/x.parquet") == ""


def test_metadata_columns_are_never_model_inputs() -> None:
    assert {capture.PREDICTION, capture.SCORE, capture.TIMESTAMP, capture.REQUEST_ID, capture.ROW} <= set(
        capture.METADATA)
    assert capture.LABEL not in capture.METADATA
