"""A JSON Lines file as a stream: `conveyor stream --source file://… --sink file://…`."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.streaming.conftest import RECORD, event


def _lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def test_every_event_scored_with_its_id_and_version(
    stream_project: Path, cli: Callable[..., Any]
) -> None:
    source, sink = stream_project / "events.jsonl", stream_project / "scores.jsonl"
    source.write_bytes(b"\n".join(event(i) for i in range(500)) + b"\n")
    result = cli("stream", "churn@prod", "--source", f"file://{source}", "--sink", f"file://{sink}",
                 "--project", stream_project, "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert (summary["events"], summary["scored"], summary["dead_letters"]) == (500, 500, 0)
    outputs = _lines(sink)
    assert [o["event_id"] for o in outputs] == [f"e{i}" for i in range(500)]
    first = outputs[0]
    assert (first["model"], first["version"]) == ("churn", "1")
    assert first["prediction"] in (0, 1)
    assert set(first["probabilities"]) == {"0", "1"}
    assert first["score"] == first["probabilities"]["1"]
    assert first["source"] == {"source": str(source), "partition": None, "offset": "1"}
    assert first["latency_ms"] >= 0


def test_a_second_run_resumes_after_the_last_synced_batch(
    stream_project: Path, cli: Callable[..., Any]
) -> None:
    source, sink = stream_project / "events.jsonl", stream_project / "scores.jsonl"
    source.write_bytes(b"\n".join(event(i) for i in range(10)) + b"\n")
    args = ("stream", "churn@prod", "--source", f"file://{source}", "--sink", f"file://{sink}",
            "--project", stream_project)
    assert cli(*args).exit_code == 0
    with source.open("ab") as handle:
        handle.write(b"\n".join(event(i) for i in range(10, 15)) + b"\n")
    assert cli(*args).exit_code == 0
    assert [o["event_id"] for o in _lines(sink)] == [f"e{i}" for i in range(15)]


def test_bad_events_go_to_the_dead_letters_with_their_reason(
    stream_project: Path, cli: Callable[..., Any]
) -> None:
    source, sink = stream_project / "events.jsonl", stream_project / "scores.jsonl"
    bad = [
        b"{not json",
        b"[1, 2]",
        json.dumps({k: v for k, v in RECORD.items() if k != "plan"}).encode(),
        json.dumps({**RECORD, "tenure_months": "eight"}).encode(),
    ]
    source.write_bytes(b"\n".join([event(0), *bad, event(1)]) + b"\n")
    result = cli("stream", "churn@prod", "--source", f"file://{source}", "--sink", f"file://{sink}",
                 "--project", stream_project)
    assert result.exit_code == 0, result.output
    assert [o["event_id"] for o in _lines(sink)] == ["e0", "e1"]
    dead = _lines(stream_project / "events.dead.jsonl")
    assert [d["reason"] for d in dead] == ["malformed_json", "not_an_object", "schema", "schema"]
    assert "missing column 'plan'" in dead[2]["detail"]
    assert "'tenure_months' must be a number" in dead[3]["detail"]
    assert dead[0]["payload"] == "{not json"
    assert dead[0]["source"] == {"source": str(source), "partition": None, "offset": "2"}
    assert {d["version"] for d in dead} == {"1"}


def test_a_missing_source_file_is_one_clear_error(stream_project: Path, cli: Callable[..., Any]) -> None:
    result = cli("stream", "churn@prod", "--source", "file:///nowhere/events.jsonl", "--sink",
                 f"file://{stream_project}/out.jsonl", "--project", stream_project)
    assert result.exit_code == 1
    assert "stream source file /nowhere/events.jsonl does not exist" in result.output
