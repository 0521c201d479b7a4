"""`conveyor learn --metrics-port`: the learner's Prometheus metrics and /healthz while it learns."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable
from pathlib import Path

import httpx
import orjson
import pytest

from conveyor.app import Project
from conveyor.core.errors import PortInUseError
from conveyor.examples.drift_stream import drift_stream
from conveyor.online import LearnOptions, run_learn
from tests.streaming.conftest import free_port, wait_for


def _events(path: Path) -> Path:
    rows = drift_stream(1200, drift_at=1200, seed=4).rows()
    lines = [orjson.dumps(row) for row in rows] + [b"{broken", orjson.dumps({**rows[0], "label": 7})]
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path


def test_metrics_and_health_while_learning(make_project: Callable[..., Path], tmp_path: Path) -> None:
    folder = make_project({"checkpoint": {"every_events": 1000, "every_s": None}, "drift": {"detector": None}})
    path = _events(tmp_path / "events.jsonl")
    port = free_port()
    stop = threading.Event()
    result: dict[str, object] = {}

    def learn() -> None:
        try:
            result["summary"] = run_learn(Project.load(folder).lifecycle, LearnOptions(
                source=f"file://{path}", follow=True, metrics_port=port), stop)
        except BaseException as exc:
            result["error"] = exc

    thread = threading.Thread(target=learn, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"

    def scraped(text: str) -> Callable[[], bool]:
        def check() -> bool:
            try:
                return text in httpx.get(f"{url}/metrics").text
            except httpx.TransportError:
                return "error" in result
        return check

    wait_for(scraped('conveyor_online_events_total{model="drifty"} 1202.0'))
    assert "error" not in result, result
    text = httpx.get(f"{url}/metrics").text
    assert 'conveyor_online_rejected_total{model="drifty",reason="malformed_json"} 1.0' in text
    assert 'conveyor_online_rejected_total{model="drifty",reason="unknown_class"} 1.0' in text
    assert 'conveyor_online_checkpoints_total{gate="passed",model="drifty"} 1.0' in text
    learned = float(text.split('conveyor_online_learned_total{model="drifty"} ')[1].split()[0])
    assert 1000 < learned < 1200  # the holdout stream keeps its share out
    accuracy = float(text.split('conveyor_online_prequential_accuracy{model="drifty"} ')[1].split()[0])
    assert 0.7 < accuracy < 1.0
    assert 'conveyor_online_window_metric{metric="accuracy",model="drifty"}' in text
    health = httpx.get(f"{url}/healthz")
    assert health.status_code == 200 and health.json()["ok"] is True and health.json()["events"] == 1202
    assert health.json()["checkpoint"]["gate"] == "passed"
    stop.set()
    thread.join(60)
    assert result["summary"].events == 1202


def test_a_taken_port_is_refused_before_learning(make_project: Callable[..., Path], tmp_path: Path) -> None:
    folder = make_project()
    path = _events(tmp_path / "events.jsonl")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        project = Project.load(folder)
        with pytest.raises(PortInUseError, match=f"cannot listen on 127.0.0.1:{port}") as raised:
            run_learn(project.lifecycle, LearnOptions(source=f"file://{path}", metrics_port=port))
    assert "--metrics-port" in (raised.value.hint or "")
    assert project.client.search_model_versions("name = 'drifty'") == []  # nothing learned, nothing registered
