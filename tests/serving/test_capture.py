"""Captured predictions and feedback land where monitoring reads them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd

from conveyor.data import CapturedTraffic
from conveyor.data.capture_writer import CaptureWriter


def test_capture_is_written_in_the_monitoring_layout(serve: Any, records: Any) -> None:
    running = serve({"capture": {"sample": 1.0, "flush_s": 0.2}})
    with running.client() as http:
        ids = [http.post("/models/churn/invocations", json={"dataframe_records": records(3)}).json()["request_id"]
               for _ in range(5)]
    now = datetime.now(UTC)
    source = CapturedTraffic(running.service.artifact_store)

    def captured() -> bool:
        try:
            return set(ids) <= set(source.read("churn", now - timedelta(hours=1), now + timedelta(hours=1))["request_id"])
        except Exception:
            return False

    running.wait(captured)
    frame = source.read("churn", now - timedelta(hours=1), now + timedelta(hours=1))
    for column in ("tenure_months", "plan", "__prediction__", "__score__", "timestamp", "request_id",
                   "deployment", "version", "latency_ms"):
        assert column in frame.columns
    assert len(frame) == 15 and set(frame["deployment"]) == {"prod"} and set(frame["version"]) == {"1"}
    assert str(frame["timestamp"].dt.tz) == "UTC"


def test_feedback_is_stored_next_to_the_capture(serve: Any, records: Any) -> None:
    running = serve()
    with running.client() as http:
        rid = http.post("/models/churn/invocations", json={"dataframe_records": records(1)}).json()["request_id"]
        assert http.post("/models/churn/feedback", json={"request_id": rid, "label": 1}).json() == {"stored": 1}
        many = {"feedback": [{"request_id": "a", "label": 0, "row": 0}, {"request_id": "b", "label": 1}]}
        assert http.post("/models/churn/feedback", json=many).json() == {"stored": 2}
        assert http.post("/models/churn/feedback", content=b"nope").status_code == 400
        for bad in ({"label": 1}, {"request_id": "a", "label": 1, "row": True}, {"request_id": "a", "label": {}},
                    {"request_id": 7, "label": 1}, {"request_id": "a", "label": 1, "row": 2**63}):
            response = http.post("/models/churn/feedback", json=bad)
            assert response.status_code == 422 and "'request_id' string" in response.json()["message"], bad
    folder = Path(running.service.captures["churn"].root) / "feedback"
    frame = pd.concat([pd.read_parquet(p) for p in folder.glob("date=*/*.parquet")])
    assert set(frame["request_id"]) == {rid, "a", "b"} and set(frame.columns) >= {"request_id", "label", "timestamp"}


def test_full_queue_drops_and_counts(tmp_path: Path) -> None:
    writer = CaptureWriter(str(tmp_path), "m", sample=1.0, max_rows=5)
    for i in range(4):
        writer.offer(f"r{i}", "prod", "1", {"x": [1.0, 2.0]}, [0, 1], [0.1, 0.9], 1.0)
    assert writer.dropped == 4  # two requests fit (4 rows), the rest is dropped
    assert writer.flush() == 4
    writer.offer("r9", "prod", "1", {"x": [1.0]}, [0], None, 1.0)  # room again after a flush
    assert writer.flush() == 1 and writer.dropped == 4


def test_monitor_window_reads_capture_and_joins_feedback(serve: Any, records: Any) -> None:
    """serve → capture → feedback → `monitor --window`: performance is measured on live labels."""
    from conveyor.monitoring.monitor import run_monitor

    running = serve({"capture": {"sample": 1.0, "flush_s": 0.2}})
    rows = records(60)
    with running.client() as http:
        ids = []
        for start in range(0, 60, 20):
            body = http.post("/models/churn/invocations", json={"dataframe_records": rows[start:start + 20]}).json()
            ids.append(body["request_id"])
            labels = [{"request_id": body["request_id"], "row": i, "label": int(i % 3 == 0)} for i in range(20)]
            assert http.post("/models/churn/feedback", json={"feedback": labels}).status_code == 200
    now = datetime.now(UTC)
    source = CapturedTraffic(running.service.artifact_store, target="churned")

    def labelled() -> bool:
        try:
            frame = source.read("churn", now - timedelta(hours=1), now + timedelta(hours=1))
        except Exception:
            return False
        return set(ids) <= set(frame["request_id"]) and frame["churned"].notna().sum() == 60

    running.wait(labelled)
    result = run_monitor(running.project.lifecycle, window="1h", now=now + timedelta(minutes=1))
    assert result.rows == 60
    assert result.performance is not None  # labels from /feedback reached the performance check
    assert not any("unexpected" in m for m in result.messages)


def _captured(running: Any, ids: list[str]) -> pd.DataFrame:
    """The captured rows of these requests, once every one of them is written."""
    now = datetime.now(UTC)
    source = CapturedTraffic(running.service.artifact_store)

    def read() -> pd.DataFrame | None:
        try:
            frame = source.read("churn", now - timedelta(hours=1), now + timedelta(hours=1))
        except Exception:
            return None
        return frame if set(ids) <= set(frame["request_id"]) else None

    running.wait(lambda: read() is not None)
    frame = read()
    assert frame is not None
    return frame


def test_an_integer_past_int64_in_a_float_column_costs_no_other_request_its_rows(serve: Any, records: Any) -> None:
    """2**63 in a float column is answered and captured as the float the model saw; the 30
    requests captured with it in one batch are all written (the batch once failed whole)."""
    running = serve({"capture": {"sample": 1.0, "flush_s": 3600}})  # one flush, at the end: one batch
    capture = running.service.captures["churn"]
    with running.client() as http:
        ids = [http.post("/models/churn/invocations", json={"dataframe_records": records(1)}).json()["request_id"]
               for _ in range(30)]
        odd = http.post("/models/churn/invocations",
                        json={"dataframe_records": [dict(records(1)[0], tenure_months=2**63)]})
        assert odd.status_code == 200
        ids.append(odd.json()["request_id"])
    assert capture.flush() == 31 and capture.dropped == 0
    frame = _captured(running, ids)
    assert len(frame) == 31
    assert frame.loc[frame["request_id"] == ids[-1], "tenure_months"].tolist() == [float(2**63)]
    assert str(frame["tenure_months"].dtype) == "float64"


def test_an_integer_past_the_float_range_is_refused_at_the_edge(serve: Any) -> None:
    running = serve()
    body = b'{"dataframe_records": [{"tenure_months": 1' + b"0" * 400 + b"}]}"
    with running.client() as http:
        response = http.post("/models/churn/invocations", content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 400 and response.json()["error_code"] == "BAD_REQUEST"


def test_a_request_the_capture_cannot_hold_is_dropped_alone(tmp_path: Path) -> None:
    """A value no Arrow column holds (an integer past uint64 in a column the signature does
    not type) is written request by request: only its own row is dropped, and counted."""
    from conveyor.serving.metrics import Metrics

    metrics = Metrics()
    writer = CaptureWriter(str(tmp_path), "m", sample=1.0,
                           on_dropped=metrics.capture_dropped.labels("m").inc)
    for i in range(30):
        writer.offer(f"r{i}", "prod", "1", {"x": [1.0], "blob": [i]}, [0], [0.1], 1.0)
    writer.offer("bad", "prod", "1", {"x": [1.0], "blob": [2**64]}, [0], [0.1], 1.0)
    assert writer.flush() == 30 and writer.dropped == 1
    assert metrics.registry.get_sample_value("conveyor_capture_dropped_rows_total", {"model": "m"}) == 1.0
    frame = pd.concat([pd.read_parquet(p) for p in Path(tmp_path).rglob("*.parquet")])
    assert sorted(frame["request_id"]) == sorted(f"r{i}" for i in range(30))


def test_a_failed_write_is_counted_and_retried(tmp_path: Path) -> None:
    """The store refuses the first write (a file stands where the partition folder goes):
    the rows are kept and counted as a write failure; the next flush writes them."""
    from conveyor.core import capture as layout
    from conveyor.serving.metrics import Metrics

    metrics = Metrics()
    writer = CaptureWriter(str(tmp_path), "m", sample=1.0,
                           on_dropped=metrics.capture_dropped.labels("m").inc,
                           on_write_failed=metrics.capture_write_failures.labels("m").inc)
    for i in range(3):
        writer.offer(f"r{i}", "prod", "1", {"x": [1.0, 2.0]}, [0, 1], None, 1.0)
    folder = Path(layout.served_folder(str(tmp_path), "m", datetime.now(UTC).date()))
    folder.parent.mkdir(parents=True)
    folder.write_text("in the way")
    assert writer.flush() == 0
    assert writer.write_failures == 1 and writer.dropped == 0
    assert metrics.registry.get_sample_value("conveyor_capture_write_failures_total", {"model": "m"}) == 1.0
    folder.unlink()
    writer.offer("r3", "prod", "1", {"x": [3.0]}, [1], None, 1.0)
    assert writer.flush() == 7 and writer.dropped == 0
    frame = pd.concat([pd.read_parquet(p) for p in folder.glob("*.parquet")])
    assert sorted(frame["request_id"]) == ["r0", "r0", "r1", "r1", "r2", "r2", "r3"]


def test_a_store_that_keeps_failing_drops_after_the_last_attempt(tmp_path: Path) -> None:
    from conveyor.core import capture as layout
    from conveyor.data.capture_writer import WRITE_ATTEMPTS

    writer = CaptureWriter(str(tmp_path), "m", sample=1.0)
    writer.offer("r0", "prod", "1", {"x": [1.0, 2.0]}, [0, 1], None, 1.0)
    folder = Path(layout.served_folder(str(tmp_path), "m", datetime.now(UTC).date()))
    folder.parent.mkdir(parents=True)
    folder.write_text("in the way")
    writer.stop()  # shutdown spends the remaining attempts, then counts what is lost
    assert writer.write_failures == WRITE_ATTEMPTS and writer.dropped == 2
    writer.offer("r1", "prod", "1", {"x": [1.0]}, [0], None, 1.0)
    assert writer.flush() == 0 and writer.dropped == 2  # the queue bound was given back: r1 was taken
