"""Stream traffic is captured in the endpoint's layout: `conveyor monitor --window 1h` reads
it, with labels from a feedback stream joined by event id."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

from conveyor.app import Project
from conveyor.core import capture as layout
from conveyor.data.capture import CapturedTraffic
from conveyor.monitoring.monitor import run_monitor
from conveyor.scaffold import generate_example_data


def test_monitor_window_covers_stream_traffic_with_feedback_labels(
    make_stream_project: Callable[..., Path], cli: Callable[..., Any]
) -> None:
    project = make_stream_project({"capture": {"sample": 1.0, "flush_s": 0.2}})
    rows = pd.read_parquet(generate_example_data(project, rows=600, seed=11, out="data/fresh.parquet"))
    records = rows.astype(object).where(rows.notna(), None).to_dict(orient="records")  # JSON null, not NaN
    events = project / "events.jsonl"
    events.write_text("".join(json.dumps({**r, "event_id": f"e{i}"}, default=str) + "\n"
                              for i, r in enumerate(records)))
    labels = project / "labels.jsonl"
    labels.write_text("".join(json.dumps({"event_id": f"e{i}", "label": int(r["churned"])}) + "\n"
                              for i, r in enumerate(records)))
    result = cli("stream", "churn@prod", "--project", project, "--source", f"file://{events}",
                 "--sink", f"file://{project / 'scores.jsonl'}", "--feedback", f"file://{labels}")
    assert result.exit_code == 0, result.output

    loaded = Project.load(project)
    traffic = CapturedTraffic(loaded.stack.artifact_store, target="churned")
    frame = traffic.read("churn", pd.Timestamp.now("UTC") - pd.Timedelta("1h"), pd.Timestamp.now("UTC"))
    assert len(frame) == 600
    assert set(frame[layout.DEPLOYMENT]) == {"stream"} and set(frame[layout.VERSION]) == {"1"}
    assert sorted(frame[layout.REQUEST_ID]) == sorted(f"e{i}" for i in range(600))
    assert frame["churned"].notna().all()  # every label joined by event id

    monitored = run_monitor(loaded.lifecycle, window="1h")
    assert monitored.drift is not None
    assert monitored.performance is not None and monitored.performance.current is not None
