"""`conveyor ui`: the dashboard alone, as a process; a port in use is refused up front."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import httpx

from conveyor.core.errors import ExitCode


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k not in ("MLFLOW_TRACKING_URI", "CONVEYOR_ENV")}


def test_conveyor_ui_serves_the_pages_and_healthz_until_stopped(project_dir: Path) -> None:
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "conveyor", "ui", "--port", str(port), "--project", str(project_dir)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=_env(),
    )
    try:
        assert process.stdout is not None
        for line in process.stdout:  # the server says when it listens
            if "Application startup complete" in line:
                break
        else:
            raise AssertionError(f"conveyor ui ended with {process.wait()}")
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as http:
            assert http.get("/healthz").json() == {"status": "ok"}
            page = http.get("/ui/models/churn")
            assert page.status_code == 200 and "Versions" in page.text
            assert "script-src 'self'" in page.headers["content-security-policy"]
            assert http.get("/ui/static/chart.js").status_code == 200
            nothing = http.get("/ui/api/models/churn/versions")  # no version trained yet
            assert nothing.status_code == 404 and "churn" in nothing.json()["message"]
            assert http.get("/ui/api/models/churn/endpoint").status_code == 502  # no server
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_conveyor_ui_on_a_port_in_use_says_so_and_exits_unavailable(project_dir: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run(
            [sys.executable, "-m", "conveyor", "ui", "--port", str(port), "--project", str(project_dir)],
            check=False, capture_output=True, text=True, env=_env(), timeout=120,
        )
    assert done.returncode == ExitCode.UNAVAILABLE.value, done.stderr
    assert f"cannot serve on 127.0.0.1:{port}" in done.stderr
