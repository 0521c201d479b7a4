"""Serving fixtures: the example trained once per session, then copied per test; a real
uvicorn server in a thread, started on a free port with the serve config a test wants."""

from __future__ import annotations

import os
import queue
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from conveyor.scaffold import init_project

RECORD = {
    "tenure_months": 8.0, "monthly_charges": 68.07, "total_charges": 566.28, "support_calls": 1.0,
    "plan": "standard", "region": "south", "payment_method": "card",
}


GATE_ENV = "CONVEYOR_TEST_GATE"  # host:port of the test's Gate; unset, the gated model never waits


def _faulty_version(project: Any) -> str:
    from mlflow.pyfunc import PythonModel

    class Broken(PythonModel):
        def predict(self, context, model_input, params=None):
            raise RuntimeError("injected failure")

    return _pyfunc_version(project, Broken())


def _gated_version(project: Any) -> str:
    from mlflow.pyfunc import PythonModel

    class Gated(PythonModel):
        """Each call (its warm-up at load too) enters the test's Gate and waits there until
        the test lets it through, when the environment names a gate."""

        def predict(self, context, model_input, params=None):
            import os
            import socket

            address = os.environ.get("CONVEYOR_TEST_GATE")
            if address:
                host, port = address.rsplit(":", 1)
                with socket.create_connection((host, int(port))) as conn:
                    conn.sendall(f"{len(model_input)}\n".encode())
                    conn.recv(1)  # returns when the test releases the call
            return [1] * len(model_input)

    return _pyfunc_version(project, Gated())


def _pyfunc_version(project: Any, model: Any) -> str:
    import pandas as pd
    from mlflow.models import infer_signature

    from conveyor.stack.tracking import ensure_experiment, fluent_run

    client = project.client
    example = pd.DataFrame([RECORD])
    experiment = ensure_experiment(client, "serving-tests", project.stack.mlflow_artifact_root)
    run_id = client.create_run(experiment).info.run_id
    with fluent_run(client, run_id) as mlflow:
        info = mlflow.pyfunc.log_model(
            name="model", python_model=model,
            signature=infer_signature(example, pd.Series([1])), pip_requirements=["mlflow"],
        )
    client.set_terminated(run_id)
    source = client.get_logged_model(info.model_id).artifact_location  # not the global store
    mv = client.create_model_version(project.name, source, run_id=run_id, model_id=info.model_id)
    return str(mv.version)


@pytest.fixture(scope="session")
def trained_template(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """v1 trained and promoted to dev, staging and prod; v2 = a copy of v1 (for swaps);
    v3 = a model that always raises; v4 = a model whose calls wait at the test's `gate`."""
    from conveyor.app import Project

    folder = init_project(tmp_path_factory.mktemp("serving") / "churn")
    project = Project.load(folder)
    project.train()
    project.promote("staging")
    project.promote("prod")
    client = project.client
    v1 = client.get_model_version(project.name, "1")
    v2 = client.create_model_version(project.name, v1.source, run_id=v1.run_id)
    faulty = _faulty_version(project)
    gated = _gated_version(project)
    return {"path": folder, "good": "1", "copy": str(v2.version), "faulty": faulty, "gated": gated}


@pytest.fixture
def make_served(tmp_path: Path, trained_template: dict[str, Any]) -> Callable[..., Path]:
    """A copy of the trained project with a `serve:` section."""

    def make(serve: dict[str, Any] | None = None) -> Path:
        folder = tmp_path / f"churn-{time.monotonic_ns()}"
        shutil.copytree(trained_template["path"], folder, ignore=shutil.ignore_patterns("captures", "serving"))
        config = folder / "conveyor.yaml"
        raw = yaml.safe_load(config.read_text())
        raw.pop("environments", None)
        if serve:
            raw["serve"] = serve
        config.write_text(yaml.safe_dump(raw, sort_keys=False))
        return folder

    return make


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def serving_context(project: Any) -> Any:
    """What serving gets from a loaded project (the composition root builds it)."""
    return project.serving


def wait_for(predicate: Callable[[], bool], timeout: float = 60.0) -> None:
    """Until `predicate()` holds (the timeout only bounds a failing test)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


@dataclass
class Running:
    url: str
    service: Any
    project: Any
    token: str
    server: Any  # the uvicorn.Server

    def client(self, **kwargs: Any) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=30, **kwargs)

    def admin(self) -> httpx.Client:
        return self.client(headers={"Authorization": f"Bearer {self.token}"})

    def wait(self, predicate: Callable[[], bool], timeout: float = 60.0) -> None:
        wait_for(predicate, timeout)

    def version_of(self, deployment: str) -> str | None:
        endpoint = next(iter(self.service.endpoints.values()))
        dep = endpoint.deployments.get(deployment)
        return dep.model.version if dep is not None and dep.model is not None else None


@pytest.fixture
def serve(make_served: Callable[..., Path]) -> Iterator[Callable[..., Running]]:
    """Start a real uvicorn server in a thread: `serve({"traffic": {...}})`.

    `wait_started=False`: return at once, while the worker may still load its models;
    `ready=False`: do not wait for /readyz."""
    import uvicorn

    from conveyor.app import Project
    from conveyor.serving import build_service, create_app
    from conveyor.serving.auth import local_admin_token

    started: list[tuple[uvicorn.Server, threading.Thread]] = []

    def start(
        serve_config: dict[str, Any] | None = None, *, seed: int | None = 7, ready: bool = True, wait_started: bool = True,
    ) -> Running:
        config = {"poll_s": 0.3, **(serve_config or {})}
        project = Project.load(make_served(config))
        context = serving_context(project)
        token, credential = local_admin_token(context.state_dir)
        service = build_service(context, seed=seed, extra_credentials=[credential])
        app = create_app(service)
        port = free_port()
        server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                               lifespan="on", timeout_graceful_shutdown=10))
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        started.append((server, thread))
        running = Running(f"http://127.0.0.1:{port}", service, project, token, server)
        if not wait_started:
            return running
        running.wait(lambda: server.started)
        if ready:
            with running.client() as http:
                running.wait(lambda: http.get("/readyz").status_code == 200)
        return running

    yield start
    for server, thread in started:
        server.should_exit = True
        thread.join(timeout=30)


class Gate:
    """Where the gated model's calls wait (see `_gated_version`): a local TCP listener.

    Open, calls pass at once; after `hold()`, each call waits until the test releases it, and
    `entered()` hands the test the next held call (with its row count): the test knows that a
    request is inside the model, and decides when it leaves, without guessing a duration."""

    def __init__(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.address = f"127.0.0.1:{self._listener.getsockname()[1]}"
        self._held: queue.Queue[HeldCall] = queue.Queue()
        self._holding = False
        self._lock = threading.Lock()
        self._calls: list[HeldCall] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def hold(self) -> None:
        with self._lock:
            self._holding = True

    def open(self) -> None:
        """Release every held call and let the next ones pass."""
        with self._lock:
            self._holding = False
            calls, self._calls = self._calls, []
        for call in calls:
            call.release()

    def entered(self, timeout: float = 60.0) -> HeldCall:
        return self._held.get(timeout=timeout)

    def close(self) -> None:
        self.open()
        self._listener.close()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self._listener.accept()
            except OSError:  # closed
                return
            rows = int(conn.makefile("r").readline())
            call = HeldCall(conn, rows)
            with self._lock:
                if self._holding:
                    self._calls.append(call)
                    self._held.put(call)
                    continue
            call.release()


@dataclass
class HeldCall:
    conn: socket.socket
    rows: int
    released: bool = False

    def release(self) -> None:
        if self.released:
            return
        self.released = True
        try:
            self.conn.sendall(b"x")
        except OSError:  # the model's process is gone
            pass
        finally:
            self.conn.close()


@pytest.fixture
def gate(serve: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Gate]:
    """A gate for the gated model in this process and in `conveyor serve` subprocesses.
    (It depends on `serve` so that it is closed, and every held call released, first.)"""
    opened = Gate()
    monkeypatch.setenv(GATE_ENV, opened.address)
    yield opened
    opened.close()


STARTED = "Application startup complete."  # uvicorn logs it once per worker


class Served:
    """A `conveyor serve` subprocess and its output, read line by line as it comes."""

    def __init__(self, project: Path, workers: int = 2) -> None:
        port = free_port()
        env = {k: v for k, v in os.environ.items() if k not in ("MLFLOW_TRACKING_URI", "CONVEYOR_ENV")}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "conveyor", "serve", "--project", str(project), "--port", str(port),
             "--workers", str(workers), "--poll", "0.3"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, start_new_session=True,
        )
        self.url = f"http://127.0.0.1:{port}"
        self.workers = workers
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in iter(self.process.stdout.readline, b""):
            self.lines.append(line.decode(errors="replace"))

    @property
    def output(self) -> str:
        return "".join(self.lines)

    def wait_logged(self, text: str, count: int = 1) -> None:
        wait_for(lambda: self.output.count(text) >= count or self.process.poll() is not None, timeout=120)
        assert self.output.count(text) >= count, self.output[-3000:]

    def wait_ready(self, http: httpx.Client, times: int = 1) -> None:
        """Every worker has finished its start-up (each logs it once: a worker still loading
        takes no connection, so answers alone may all come from the first one), then `times`
        ready answers in a row."""
        self.wait_logged(STARTED, count=self.workers)
        streak = 0

        def ready() -> bool:
            nonlocal streak
            assert self.process.poll() is None, self.output[-2000:]
            try:
                ok = http.get("/readyz", headers={"Connection": "close"}).status_code == 200
            except httpx.TransportError:
                ok = False
            streak = streak + 1 if ok else 0
            return streak >= times

        wait_for(ready, timeout=120)

    def stop(self, sig: int = signal.SIGTERM) -> int:
        """Signal the main process (as an orchestrator does) and wait for the exit code."""
        self.process.send_signal(sig)
        code = self.process.wait(timeout=60)
        self._reader.join(timeout=30)
        return code

    def kill(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()


@pytest.fixture
def records() -> Callable[[int], list[dict[str, Any]]]:
    def make(n: int = 1) -> list[dict[str, Any]]:
        return [dict(RECORD, tenure_months=float(i % 60), support_calls=float(i % 5)) for i in range(n)]

    return make
