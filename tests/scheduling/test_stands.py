"""The schedulers of two stands — the embedded SQLite stand and one on a PostgreSQL tracking
store (throwaway database) with its artifacts on a local S3-compatible server (moto) — share
one run history, in the history stand's tracking store: each stand's leases stay in its own
artifact store, a second scheduler on a stand is refused, and `conveyor runs` on either stand
shows every stand's runs with the stand that ran them."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest
from mlflow import MlflowClient

from conveyor.app import Project
from conveyor.core.config.loader import load_config
from conveyor.core.errors import ConfigError, SchedulerBusyError
from conveyor.scheduling import ManualClock
from conveyor.stack.leases import Leases
from tests.scheduling.conftest import HOURLY, START, at


def test_the_schedulers_of_two_stands_share_one_history(
    project_dir: Path, schedule, edit_config, postgres_uri: str, s3: dict,
    monkeypatch: pytest.MonkeyPatch, cli,
) -> None:
    endpoint = s3["client_kwargs"]["endpoint_url"]
    monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)  # boto3 and s3fs
    monkeypatch.setenv("MLFLOW_S3_ENDPOINT_URL", endpoint)  # MLflow's artifact repository
    store = f"s3://lake/stand-{uuid.uuid4().hex[:8]}"
    edit_config(project_dir, "  dev: {}", f"  dev: {{}}\n  pg: {{tracking_uri: '{postgres_uri}', artifact_store: '{store}'}}")
    schedule(project_dir, train=HOURLY, extra="scheduler:\n  history_env: dev\n")

    dev_clock, pg_clock = ManualClock(START), ManualClock(START)
    on_dev = Project.load(project_dir, env="dev").scheduler(clock=dev_clock)
    on_pg = Project.load(project_dir, env="pg").scheduler(clock=pg_clock)
    on_dev.start()
    on_pg.start()  # another stand: its own lease
    try:
        with pytest.raises(SchedulerBusyError, match="another scheduler runs churn here"):
            Project.load(project_dir, env="pg").scheduler(clock=ManualClock(START)).start()
        dev_clock.set(at("2026-12-01T10:00:30"))
        pg_clock.set(at("2026-12-01T10:00:40"))
        [on_dev_ran] = on_dev.tick()
        [on_pg_ran] = on_pg.tick()  # the same slot, on its own stand: not the dev stand's
        assert on_pg_ran.slot == on_dev_ran.slot == "2026-12-01T1000Z"
        assert (on_pg_ran.status, on_pg_ran.detail) == ("succeeded", "v1 passed the gate → dev")
        assert on_pg.tick() == [] and on_dev.tick() == []  # each stand's slot handled once
        pg_leases = Leases(store)
        assert pg_leases.holder(on_pg.lease_name) is not None  # the leases in the stand's own store
    finally:
        on_dev.stop()
        on_pg.stop()

    # one history, in the dev stand's (SQLite) tracking store; nothing of it on PostgreSQL
    pg = MlflowClient(tracking_uri=postgres_uri, registry_uri=postgres_uri)
    assert pg.get_experiment_by_name("churn-runs") is None
    assert str(pg.search_model_versions("name = 'churn'")[0].version) == "1"  # what the pg stand's train made
    for env in (None, "dev", "pg"):
        shown = Project.load(project_dir, env=env).runs()
        assert sorted((e.env, e.pipeline, e.status) for e in shown) == [
            ("dev", "train", "succeeded"), ("pg", "train", "succeeded")]
    [pg_entry] = [e for e in shown if e.env == "pg"]
    assert pg_entry.job_run_id is not None and pg.get_run(pg_entry.job_run_id).info.status == "FINISHED"
    assert pg_entry.log is not None and pg_entry.log.startswith(f"file://{project_dir / '.conveyor'}")
    assert "train: attempt 1" in (Project.load(project_dir, env="pg").history().log_text(pg_entry.run_id) or "")

    result = cli("runs", "--project", str(project_dir), "--env", "pg", "--json")
    assert result.exit_code == 0, result.output
    assert sorted(r["env"] for r in json.loads(result.output)["runs"]) == ["dev", "pg"]
    table = cli("runs", "--project", str(project_dir))
    assert table.exit_code == 0 and "stand" in table.output and " pg " in table.output


def test_the_history_lives_on_the_first_stages_stand_by_default(project_dir: Path, edit_config) -> None:
    assert load_config(project_dir).config.history_env is None  # plain stages: the scheduler's own stand
    edit_config(project_dir, "stages: [dev, staging, prod]", "stages: [{name: dev, env: dev}, staging, prod]")
    assert load_config(project_dir).config.history_env == "dev"


def test_a_history_env_that_names_no_environment_is_refused_on_its_line(project_dir: Path, cli) -> None:
    config = project_dir / "conveyor.yaml"
    config.write_text(config.read_text() + "scheduler:\n  history_env: mdp\n")
    line = len(config.read_text().splitlines())
    with pytest.raises(ConfigError) as caught:
        load_config(project_dir)
    assert caught.value.line == line and "scheduler.history_env names environment 'mdp'" in caught.value.message
    result = cli("runs", "--project", str(project_dir))
    assert result.exit_code == 2 and "history_env" in result.output and "Traceback" not in result.output
