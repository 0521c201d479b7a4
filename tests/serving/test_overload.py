"""A spike past the bounded queue gets 429 + Retry-After; the server recovers by itself."""

from __future__ import annotations

from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any


def test_spike_gets_429_then_recovers(serve: Any, records: Any, trained_template: Any) -> None:
    """The slow deployment (SLOW_S per call, predicted off the event loop) holds one batch in
    the model and one request in its queue of 1; the rest of the spike is turned away at once."""
    slow = f"v{trained_template['slow']}"
    running = serve({"traffic": {"prod": 100, slow: 0}, "limits": {"queue": 1}, "batching": {"max_batch": 1}})
    body = {"dataframe_records": records(5)}

    def call(_: int) -> tuple[int, str | None]:
        with running.client() as http:
            response = http.post("/models/churn/invocations", json=body, headers={"X-Conveyor-Deployment": slow})
            return response.status_code, response.headers.get("retry-after")

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(call, range(8)))
    codes = Counter(code for code, _ in results)
    assert codes[429] >= 5 and codes[200] >= 1 and set(codes) <= {200, 429}
    assert all(retry == "1" for code, retry in results if code == 429)
    with running.client() as http:  # the spike is over: every deployment answers again
        for _ in range(5):
            assert http.post("/models/churn/invocations", json=body).status_code == 200
        assert http.get("/readyz").status_code == 200
        assert http.post("/models/churn/invocations", json=body,
                         headers={"X-Conveyor-Deployment": slow}).status_code == 200
