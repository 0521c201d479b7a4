"""The same code on other stores: PostgreSQL-backed MLflow and a remote tracking server."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from mlflow import MlflowClient

from conveyor import Project
from conveyor.core import tags
from conveyor.core.errors import StoreUnreachableError
from conveyor.stack.reachability import check_tracking_store


def use_store(project: Path, edit_config, uri: str) -> None:
    edit_config(project, "  dev: {}", f"  dev: {{tracking_uri: '{uri}'}}")


def test_postgres_backed_store(project_dir: Path, edit_config, postgres_uri: str) -> None:
    use_store(project_dir, edit_config, postgres_uri)
    project = Project.load(project_dir, env="dev")
    assert project.stack.tracking_uri == postgres_uri
    result = project.train()
    project.promote("staging")
    client = MlflowClient(tracking_uri=postgres_uri, registry_uri=postgres_uri)
    model = client.get_registered_model("churn")
    assert model.aliases == {"dev": int(result.version), "staging": int(result.version)}
    assert client.get_model_version("churn", result.version).tags["conveyor.gate"] == "passed"
    # the embedded store was not touched
    embedded = f"sqlite:///{project_dir / '.conveyor' / 'mlflow.db'}"
    local = MlflowClient(tracking_uri=embedded, registry_uri=embedded)
    assert local.search_registered_models() == []


def test_train_on_postgres_hits_no_database_error(project_dir: Path, edit_config, postgres_uri: str) -> None:
    """MLflow's log_model used to re-insert the run's metrics with the model id, hit their
    primary key and recover; on PostgreSQL psycopg printed "error ignored terminating
    <psycopg.Pipeline ...>". Every statement of a train now succeeds."""
    import sqlalchemy
    from sqlalchemy import event

    errors: list[str] = []

    def record(context: sqlalchemy.engine.ExceptionContext) -> None:
        errors.append(f"{type(context.original_exception).__name__}: {context.statement}")

    use_store(project_dir, edit_config, postgres_uri)
    project = Project.load(project_dir, env="dev")
    event.listen(sqlalchemy.engine.Engine, "handle_error", record)
    try:
        result = project.train()
    finally:
        event.remove(sqlalchemy.engine.Engine, "handle_error", record)
    assert errors == []
    client = MlflowClient(tracking_uri=postgres_uri, registry_uri=postgres_uri)
    run = client.get_run(result.run_id)
    logged = client.get_logged_model(run.data.tags[tags.MODEL_ID])
    assert {m.key for m in logged.metrics} == set(run.data.metrics) and "roc_auc" in run.data.metrics


def test_unreachable_postgres_is_one_clear_error() -> None:
    port = _free_port()
    with pytest.raises(StoreUnreachableError, match="is unreachable"):
        check_tracking_store(f"postgresql://postgres:topsecret@127.0.0.1:{port}/mlflow")
    try:
        check_tracking_store(f"postgresql://postgres:topsecret@127.0.0.1:{port}/mlflow")
    except StoreUnreachableError as error:
        assert "topsecret" not in str(error)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def tracking_server(tmp_path: Path) -> Iterator[str]:
    """A real `mlflow server` on a free loopback port, with its own SQLite store."""
    port = _free_port()
    store = tmp_path / "server"
    store.mkdir()
    process = subprocess.Popen(
        [sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1", "--port", str(port),
         "--backend-store-uri", f"sqlite:///{store / 'mlflow.db'}",
         "--default-artifact-root", str(store / "artifacts"), "--workers", "1"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    uri = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                check_tracking_store(uri)
                MlflowClient(tracking_uri=uri).search_experiments()
                break
            except Exception:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError("mlflow server did not start") from None
                time.sleep(0.5)
        yield uri
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_remote_tracking_server(project_dir: Path, tracking_server: str, monkeypatch) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", tracking_server)
    project = Project.load(project_dir)
    assert project.stack.tracking_uri == tracking_server
    result = project.train()
    project.promote("staging")
    client = MlflowClient(tracking_uri=tracking_server)
    aliases = client.get_registered_model("churn").aliases
    assert {k: str(v) for k, v in aliases.items()} == {"dev": "1", "staging": "1"}
    run = client.get_run(result.run_id)
    assert run.data.tags["conveyor.gate"] == "passed"
