"""Canary rollout: steps, automatic rollback on a faulty candidate, audit log; the CLI."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from conveyor.core.errors import RolloutError
from conveyor.serving.rollout import parse_duration, parse_steps


@contextmanager
def traffic(running: Any, records: Any) -> Iterator[None]:
    stop = threading.Event()

    def send() -> None:
        with running.client() as http:
            while not stop.is_set():
                http.post("/models/churn/invocations", json={"dataframe_records": records(1)})

    threads = [threading.Thread(target=send) for _ in range(3)]
    for t in threads:
        t.start()
    try:
        yield
    finally:
        stop.set()
        for t in threads:
            t.join()


def test_faulty_candidate_is_rolled_back_and_audited(serve: Any, cli: Any, trained_template: Any, records: Any) -> None:
    faulty = f"v{trained_template['faulty']}"
    running = serve({"traffic": {"prod": 100}, "rollout": {"min_requests": 5}})
    with traffic(running, records):
        result = cli("rollout", "churn", "--to", faulty, "--steps", "10,50,100", "--interval", "1s",
                     "--url", running.url, "--project", running.project.path, "--json")
    assert result.exit_code == 6, result.output
    assert running.service.endpoints["churn"].weights == {"prod": 100.0}
    events = running.project.audit()
    rollback = [e for e in events if e["action"] == "rollout-rollback"]
    assert len(rollback) == 1 and rollback[0]["to_version"] == trained_template["faulty"]
    assert "error rate" in rollback[0]["reason"]


def test_healthy_candidate_completes(serve: Any, records: Any) -> None:
    from conveyor.serving.client import AdminClient
    from conveyor.serving.rollout import Rollout

    running = serve({"traffic": {"prod": 100}, "rollout": {"min_requests": 5, "max_p95_ratio": 1000}})
    client = AdminClient(running.url, running.token)
    job = Rollout(client, running.project.promoter.audit, "churn", "staging", steps=[50, 100], interval_s=1.0,
                  spec=running.project.config.serve.rollout)
    with traffic(running, records):
        result = job.run()
    assert result.completed and not result.rolled_back and [s.weight for s in result.steps] == [50, 100]
    assert running.service.endpoints["churn"].weights == {"prod": 0.0, "staging": 100.0}
    actions = [e["action"] for e in running.project.audit()]
    assert actions.count("rollout-step") == 2 and "rollout-complete" in actions


def test_cli_traffic_sets_and_shows_weights(serve: Any, cli: Any) -> None:
    running = serve()
    result = cli("traffic", "churn", "prod=90", "staging=10", "--url", running.url, "--project", running.project.path)
    assert result.exit_code == 0, result.output
    assert running.service.endpoints["churn"].weights == {"prod": 90.0, "staging": 10.0}
    shown = cli("traffic", "--url", running.url, "--project", running.project.path, "--json")
    assert shown.exit_code == 0 and '"staging": 10.0' in shown.output
    bad = cli("traffic", "churn", "prod=x", "--url", running.url, "--project", running.project.path)
    assert bad.exit_code != 0 and "DEPLOYMENT=WEIGHT" in bad.output


def test_parsing() -> None:
    assert parse_duration("5m") == 300 and parse_duration("30s") == 30 and parse_duration("250ms") == 0.25
    assert parse_steps("10,50,100") == [10, 50, 100]
    for bad in ("50,10", "0,100", "abc", "10,150"):
        with pytest.raises(RolloutError):
            parse_steps(bad)
