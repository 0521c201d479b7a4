"""Captured predictions and feedback land where monitoring reads them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd

from conveyor.data import CapturedTraffic
from conveyor.serving.capture import CaptureWriter


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
