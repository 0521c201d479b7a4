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


CAPTURE_ALONE = """
import json, sys
from datetime import UTC, datetime, timedelta
from conveyor.data.capture_writer import CaptureWriter
writer = CaptureWriter(sys.argv[1], "churn", sample=1.0, flush_s=60)
writer.start()
writer.offer("e0", "blue", "1", {"x": [1.5, None], "plan": ["a", None]}, [1, 0], [0.9, 0.2], 1.0)
writer.stop()
print(json.dumps({"written": writer.written, "pandas": "pandas" in sys.modules}))
"""


def test_a_process_without_pandas_captures_without_importing_it(tmp_path: Path) -> None:
    """A serving worker for an inference plan has no pandas; capture must not bring it in
    (pyarrow would import it on its first conversion) and must write the same values."""
    import json
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-c", CAPTURE_ALONE, str(tmp_path)], capture_output=True,
                          text=True, check=False, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout.strip().splitlines()[-1]) == {"written": 2, "pandas": False}
    now = datetime.now(UTC)
    frame = CapturedTraffic(str(tmp_path)).read("churn", now - timedelta(hours=1), now + timedelta(hours=1))
    assert frame["x"].tolist()[0] == 1.5 and frame["x"].isna().tolist() == [False, True]
    assert frame["plan"].tolist()[0] == "a" and frame["plan"].isna().tolist() == [False, True]
    assert frame[layout.PREDICTION].tolist() == [1, 0]
