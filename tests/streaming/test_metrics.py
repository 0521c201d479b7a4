"""/metrics and /healthz of a running stream scorer."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import redis

from tests.streaming.conftest import event, free_port, wait_for, xadd_all


def test_metrics_and_health_while_scoring(
    redis_prefix: str, stream_project: Path, run_in_thread: Callable[..., Any]
) -> None:
    xadd_all(f"{redis_prefix}-in", [event(i) for i in range(300)] + [b"{broken"])
    port = free_port()
    running = run_in_thread(stream_project, source=f"redis://127.0.0.1:6379/{redis_prefix}-in",
                            sink=f"redis://127.0.0.1:6379/{redis_prefix}-out", metrics_port=port)
    client = redis.Redis(port=6379)
    wait_for(lambda: client.xlen(f"{redis_prefix}-out") >= 300)
    url = f"http://127.0.0.1:{port}"
    wait_for(lambda: 'conveyor_stream_events_total{model="churn"} 301.0' in httpx.get(f"{url}/metrics").text)
    text = httpx.get(f"{url}/metrics").text
    assert 'conveyor_stream_scored_total{model="churn",version="1"} 300.0' in text
    assert 'conveyor_stream_dead_letters_total{model="churn",reason="malformed_json"} 1.0' in text
    assert "conveyor_stream_batch_size_bucket" in text and "conveyor_stream_latency_seconds_bucket" in text
    assert 'conveyor_stream_version{model="churn"} 1.0' in text
    health = httpx.get(f"{url}/healthz")
    assert health.status_code == 200
    assert health.json()["version"] == "1" and health.json()["ok"] is True
    running.stop()


def test_two_workers_share_one_consumer_group(redis_prefix: str, stream_project: Path, cli: Callable[..., Any]) -> None:
    import json

    xadd_all(f"{redis_prefix}-in", [event(i) for i in range(3000)])
    result = cli("stream", "churn@prod", "--project", stream_project, "--workers", "2", "--max-batch", "20",
                 "--source", f"redis://127.0.0.1:6379/{redis_prefix}-in",
                 "--sink", f"redis://127.0.0.1:6379/{redis_prefix}-out", "--idle-exit", "3", "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert summary["events"] == 3000 and summary["committed"] is True
    consumers = redis.Redis(port=6379).xinfo_consumers(f"{redis_prefix}-in", "conveyor-churn")
    assert consumers == []  # both left the group: nothing pending with either


def test_workers_that_cannot_reach_the_broker_exit_as_one_would(stream_project: Path, cli: Callable[..., Any]) -> None:
    port = free_port()
    result = cli("stream", "churn@prod", "--project", stream_project, "--workers", "2",
                 "--source", f"redis://127.0.0.1:{port}/s", "--sink", f"redis://127.0.0.1:{port}/o")
    assert result.exit_code == 9, result.output
    assert "worker 0 exited 9" in result.output and "does not answer" in result.output
