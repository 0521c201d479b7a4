"""Live traffic weights: every change is audited; a (re)starting replica keeps the live
weights unless the config's weights changed."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
import yaml

from conveyor.serving.traffic import TrafficState, TrafficStore


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


def test_refused_traffic_change_is_not_audited(serve: Any, records: Any) -> None:
    running = serve()
    with running.admin() as http:
        assert http.put("/admin/models/churn/traffic", json={"weights": {"nope": 1}}).status_code == 422
        huge = http.put("/admin/models/churn/traffic", json={"weights": {"prod": 1e308, "staging": 1e308}})
        assert huge.status_code == 422 and "too large" in huge.json()["message"]
        assert http.post("/models/churn/invocations", json={"dataframe_records": records(1)}).status_code == 200
    with running.client() as http:
        assert http.put("/admin/models/churn/traffic", json={"weights": {"prod": 1}}).status_code == 401
    assert [e for e in running.project.audit() if e["action"] == "traffic"] == []


def test_seed_writes_the_config_weights_only_when_they_changed(tmp_path: Any) -> None:
    store = TrafficStore(str(tmp_path), "churn")
    assert store.seed({"prod": 100.0}).weights == {"prod": 100.0}  # no file yet
    store.write(TrafficState({"prod": 90.0, "staging": 10.0}, by="token:ops", config={"prod": 100.0}))
    kept = store.seed({"prod": 100.0})  # a restart or a second replica, same config
    assert kept.weights == {"prod": 90.0, "staging": 10.0} and kept.by == "token:ops"
    assert store.read() == kept
    changed = store.seed({"prod": 50.0, "staging": 50.0})  # the config changed: it wins
    assert changed.weights == changed.config == {"prod": 50.0, "staging": 50.0} and changed.by == "config"
    assert store.read() == changed


def test_a_file_without_a_config_fingerprint_gets_the_config_weights(tmp_path: Any) -> None:
    store = TrafficStore(str(tmp_path), "churn")
    path = tmp_path / "serving" / "churn" / "traffic.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"weights": {"staging": 100}, "updated": 1.0, "by": "config"}))
    assert store.seed({"prod": 100.0}).weights == {"prod": 100.0}


def test_a_second_replica_keeps_live_weights_unless_the_config_changed(
    serve: Any, caplog: pytest.LogCaptureFixture
) -> None:
    from conveyor.app import Project
    from conveyor.serving import build_service
    from tests.serving.conftest import serving_context

    running = serve({"traffic": {"prod": 100}})
    with running.admin() as http:
        assert http.put("/admin/models/churn/traffic", json={"weights": {"prod": 80, "staging": 20}}).status_code == 200
    store = running.service.traffic["churn"]
    log = logging.getLogger("conveyor.serving")
    log.addHandler(caplog.handler)
    try:
        with caplog.at_level(logging.INFO, logger="conveyor.serving"):
            build_service(serving_context(Project.load(running.project.path)))  # another replica, same config
            assert store.read().weights == {"prod": 80.0, "staging": 20.0}
            assert "keeping the live traffic prod=80 staging=20" in caplog.text
            config = running.project.path / "conveyor.yaml"
            raw = yaml.safe_load(config.read_text())
            raw["serve"]["traffic"] = {"prod": 50, "staging": 50}
            config.write_text(yaml.safe_dump(raw, sort_keys=False))
            build_service(serving_context(Project.load(running.project.path)))  # a replica with a new config
    finally:
        log.removeHandler(caplog.handler)
    assert store.read().weights == {"prod": 50.0, "staging": 50.0}
    assert "the config's traffic weights changed (prod=100 → prod=50 staging=50)" in caplog.text
    assert "replace the live traffic prod=80 staging=20 (set by token:local-admin)" in caplog.text
    running.wait(lambda: running.service.endpoints["churn"].weights == {"prod": 50.0, "staging": 50.0})


def test_parse_weights_refuses_what_the_router_cannot_draw_from() -> None:
    from conveyor.serving.errors import InvalidInput
    from conveyor.serving.traffic import parse_weights

    assert parse_weights(["prod=90", "staging=10"]) == {"prod": 90.0, "staging": 10.0}
    for bad in (["prod=inf"], ["prod=nan"], ["prod=-1"], ["prod"]):
        with pytest.raises(InvalidInput):
            parse_weights(bad)


def test_concurrent_traffic_changes_take_turns_and_chain_in_the_audit_log(tmp_path: Any) -> None:
    """Eight changers at once (each its own store object, as separate workers or replicas
    would be), under the SQLite move lock: each event's weights_before is the previous
    event's weights_after, and the last one is the live weights."""
    import threading

    from conveyor.lifecycle.audit import AuditLog
    from conveyor.stack.artifacts import ArtifactStore
    from conveyor.stack.locks import SqliteMoveLock

    audit = AuditLog(ArtifactStore(str(tmp_path)))
    TrafficStore(str(tmp_path), "churn").seed({"prod": 100.0})
    start = threading.Barrier(8)

    def change(number: int) -> None:
        store = TrafficStore(str(tmp_path), "churn", SqliteMoveLock(tmp_path / "mlflow.db.moves"))
        start.wait()
        for step in range(3):
            store.change({"prod": float(100 - number), f"v{number}": float(step + 1)}, f"token:{number}", audit)

    threads = [threading.Thread(target=change, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    events = audit.events("churn")
    assert len(events) == 24
    before: dict[str, float] = {"prod": 100.0}
    for event in events:
        assert event["weights_before"] == before
        before = event["weights_after"]
    live = TrafficStore(str(tmp_path), "churn").read()
    assert live is not None and live.weights == before and live.config == {"prod": 100.0}


def test_weights_not_summing_to_100_are_rescaled_with_a_notice(serve: Any, cli: Any) -> None:
    running = serve()
    with running.admin() as http:
        exact = http.put("/admin/models/churn/traffic", json={"weights": {"prod": 90, "staging": 10}})
        assert exact.status_code == 200 and "notice" not in exact.json()
        relative = http.put("/admin/models/churn/traffic", json={"weights": {"prod": 3, "staging": 1}})
    assert relative.status_code == 200
    assert relative.json()["notice"] == "traffic weights sum to 4, not 100: rescaled to prod 75%, staging 25%"
    result = cli("traffic", "churn", "prod=9", "staging=1", "--url", running.url, "--project", running.project.path)
    assert result.exit_code == 0, result.output
    assert "note: traffic weights sum to 10, not 100: rescaled to prod 90%, staging 10%" in result.output


def test_config_weights_not_summing_to_100_are_a_load_notice(make_served: Any) -> None:
    from conveyor.app import Project

    notices: list[str] = []
    Project.load(make_served({"traffic": {"prod": 1, "staging": 1}}), notify=notices.append)
    assert len(notices) == 1
    assert notices[0].startswith("conveyor.yaml:") and notices[0].endswith(
        "serve.traffic weights sum to 2, not 100: rescaled to prod 50%, staging 50%")
    quiet: list[str] = []
    Project.load(make_served({"traffic": {"prod": 90, "staging": 10}}), notify=quiet.append)
    assert quiet == []
