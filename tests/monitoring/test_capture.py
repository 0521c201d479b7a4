from datetime import datetime, timedelta, timezone

import pandas as pd
import pytest

from conveyor.monitoring.capture import CapturedTraffic, parse_window
from conveyor.monitoring.errors import NoCapturedTrafficError, WindowError


def test_parse_window():
    assert parse_window("24h") == timedelta(hours=24)
    assert parse_window("30m") == timedelta(minutes=30)
    assert parse_window("7d") == timedelta(days=7)
    for bad in ("", "24", "h", "0h", "1 year"):
        with pytest.raises(WindowError):
            parse_window(bad)


def test_no_captured_traffic_is_a_clear_error(tmp_path):
    end = datetime(2026, 1, 2, tzinfo=timezone.utc)
    with pytest.raises(NoCapturedTrafficError, match="no captured traffic for 'churn'") as error:
        CapturedTraffic(str(tmp_path)).read("churn", end - timedelta(hours=24), end)
    assert "--data" in error.value.hint


def test_reads_date_partitions_and_filters_by_timestamp(tmp_path):
    folder = tmp_path / "captures" / "churn" / "date=2026-01-01"
    folder.mkdir(parents=True)
    stamps = pd.to_datetime(["2026-01-01T10:00", "2026-01-01T23:00"], utc=True)
    pd.DataFrame({"x": [1.0, 2.0], "timestamp": stamps}).to_parquet(folder / "part-0.parquet")
    end = datetime(2026, 1, 2, 1, tzinfo=timezone.utc)
    frame = CapturedTraffic(str(tmp_path)).read("churn", end - timedelta(hours=4), end)
    assert frame["x"].tolist() == [2.0]
