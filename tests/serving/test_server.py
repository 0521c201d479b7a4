"""`conveyor serve` as users run it: a subprocess with two uvicorn workers."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx

from tests.serving.conftest import SLOW_S, free_port


def _serve(project: Path, workers: int = 2) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("MLFLOW_TRACKING_URI", "CONVEYOR_ENV")}
    process = subprocess.Popen(
        [sys.executable, "-m", "conveyor", "serve", "--project", str(project), "--port", str(port),
         "--workers", str(workers), "--poll", "0.3"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, start_new_session=True,
    )
    return process, f"http://127.0.0.1:{port}"


def _wait_ready(http: httpx.Client, process: subprocess.Popen[bytes], times: int = 1) -> None:
    """`times` answers in a row: with several workers, each answer may come from another one."""
    deadline = time.monotonic() + 120
    streak = 0
    while time.monotonic() < deadline and streak < times:
        try:
            ready = http.get("/readyz", headers={"Connection": "close"}).status_code == 200
        except httpx.TransportError:
            ready = False
        streak = streak + 1 if ready else 0
        assert process.poll() is None, process.stdout.read().decode()[-2000:]  # type: ignore[union-attr]
        if not ready:
            time.sleep(0.3)
    assert streak >= times, "the server did not become ready"


def test_two_workers_follow_traffic_changes_and_stop_gracefully(make_served: Any, records: Any) -> None:
    project = make_served({"capture": {"sample": 1.0, "flush_s": 0.2}})
    process, url = _serve(project)
    body = {"dataframe_records": records(1)}
    try:
        with httpx.Client(base_url=url, timeout=30) as http:
            _wait_ready(http, process)
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


def test_sigterm_lets_in_flight_requests_finish(make_served: Any, trained_template: Any, records: Any) -> None:
    slow = f"v{trained_template['slow']}"
    project = make_served({"traffic": {"prod": 100, slow: 0}})
    process, url = _serve(project)
    outcome: dict[str, Any] = {}
    sent = threading.Event()

    def call() -> None:
        with httpx.Client(base_url=url, timeout=60) as http:
            while True:  # a worker that is still loading answers 503 at once: ask again
                sent.set()
                started = time.monotonic()
                response = http.post("/models/churn/invocations", json={"dataframe_records": records(2)},
                                     headers={"X-Conveyor-Deployment": slow})
                if response.status_code != 503 or "terminated" in outcome:
                    break
            outcome.update(response=response, started=started, ended=time.monotonic())

    try:
        with httpx.Client(base_url=url, timeout=30) as http:
            _wait_ready(http, process, times=10)
        client = threading.Thread(target=call)
        client.start()
        assert sent.wait(10)
        time.sleep(SLOW_S / 3)  # the request is in the model now
        process.send_signal(signal.SIGTERM)  # to the main process only, as an orchestrator does
        outcome["terminated"] = time.monotonic()
        client.join(timeout=60)
        output = process.communicate(timeout=60)[0].decode()
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    response = outcome["response"]
    assert response.status_code == 200, (response.text, output[-3000:])
    assert response.headers["x-conveyor-deployment"] == slow and response.json()["predictions"] == [1, 1]
    assert outcome["started"] < outcome["terminated"] < outcome["ended"]  # in flight at SIGTERM
    assert outcome["ended"] - outcome["started"] >= SLOW_S * 0.9
    assert process.returncode == 0, output[-3000:]
