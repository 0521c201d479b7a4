"""Dashboard fixtures: one project with a history worth showing, built once per session —
v1 trained and promoted to prod, drift found on a monitoring run and v2 retrained from it
and promoted to staging, a second monitoring run with no drift, a scheduler history entry,
and a few hundred more versions (registered from v1's run through MlflowClient) — then a real
uvicorn server in a thread with the dashboard mounted, as `conveyor serve` mounts it."""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.serving.conftest import free_port, wait_for

MANY = 250  # versions beyond the two trained ones: more than one page at the largest limit (200),
# so every page path runs; each costs a registry write (~30 ms), so not thousands
TOKENS = {"admin-token": ("ops", ["admin"]), "predict-token": ("app", ["predict"]),
          "deploy-token": ("release", ["deploy"])}


def _digest(token: str) -> str:
    import hashlib

    return hashlib.sha256(token.encode()).hexdigest()


@pytest.fixture(scope="session")
def history_project(tmp_path_factory: pytest.TempPathFactory, example_template: Path,
                    migrated_store: Path) -> Path:
    from conveyor.app import Project
    from conveyor.scaffold import generate_example_data
    from conveyor.scheduling.history import SUCCEEDED

    folder = tmp_path_factory.mktemp("dashboard") / "churn"
    shutil.copytree(example_template, folder)
    (folder / ".conveyor").mkdir(exist_ok=True)
    shutil.copy(migrated_store, folder / ".conveyor" / "mlflow.db")
    config = folder / "conveyor.yaml"
    raw = yaml.safe_load(config.read_text())
    raw.pop("environments", None)
    raw["monitor"] = {"retrain": {"data": "both"}}
    raw["serve"] = {"poll_s": 0.3, "traffic": {"prod": 90, "staging": 10},
                    "auth": {"tokens": [{"name": name, "sha256": _digest(token), "roles": roles}
                                        for token, (name, roles) in TOKENS.items()]}}
    config.write_text(yaml.safe_dump(raw, sort_keys=False))

    project = Project.load(folder)
    project.train()
    project.promote("staging")
    project.promote("prod")
    drifted = generate_example_data(folder, rows=1500, seed=8, drift=1.0, out=Path("data/drifted.parquet"))
    fresh = generate_example_data(folder, rows=1500, seed=9, drift=0.0, out=Path("data/fresh.parquet"))
    project.monitor(data=fresh)
    result = project.monitor(data=drifted, on_drift=["retrain"])
    retrained = next(t for t in result.triggers if t.action == "retrain")
    assert retrained.ok and retrained.version == "2", retrained.detail
    project.promote("staging", reason="retrained on drift")

    history = project.history()
    now = datetime.now(UTC)
    run_id = history.start("train", "schedule", now, now)
    history.finish(run_id, SUCCEEDED, now, detail="v1 trained", log="train: ok\n")

    client = project.client
    v1 = client.get_model_version(project.name, "1")
    for _ in range(MANY):
        client.create_model_version(project.name, v1.source, run_id=v1.run_id)
    return folder


@pytest.fixture
def project_copy(tmp_path: Path, history_project: Path) -> Callable[[], Path]:
    """A copy of the history project of the test's own (for tests that move aliases)."""

    def make() -> Path:
        folder = tmp_path / f"churn-{time.monotonic_ns()}"
        shutil.copytree(history_project, folder, ignore=shutil.ignore_patterns("serving"))
        return folder

    return make


@dataclass
class Served:
    url: str
    project: Any
    service: Any

    def client(self, token: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=60)


def _serve(app: Any) -> tuple[str, Any, threading.Thread]:
    import uvicorn

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                           lifespan="on", timeout_graceful_shutdown=10))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_for(lambda: server.started)
    return f"http://127.0.0.1:{port}", server, thread


@pytest.fixture
def served(project_copy: Callable[[], Path]) -> Iterator[Callable[..., Served]]:
    """`served(folder)`: the project (default: a copy of the history project of the test's
    own, so that its traffic and audit log start as built) served with the dashboard at /ui
    (as each `conveyor serve` worker builds it: `serving_worker_context`), ready."""
    from conveyor.app import serving_worker_context
    from conveyor.serving import build_service, create_app

    started: list[tuple[Any, threading.Thread]] = []

    def start(folder: Path | None = None) -> Served:
        folder = folder or project_copy()
        context = serving_worker_context(str(folder), None)
        service = build_service(context, seed=7)
        url, server, thread = _serve(create_app(service, context.extensions))
        started.append((server, thread))
        with httpx.Client(base_url=url) as http:
            wait_for(lambda: http.get("/readyz").status_code == 200)
        from conveyor.app import Project

        return Served(url, Project.load(folder), service)

    yield start
    for server, thread in started:
        server.should_exit = True
        thread.join(timeout=30)


@pytest.fixture
def standalone(history_project: Path) -> Iterator[Callable[[str, Path | None], str]]:
    """`standalone(server_url, folder)`: `conveyor ui`'s app on a free port; its URL."""
    from conveyor.app import Project
    from conveyor.dashboard import RemoteLive, create_ui_app

    started: list[tuple[Any, threading.Thread]] = []

    def start(server_url: str, folder: Path | None = None) -> str:
        project = Project.load(folder or history_project)
        url, server, thread = _serve(create_ui_app(project.dashboard(RemoteLive(server_url))))
        started.append((server, thread))
        return url

    yield start
    for server, thread in started:
        server.should_exit = True
        thread.join(timeout=30)
