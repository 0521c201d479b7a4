"""Liveness, readiness and metrics on a running server."""

from __future__ import annotations

from typing import Any


def test_operations_endpoints(serve: Any, records: Any) -> None:
    running = serve()
    with running.client() as http:
        assert http.get("/healthz").json() == {"status": "ok"}
        ready = http.get("/readyz")
        assert ready.status_code == 200 and ready.json()["ready"] is True
        assert http.get("/ping").status_code == 200 and http.get("/v2/health/ready").json() == {"ready": True}
        http.post("/models/churn/invocations", json={"dataframe_records": records(2)})
        http.post("/models/churn/invocations", content=b"{bad")
        text = http.get("/metrics").text
        assert 'conveyor_requests_total{code="200",deployment="prod",model="churn"} 1.0' in text
        assert 'conveyor_requests_total{code="400",deployment="prod",model="churn"} 1.0' in text
        assert "conveyor_request_latency_seconds_bucket" in text and "conveyor_batch_rows_bucket" in text
