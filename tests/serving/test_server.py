"""`conveyor serve` as users run it: a subprocess with two uvicorn workers."""

from __future__ import annotations

import signal
import threading
from pathlib import Path
from typing import Any

import httpx
import pandas as pd

from tests.serving.conftest import Served, wait_for


def test_two_workers_follow_traffic_changes_and_stop_gracefully(make_served: Any, records: Any) -> None:
    project = make_served({"capture": {"sample": 1.0, "flush_s": 0.2}})
    served = Served(project)
    body = {"dataframe_records": records(1)}
    answered: list[dict[str, Any]] = []  # every 200 the server gave
    try:
        with httpx.Client(base_url=served.url, timeout=30) as http:
            served.wait_ready(http)

            def predict() -> str:
                response = http.post("/models/churn/invocations", json=body)
                assert response.status_code == 200, response.text
                answered.append(response.json())
                return str(response.json()["deployment"])

            assert predict() == "prod"
            token = (Path(project) / ".conveyor" / "serving" / "admin.token").read_text()
            changed = http.put("/admin/models/churn/traffic", json={"weights": {"staging": 100}},
                               headers={"Authorization": f"Bearer {token}"})
            assert changed.status_code == 200
            # the other worker picks the change up from the shared traffic state
            wait_for(lambda: {predict() for _ in range(20)} == {"staging"})
            metrics = http.get("/metrics").text
            total = sum(float(line.rsplit(" ", 1)[1]) for line in metrics.splitlines()
                        if line.startswith("conveyor_requests_total{") and 'code="200"' in line)
            assert total == len(answered)  # counted across both workers
        code = served.stop()
    finally:
        served.kill()
    assert code == 0, served.output[-2000:]
    files = list((Path(project) / ".conveyor" / "artifacts" / "captures" / "churn").glob("date=*/*.parquet"))
    captured = pd.concat([pd.read_parquet(f) for f in files])
    # the queue was flushed on shutdown: every answered request was captured
    assert sorted(captured["request_id"]) == sorted(a["request_id"] for a in answered)
    assert '"level": "info"' in served.output or '"level":"info"' in served.output  # JSON logs


def test_sigterm_lets_in_flight_requests_finish(make_served: Any, gate: Any, trained_template: Any, records: Any) -> None:
    gated = f"v{trained_template['gated']}"
    project = make_served({"traffic": {"prod": 100, gated: 0}})
    served = Served(project)  # its workers reach the gate through the environment
    outcome: dict[str, Any] = {}

    def call() -> None:
        with httpx.Client(base_url=served.url, timeout=60) as http:
            outcome["response"] = http.post("/models/churn/invocations", json={"dataframe_records": records(2)},
                                            headers={"X-Conveyor-Deployment": gated})

    try:
        with httpx.Client(base_url=served.url, timeout=30) as http:
            served.wait_ready(http, times=10)
        gate.hold()
        client = threading.Thread(target=call)
        client.start()
        in_model = gate.entered()
        assert in_model.rows == 2  # the request is in the model
        served.process.send_signal(signal.SIGTERM)  # to the main process only, as an orchestrator does
        served.wait_logged("Waiting for connections to close")  # its worker drains, the model still holds it
        assert "response" not in outcome
        in_model.release()
        client.join(timeout=60)
        code = served.process.wait(timeout=60)
    finally:
        served.kill()
    response = outcome["response"]
    assert response.status_code == 200, (response.text, served.output[-3000:])
    assert response.headers["x-conveyor-deployment"] == gated and response.json()["predictions"] == [1, 1]
    assert code == 0, served.output[-3000:]


def test_two_workers_swap_a_promoted_version_under_load_with_no_failed_request(
    make_served: Any, trained_template: Any, records: Any
) -> None:
    """The follower loads the promoted version and publishes it; each worker swaps it in
    while requests keep coming: every answer is a 200 from one whole version."""
    from conveyor.app import Project

    project = make_served()
    served = Served(project)
    body = {"dataframe_records": records(2)}
    copy = trained_template["copy"]
    failures: list[str] = []
    versions: list[str] = []
    stop = threading.Event()

    def hammer() -> None:
        with httpx.Client(base_url=served.url, timeout=30) as http:
            while not stop.is_set():
                response = http.post("/models/churn/invocations", json=body)
                if response.status_code != 200:
                    failures.append(f"{response.status_code} {response.text[:200]}")
                else:
                    versions.append(response.json()["version"])

    threads = [threading.Thread(target=hammer) for _ in range(4)]
    try:
        with httpx.Client(base_url=served.url, timeout=30) as http:
            served.wait_ready(http)
        for thread in threads:
            thread.start()
        wait_for(lambda: versions.count("1") > 20)
        Project.load(project).promote("prod", copy, force=True, reason="swap under load")
        # both workers swapped (the bound only ends a failing test: a follower may have to start first)
        wait_for(lambda: versions[-40:].count(copy) == 40 and len(versions) > 40, timeout=240)
    finally:
        stop.set()
        for thread in threads:
            thread.join()
        served.kill()
    assert failures == []
    assert set(versions) == {"1", copy}
