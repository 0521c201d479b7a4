"""Live traffic weights: every change is audited."""

from __future__ import annotations

import json
from typing import Any


def test_traffic_change_is_audited_with_old_and_new_weights(serve: Any, cli: Any) -> None:
    running = serve()
    result = cli("traffic", "churn", "prod=90", "staging=10", "--url", running.url, "--project", running.project.path)
    assert result.exit_code == 0, result.output
    events = [e for e in running.project.audit() if e["action"] == "traffic"]
    assert len(events) == 1
    event = events[0]
    assert event["model"] == "churn" and event["stage"] == "prod,staging"
    assert event["weights_before"] == {"prod": 100.0} and event["weights_after"] == {"prod": 90.0, "staging": 10.0}
    assert event["who"] == "token:local-admin"
    assert event["reason"] == "traffic prod=100 → prod=90 staging=10"
    assert running.token not in json.dumps(event)


def test_refused_traffic_change_is_not_audited(serve: Any) -> None:
    running = serve()
    with running.admin() as http:
        assert http.put("/admin/models/churn/traffic", json={"weights": {"nope": 1}}).status_code == 422
    with running.client() as http:
        assert http.put("/admin/models/churn/traffic", json={"weights": {"prod": 1}}).status_code == 401
    assert [e for e in running.project.audit() if e["action"] == "traffic"] == []
