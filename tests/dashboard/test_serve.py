"""`conveyor serve` as a process with two workers: each worker has the dashboard at /ui, and
the endpoint panel adds up every worker's metrics."""

from __future__ import annotations

import httpx

from tests.serving.conftest import RECORD, Served


def test_every_serve_worker_has_the_dashboard_and_the_panel_counts_all_workers(project_copy):
    served = Served(project_copy(), workers=2)
    try:
        with httpx.Client(base_url=served.url, timeout=60) as http:
            served.wait_ready(http)
            for _ in range(6):  # new connections: both workers answer some
                page = http.get("/ui/models/churn", headers={"Connection": "close"})
                assert page.status_code == 200 and "Alias history" in page.text
            for _ in range(10):
                answer = http.post("/models/churn/invocations", json={"dataframe_records": [RECORD]},
                                   headers={"Connection": "close"})
                assert answer.status_code == 200
            endpoint = http.get("/ui/api/models/churn/endpoint").json()
            assert sum(d["requests"] for d in endpoint["deployments"]) == 10
            refused = http.put("/ui/api/models/churn/traffic", json={"weights": {"prod": 1}})
            assert refused.status_code == 401  # tokens are configured: the local admin one is not made
    finally:
        served.stop()
