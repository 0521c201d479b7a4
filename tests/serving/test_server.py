"""`conveyor serve` as users run it: a subprocess with two uvicorn workers."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from tests.serving.conftest import free_port


def test_two_workers_follow_traffic_changes_and_stop_gracefully(make_served: Any, records: Any) -> None:
    project = make_served({"capture": {"sample": 1.0, "flush_s": 0.2}})
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("MLFLOW_TRACKING_URI", "CONVEYOR_ENV")}
    process = subprocess.Popen(
        [sys.executable, "-m", "conveyor", "serve", "--project", str(project), "--port", str(port),
         "--workers", "2", "--poll", "0.3"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    body = {"dataframe_records": records(1)}
    try:
        with httpx.Client(base_url=url, timeout=30) as http:
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                try:
                    if http.get("/readyz").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert process.poll() is None, process.stdout.read().decode()[-2000:]  # type: ignore[union-attr]
                time.sleep(0.3)
            assert http.post("/models/churn/invocations", json=body).status_code == 200
            token = (Path(project) / ".conveyor" / "serving" / "admin.token").read_text()
            changed = http.put("/admin/models/churn/traffic", json={"weights": {"staging": 100}},
                               headers={"Authorization": f"Bearer {token}"})
            assert changed.status_code == 200
            # the other worker picks the change up from the shared traffic state
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                seen = {http.post("/models/churn/invocations", json=body).json()["deployment"] for _ in range(20)}
                if seen == {"staging"}:
                    break
                time.sleep(0.3)
            assert seen == {"staging"}
            metrics = http.get("/metrics").text
            total = sum(float(line.rsplit(" ", 1)[1]) for line in metrics.splitlines()
                        if line.startswith("conveyor_requests_total{") and 'code="200"' in line)
            assert total >= 21  # counted across both workers
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        output = process.communicate(timeout=60)[0].decode()
    assert process.returncode == 0, output[-2000:]
    captured = list((Path(project) / ".conveyor" / "artifacts" / "captures" / "churn").glob("date=*/*.parquet"))
    assert captured  # the queue was flushed on shutdown
    assert '"level": "info"' in output or '"level":"info"' in output  # JSON logs
