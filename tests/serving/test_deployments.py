"""Traffic split, stickiness, override, live swaps and registry outages on a running server."""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any

import pytest


def _deployments(http: Any, body: dict[str, Any], n: int, headers: Any = None) -> Counter[str]:
    seen: Counter[str] = Counter()
    for i in range(n):
        h = headers(i) if callable(headers) else headers
        response = http.post("/models/churn/invocations", json=body, headers=h)
        assert response.status_code == 200, response.text
        seen[response.json()["deployment"]] += 1
    return seen


def test_weights_sticky_keys_and_override(serve: Any, records: Any) -> None:
    running = serve({"traffic": {"prod": 70, "staging": 30}})
    body = {"dataframe_records": records(1)}
    with running.client() as http:
        split = _deployments(http, body, 300)
        assert 0.2 < split["staging"] / 300 < 0.4  # seeded; binomial sd ~ 0.026
        sticky = [http.post("/models/churn/invocations", json=body, headers={"X-Conveyor-Key": f"user-{i}"})
                  .json()["deployment"] for i in range(40)]
        again = [http.post("/models/churn/invocations", json=body, headers={"X-Conveyor-Key": f"user-{i}"})
                 .json()["deployment"] for i in range(40)]
        assert sticky == again and set(sticky) == {"prod", "staging"}
        forced = _deployments(http, body, 20, {"X-Conveyor-Deployment": "dev"})
        assert forced == {"dev": 20}


def test_traffic_change_through_the_admin_endpoint(serve: Any, records: Any) -> None:
    running = serve()
    body = {"dataframe_records": records(1)}
    with running.admin() as admin, running.client() as http:
        assert admin.put("/admin/models/churn/traffic", json={"weights": {"staging": 100}}).status_code == 200
        assert _deployments(http, body, 20) == {"staging": 20}
        bad = admin.put("/admin/models/churn/traffic", json={"weights": {"nonsense": 1}})
        assert bad.status_code == 422 and "nonsense" in bad.json()["message"]
        assert admin.put("/admin/models/churn/traffic", content=b"{x").status_code == 400
        state = running.service.traffic["churn"].read()
        assert state.weights == {"staging": 100.0}  # shared with every worker


def test_promotion_swaps_live_with_no_failed_request(serve: Any, trained_template: Any, records: Any) -> None:
    running = serve()
    body = {"dataframe_records": records(2)}
    failures: list[str] = []
    versions: Counter[str] = Counter()
    stop = threading.Event()

    def hammer() -> None:
        with running.client() as http:
            while not stop.is_set():
                response = http.post("/models/churn/invocations", json=body)
                if response.status_code != 200:
                    failures.append(f"{response.status_code} {response.text[:200]}")
                else:
                    versions[response.json()["version"]] += 1

    threads = [threading.Thread(target=hammer) for _ in range(4)]
    for t in threads:
        t.start()
    try:
        running.wait(lambda: versions["1"] > 20)
        running.project.promote("prod", trained_template["copy"], force=True, reason="swap test")
        running.wait(lambda: versions[trained_template["copy"]] > 20)
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert failures == []
    assert running.version_of("prod") == trained_template["copy"]


def test_registry_outage_keeps_serving(serve: Any, records: Any, monkeypatch: Any) -> None:
    from mlflow import MlflowClient

    from conveyor.lifecycle.registry import Registry

    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "2")
    running = serve()
    poller = running.service.pollers["churn"]
    unreachable = Registry(MlflowClient(tracking_uri="http://127.0.0.1:9", registry_uri="http://127.0.0.1:9"))
    poller.aliases = unreachable.model_aliases  # the registry goes away
    before = poller.failures
    running.wait(lambda: poller.failures > before)
    with running.client() as http:
        for _ in range(10):
            assert http.post("/models/churn/invocations", json={"dataframe_records": records(1)}).status_code == 200
        assert http.get("/readyz").status_code == 200
        assert "conveyor_registry_errors_total" in http.get("/metrics").text


def test_a_deployment_added_later_loads_without_taking_the_server_out_of_rotation(
    serve: Any, gate: Any, trained_template: Any, records: Any
) -> None:
    gated = f"v{trained_template['gated']}"
    running = serve()
    gate.hold()  # the new deployment's warm-up call waits at the gate: it is loading until released
    with running.admin() as admin, running.client() as http:
        assert admin.put("/admin/models/churn/traffic", json={"weights": {"prod": 100, gated: 0}}).status_code == 200
        warm_up = gate.entered()
        states = {d["deployment"]: d["state"] for d in admin.get("/admin/models/churn").json()["deployments"]}
        assert states[gated] == "loading"
        assert http.get("/readyz").status_code == 200  # a canary that loads must not empty the load balancer
        assert http.post("/models/churn/invocations", json={"dataframe_records": records(1)}).status_code == 200
        warm_up.release()
        running.wait(lambda: running.version_of(gated) == trained_template["gated"])


def test_a_worker_accepts_connections_only_once_its_models_are_loaded(
    serve: Any, gate: Any, trained_template: Any
) -> None:
    """Startup waits for the first load (here the gated version's warm-up), so workers
    sharing one socket never hand a request to a worker with nothing loaded."""
    import httpx

    gated = f"v{trained_template['gated']}"
    gate.hold()
    running = serve({"traffic": {"prod": 100, gated: 0}}, wait_started=False)
    warm_up = gate.entered()  # the worker is starting: its gated deployment is in its warm-up
    with running.client() as http:
        with pytest.raises(httpx.ConnectError):
            http.get("/readyz")  # no connection is accepted yet
        assert not running.server.started
        warm_up.release()
        running.wait(lambda: running.server.started)
        deployments = running.service.endpoints["churn"].deployments
        assert all(dep.model is not None for dep in deployments.values())
        assert http.get("/readyz").status_code == 200
