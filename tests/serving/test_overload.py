"""Overload is shed: a spike past a deployment's bounded queue gets 429, past the in-flight
limit or the queue-time budget 503, each with Retry-After and at once (while the model still
holds earlier requests); the server recovers by itself."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any


def test_spike_gets_429_then_recovers(serve: Any, gate: Any, records: Any, trained_template: Any) -> None:
    """The gated deployment (predicted off the event loop) holds one request in the model and
    one in its queue of 1; every other request of the spike is turned away at once."""
    gated = f"v{trained_template['gated']}"
    running = serve({"traffic": {"prod": 100, gated: 0}, "limits": {"queue": 1, "timeout_s": 3600},
                     "batching": {"max_batch": 1}})
    batcher = running.service.endpoints["churn"].deployments[gated].batcher
    body = {"dataframe_records": records(5)}

    def call(_: int) -> tuple[int, str | None]:
        with running.client() as http:
            response = http.post("/models/churn/invocations", json=body, headers={"X-Conveyor-Deployment": gated})
            return response.status_code, response.headers.get("retry-after")

    gate.hold()
    with ThreadPoolExecutor(8) as pool:
        first = pool.submit(call, 0)
        assert gate.entered().rows == 5  # the first request is in the model
        second = pool.submit(call, 1)
        running.wait(lambda: batcher.depth == 1)  # the second one waits in the queue
        spike = list(pool.map(call, range(6)))  # answered while the model still holds the first
        gate.open()
        results = [first.result(), second.result()]
    assert results == [(200, None), (200, None)]
    assert spike == [(429, "1")] * 6
    with running.client() as http:  # the spike is over: every deployment answers again
        for _ in range(5):
            assert http.post("/models/churn/invocations", json=body).status_code == 200
        assert http.get("/readyz").status_code == 200
        assert http.post("/models/churn/invocations", json=body,
                         headers={"X-Conveyor-Deployment": gated}).status_code == 200


def _gated_call(running: Any, gated: str, body: dict[str, Any]) -> Any:
    with running.client() as http:
        return http.post("/models/churn/invocations", json=body, headers={"X-Conveyor-Deployment": gated})


def _shed(running: Any, reason: str) -> float:
    value = running.service.metrics.registry.get_sample_value(
        "conveyor_shed_requests_total", {"model": "churn", "reason": reason})
    return value or 0.0


def test_past_the_in_flight_limit_requests_get_503_at_once(
    serve: Any, gate: Any, records: Any, trained_template: Any
) -> None:
    """Two requests in flight (one in the model, one queued) fill `max_in_flight: 2`: every
    further request, to any deployment, is answered 503 + Retry-After while both are held."""
    gated = f"v{trained_template['gated']}"
    running = serve({"traffic": {"prod": 100, gated: 0}, "batching": {"max_batch": 1},
                     "limits": {"max_in_flight": 2, "timeout_s": 3600, "retry_after_s": 2}})
    batcher = running.service.endpoints["churn"].deployments[gated].batcher
    body = {"dataframe_records": records(1)}
    gate.hold()
    with ThreadPoolExecutor(8) as pool:
        first = pool.submit(_gated_call, running, gated, body)
        gate.entered()  # in the model
        second = pool.submit(_gated_call, running, gated, body)
        running.wait(lambda: batcher.depth == 1)  # in the queue
        assert running.service.admission.in_flight == 2
        with running.client() as http:
            shed = [http.post("/models/churn/invocations", json=body) for _ in range(3)]  # to prod, not held
            shed.append(http.post("/models/churn/invocations", json=body, headers={"X-Conveyor-Deployment": gated}))
        assert not first.done() and not second.done()  # answered while the two are still held
        gate.open()
        assert first.result().status_code == second.result().status_code == 200
    for response in shed:
        assert response.status_code == 503 and response.headers["retry-after"] == "2"
        assert response.json()["error_code"] == "OVERLOADED" and "limit 2" in response.json()["message"]
    assert _shed(running, "in_flight") == 4
    assert running.service.admission.in_flight == 0
    with running.client() as http:  # the spike is over
        assert http.post("/models/churn/invocations", json=body).status_code == 200


def test_a_request_past_its_queue_time_is_shed_while_the_model_is_busy(
    serve: Any, gate: Any, records: Any, trained_template: Any
) -> None:
    """The model holds the first request; the second waits in the queue until its budget
    (`timeout_s`) is spent and is answered 503 then: the model has not let go of the first."""
    gated = f"v{trained_template['gated']}"
    running = serve({"traffic": {"prod": 100, gated: 0}, "batching": {"max_batch": 1},
                     "limits": {"timeout_s": 0.05}})
    body = {"dataframe_records": records(1)}
    gate.hold()
    with ThreadPoolExecutor(2) as pool:
        first = pool.submit(_gated_call, running, gated, body)
        held = gate.entered()
        expired = _gated_call(running, gated, body)  # returns once its queue time is up
        assert not first.done() and not held.released
        gate.open()
        assert first.result().status_code == 200
    assert expired.status_code == 503 and expired.headers["retry-after"] == "1"
    assert expired.json()["error_code"] == "OVERLOADED" and "waited more than 0.05s" in expired.json()["message"]
    assert _shed(running, "queue_time") == 1
    assert running.service.endpoints["churn"].deployments[gated].batcher.depth == 0
