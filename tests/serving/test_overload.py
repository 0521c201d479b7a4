"""A spike past the bounded queue gets 429 + Retry-After; the server recovers by itself."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any


def test_spike_gets_429_then_recovers(serve: Any, gate: Any, records: Any, trained_template: Any) -> None:
    """The gated deployment (predicted off the event loop) holds one request in the model and
    one in its queue of 1; every other request of the spike is turned away at once."""
    gated = f"v{trained_template['gated']}"
    running = serve({"traffic": {"prod": 100, gated: 0}, "limits": {"queue": 1}, "batching": {"max_batch": 1}})
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
