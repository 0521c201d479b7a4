"""CaptureWriter: sampled rows queued on the scoring path, written as Parquet parts in the
capture layout by its thread; rows past the bound are dropped and counted."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from conveyor.core import capture as layout
from conveyor.data import CapturedTraffic
from conveyor.data.capture_writer import CaptureWriter


def test_offered_rows_are_written_in_the_layout_on_stop(tmp_path: Path) -> None:
    writer = CaptureWriter(str(tmp_path), "churn", sample=1.0, flush_s=60)
    writer.start()
    for i in range(3):
        writer.offer(f"e{i}", "stream", "4", {"x": [float(i)]}, [i % 2], [0.5], 1.5)
    writer.stop()  # writes what is queued
    now = datetime.now(UTC)
    frame = CapturedTraffic(str(tmp_path)).read("churn", now - timedelta(hours=1), now + timedelta(hours=1))
    assert sorted(frame[layout.REQUEST_ID]) == ["e0", "e1", "e2"]
    assert set(frame[layout.DEPLOYMENT]) == {"stream"} and set(frame[layout.VERSION]) == {"4"}
    assert writer.written == 3 and writer.dropped == 0


def test_rows_past_the_bound_are_dropped_and_counted(tmp_path: Path) -> None:
    dropped: list[int] = []
    writer = CaptureWriter(str(tmp_path), "churn", sample=1.0, max_rows=2, on_dropped=dropped.append)
    for i in range(3):
        writer.offer(f"e{i}", "stream", "1", {"x": [1.0]}, [1], None, 1.0)
    assert writer.dropped == 1 and dropped == [1]
    assert writer.flush() == 2
