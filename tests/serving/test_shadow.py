"""A shadow gets mirrored requests; its answers and failures never reach the client."""

from __future__ import annotations

from typing import Any

import pandas as pd


def test_failing_shadow_never_affects_the_client(serve: Any, trained_template: Any, records: Any) -> None:
    faulty = f"v{trained_template['faulty']}"
    running = serve({"traffic": {"prod": 100}, "shadow": {"deployment": faulty, "share": 1.0},
                     "capture": {"sample": 1.0, "flush_s": 0.2}})
    running.wait(lambda: running.version_of(faulty) is not None)
    with running.client() as http:
        for _ in range(20):
            response = http.post("/models/churn/invocations", json={"dataframe_records": records(2)})
            assert response.status_code == 200 and response.json()["deployment"] == "prod"
        running.wait(lambda: 'outcome="error"' in http.get("/metrics").text)


def test_shadow_outputs_are_captured_next_to_the_served_ones(serve: Any, records: Any) -> None:
    running = serve({"traffic": {"prod": 100}, "shadow": {"deployment": "staging", "share": 1.0},
                     "capture": {"sample": 0.0001, "flush_s": 0.2}})
    with running.client() as http:
        ids = [http.post("/models/churn/invocations", json={"dataframe_records": records(1)}).json()["request_id"]
               for _ in range(10)]
    root = running.service.captures["churn"].root

    def both() -> bool:
        try:
            served = _read(root)
            shadow = _read(f"{root}/shadow")
        except FileNotFoundError:
            return False
        return set(ids) <= set(served["request_id"]) and set(ids) <= set(shadow["request_id"])

    running.wait(both)
    shadow = _read(f"{root}/shadow")
    assert set(shadow["deployment"]) == {"staging"}


def _read(folder: str) -> pd.DataFrame:
    from pathlib import Path

    files = [p for p in Path(folder).glob("date=*/*.parquet")]
    if not files:
        raise FileNotFoundError(folder)
    return pd.concat([pd.read_parquet(p) for p in files], ignore_index=True)
