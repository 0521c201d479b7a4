"""Canary rollout: steps, automatic rollback on a faulty candidate, audit log; the CLI."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from conveyor.core.errors import ExitCode, OptionError
from conveyor.serving.rollout import parse_duration, parse_steps


class Traffic:
    """Three clients sending one-row requests until stopped; counts answers per deployment."""

    def __init__(self, running: Any, records: Any) -> None:
        self.running = running
        self.body = {"dataframe_records": records(1)}
        self.answers: Counter[str] = Counter()
        self._changed = threading.Condition()
        self._stop = threading.Event()

    def _send(self) -> None:
        with self.running.client() as http:
            while not self._stop.is_set():
                response = http.post("/models/churn/invocations", json=self.body)
                with self._changed:
                    self.answers[response.headers.get("x-conveyor-deployment", "-")] += 1
                    self._changed.notify_all()

    def wait_answers(self, deployment: str, more: int) -> None:
        """Until `deployment` has answered `more` requests beyond what it has answered now."""
        with self._changed:
            target = self.answers[deployment] + more
            assert self._changed.wait_for(lambda: self.answers[deployment] >= target, timeout=60)

    @contextmanager
    def sending(self) -> Iterator[Traffic]:
        threads = [threading.Thread(target=self._send) for _ in range(3)]
        for t in threads:
            t.start()
        try:
            yield self
        finally:
            self._stop.set()
            for t in threads:
                t.join()


def _rollout(running: Any, traffic: Traffic, candidate: str, steps: list[float]) -> Any:
    """A rollout whose every observation lasts until the candidate has answered
    `min_requests` more requests (instead of a wall-clock interval)."""
    from conveyor.serving.client import AdminClient
    from conveyor.serving.rollout import Rollout

    spec = running.project.config.serve.rollout
    return Rollout(AdminClient(running.url, running.token), running.project.audit_log, "churn", candidate,
                   steps=steps, interval_s=1.0, spec=spec,
                   sleep=lambda _seconds: traffic.wait_answers(candidate, spec.min_requests))


def test_faulty_candidate_is_rolled_back_and_audited(serve: Any, trained_template: Any, records: Any) -> None:
    faulty = f"v{trained_template['faulty']}"
    running = serve({"traffic": {"prod": 100}, "rollout": {"min_requests": 5}})
    traffic = Traffic(running, records)
    with traffic.sending():
        result = _rollout(running, traffic, faulty, [10, 50, 100]).run()
    assert result.rolled_back and not result.completed and [s.weight for s in result.steps] == [10]
    assert running.service.endpoints["churn"].weights == {"prod": 100.0}
    events = running.project.audit()
    rollback = [e for e in events if e["action"] == "rollout-rollback"]
    assert len(rollback) == 1 and rollback[0]["to_version"] == trained_template["faulty"]
    assert "error rate" in rollback[0]["reason"]


def test_cli_rollout_rolls_back_with_the_rolled_back_exit_code(serve: Any, cli: Any, trained_template: Any) -> None:
    """No traffic and no wait: the candidate cannot be judged, so it is rolled back."""
    faulty = f"v{trained_template['faulty']}"
    running = serve({"traffic": {"prod": 100}, "rollout": {"min_requests": 5}})
    result = cli("rollout", "churn", "--to", faulty, "--steps", "10,50,100", "--interval", "0s",
                 "--url", running.url, "--project", running.project.path, "--json")
    assert result.exit_code == ExitCode.ROLLED_BACK == 6, result.output
    assert '"rolled_back": true' in result.output
    assert running.service.endpoints["churn"].weights == {"prod": 100.0}
    rollback = [e for e in running.project.audit() if e["action"] == "rollout-rollback"]
    assert len(rollback) == 1 and rollback[0]["to_version"] == trained_template["faulty"]
    assert "too little traffic" in rollback[0]["reason"]


def test_healthy_candidate_completes(serve: Any, records: Any) -> None:
    running = serve({"traffic": {"prod": 100}, "rollout": {"min_requests": 5, "max_p95_ratio": 1000}})
    traffic = Traffic(running, records)
    with traffic.sending():
        result = _rollout(running, traffic, "staging", [50, 100]).run()
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
    assert bad.exit_code == ExitCode.USAGE and "DEPLOYMENT=WEIGHT" in bad.output
    nothing = cli("traffic", "churn", "prod=0", "--url", running.url, "--project", running.project.path)
    assert nothing.exit_code == ExitCode.USAGE and "at least one positive weight" in nothing.output
    assert running.service.endpoints["churn"].weights == {"prod": 90.0, "staging": 10.0}
    steps = cli("rollout", "churn", "--to", "staging", "--steps", "50,10", "--url", running.url,
                "--project", running.project.path)
    assert steps.exit_code == ExitCode.USAGE and "must rise" in steps.output


def test_parsing() -> None:
    assert parse_duration("5m") == 300 and parse_duration("30s") == 30 and parse_duration("250ms") == 0.25
    assert parse_steps("10,50,100") == [10, 50, 100]
    for bad in ("50,10", "0,100", "abc", "10,150"):
        with pytest.raises(OptionError):
            parse_steps(bad)
