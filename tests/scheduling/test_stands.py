"""The scheduler on a stand with a PostgreSQL tracking store (throwaway database) and its
artifacts on a local S3-compatible server (moto): the history lives in PostgreSQL, the
leases in S3, and a second scheduler anywhere that sees the same stores is refused."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from mlflow import MlflowClient

from conveyor.app import Project
from conveyor.core.errors import SchedulerBusyError
from conveyor.scheduling import ManualClock
from tests.scheduling.conftest import HOURLY, START, at


def test_a_postgres_and_s3_stand_keeps_the_history_and_the_leases(
    project_dir: Path, schedule, edit_config, postgres_uri: str, s3: dict,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    endpoint = s3["client_kwargs"]["endpoint_url"]
    monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)  # boto3 and s3fs
    monkeypatch.setenv("MLFLOW_S3_ENDPOINT_URL", endpoint)  # MLflow's artifact repository
    store = f"s3://lake/stand-{uuid.uuid4().hex[:8]}"
    edit_config(project_dir, "  dev: {}", f"  dev: {{tracking_uri: '{postgres_uri}', artifact_store: '{store}'}}")
    schedule(project_dir, train=HOURLY)

    clock = ManualClock(START)
    scheduler = Project.load(project_dir, env="dev").scheduler(clock=clock)
    scheduler.start()
    try:
        with pytest.raises(SchedulerBusyError, match="another scheduler runs churn here"):
            Project.load(project_dir, env="dev").scheduler(clock=ManualClock(START)).start()
        clock.set(at("2026-12-01T10:00:30"))
        [outcome] = scheduler.tick()
        assert (outcome.status, outcome.detail) == ("succeeded", "v1 passed the gate → dev")
    finally:
        scheduler.stop()

    client = MlflowClient(tracking_uri=postgres_uri, registry_uri=postgres_uri)
    [entry] = client.search_runs([client.get_experiment_by_name("churn-runs").experiment_id])
    assert entry.data.tags["conveyor.run.status"] == "succeeded"
    assert entry.data.tags["conveyor.env"] == "dev"
    assert entry.info.artifact_uri.startswith(f"{store}/mlflow/")
    assert "train: attempt 1" in Path(client.download_artifacts(entry.info.run_id, "log.txt")).read_text()
    [shown] = Project.load(project_dir, env="dev").runs()
    assert shown.status == "succeeded" and shown.env == "dev"
    assert Project.load(project_dir).runs() == []  # the embedded stand has its own history
