"""A spike past the bounded queue gets 429 + Retry-After; the server recovers by itself."""

from __future__ import annotations

from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any


def test_spike_gets_429_then_recovers(serve: Any, records: Any) -> None:
    running = serve({"limits": {"queue": 1}, "batching": {"max_batch": 1}})
    body = {"dataframe_records": records(50)}

    def call(_: int) -> tuple[int, str | None]:
        with running.client() as http:
            response = http.post("/models/churn/invocations", json=body)
            return response.status_code, response.headers.get("retry-after")

    with ThreadPoolExecutor(32) as pool:
        results = list(pool.map(call, range(200)))
    codes = Counter(code for code, _ in results)
    assert codes[429] > 0 and set(codes) <= {200, 429}
    assert all(retry == "1" for code, retry in results if code == 429)
    with running.client() as http:
        for _ in range(5):
            assert http.post("/models/churn/invocations", json=body).status_code == 200
        assert http.get("/readyz").status_code == 200
