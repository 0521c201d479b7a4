"""`conveyor job run`: each operation from its spec, in its own process, one JSON line out."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from mlflow import MlflowClient

from conveyor.app import Project
from conveyor.core import tags
from conveyor.jobs import JOBS, parse_spec
from conveyor.scaffold import generate_example_data


def _job(spec: dict[str, object], cwd: Path) -> tuple[int, dict[str, object]]:
    """Run one job as a runner would: a fresh process reading the spec from stdin."""
    env = {k: v for k, v in os.environ.items() if k not in ("MLFLOW_TRACKING_URI", "CONVEYOR_ENV")}
    done = subprocess.run(
        [sys.executable, "-m", "conveyor", "job", "run", "-", "--quiet"], input=json.dumps(spec),
        capture_output=True, text=True, cwd=cwd, env=env, timeout=600, check=False,
    )
    lines = done.stdout.strip().splitlines()
    assert len(lines) == 1, (done.stdout, done.stderr)
    return done.returncode, json.loads(lines[0])


def test_train_and_gate_run_in_separate_processes_handing_over_the_run_id(project_dir: Path) -> None:
    code, trained = _job({"kind": "train"}, project_dir)
    assert code == 0 and trained["ok"] is True, trained
    run_id = trained["result"]["run_id"]

    project = Project.load(project_dir)
    client = MlflowClient(project.stack.tracking_uri, registry_uri=project.stack.registry_uri)
    assert client.get_run(run_id).info.status == "FINISHED"
    assert client.search_model_versions("name = 'churn'") == []  # nothing registered yet

    code, gated = _job({"kind": "gate", "run_id": run_id}, project_dir)
    assert code == 0, gated
    assert gated["result"]["version"] == "1" and gated["result"]["alias"] == "dev"
    version = client.get_model_version("churn", "1")
    assert version.run_id == run_id and version.tags[tags.GATE] == "passed"
    assert version.tags[tags.DATA_SHA256] == client.get_run(run_id).data.tags[tags.DATA_SHA256]
    assert str(client.get_model_version_by_alias("churn", "dev").version) == "1"

    code, promoted = _job({"kind": "promote", "to": "staging"}, project_dir)
    assert code == 0 and promoted["result"]["to_version"] == "1"
    code, rolled = _job({"kind": "rollback", "stage": "staging"}, project_dir)
    assert code == 1 and rolled["ok"] is False and "staging" in rolled["error"], rolled  # no earlier holder


def test_a_failed_step_prints_its_error_and_exits_with_its_code(project_dir: Path) -> None:
    code, line = _job({"kind": "gate", "run_id": "0123456789abcdef"}, project_dir)
    assert code == 8 and line["ok"] is False and "0123456789abcdef" in line["error"]  # NOT_FOUND
    code, line = _job({"kind": "promote", "to": "prod"}, project_dir)
    assert code == 8 and line["error"] == "no registered model named 'churn'"


def test_bad_specs_are_config_errors_naming_the_field(project_dir: Path, cli) -> None:
    spec = project_dir / "spec.json"
    spec.write_text(json.dumps({"kind": "deploy"}))
    result = cli("job", "run", spec, "--project", project_dir)
    assert result.exit_code == 2 and "invalid job spec" in result.output and "train" in result.output
    spec.write_text(json.dumps({"kind": "gate"}))
    result = cli("job", "run", spec, "--project", project_dir)
    assert result.exit_code == 2 and "run_id" in result.output
    spec.write_text(json.dumps({"kind": "train", "epochs": 3}))
    result = cli("job", "run", spec, "--project", project_dir)
    assert result.exit_code == 2 and "epochs" in result.output
    result = cli("job", "run", project_dir / "missing.json")
    assert result.exit_code == 2 and "not found" in result.output


@pytest.mark.parametrize("kind", sorted(JOBS))
def test_every_spec_round_trips_through_json(kind: str) -> None:
    spec_type = JOBS[kind].spec
    required = {"gate": {"run_id": "r"}, "promote": {"to": "staging"}, "rollback": {"stage": "prod"},
                "score": {"model": "churn@prod"}, "stream": {"model": "churn@prod"},
                "retrain": {"model": "churn", "monitoring_run_id": "r", "reason": "drift"}}
    spec = spec_type(project="/p", env="prod", **required.get(kind, {}))
    assert parse_spec(spec.model_dump_json()) == spec


def test_monitor_requests_a_retrain_that_a_retrain_job_runs(project_dir: Path) -> None:
    config = project_dir / "conveyor.yaml"
    config.write_text(config.read_text() + "\nmonitor: {retrain: {data: both}}\n")
    Project.load(project_dir).train()
    batch = generate_example_data(project_dir, rows=2000, seed=8, drift=1.0, out=Path("data/batch.parquet"))
    code, monitored = _job({"kind": "monitor", "data": str(batch), "on_drift": ["retrain"],
                            "fail_on_drift": True}, project_dir)
    assert code == 3, monitored
    request = monitored["result"]["retrain_requested"]
    assert request["monitoring_run_id"] == monitored["result"]["run_id"]
    project = Project.load(project_dir)
    assert [v.version for v in project.models()] == ["1"]  # monitoring itself never trains

    code, retrained = _job({"kind": "retrain", **request}, project_dir)
    assert code == 0 and retrained["result"]["version"] == "2", retrained
    client = MlflowClient(project.stack.tracking_uri, registry_uri=project.stack.registry_uri)
    assert client.get_model_version("churn", "2").tags[tags.TRIGGER_RUN_ID] == request["monitoring_run_id"]
    assert client.get_run(request["monitoring_run_id"]).data.tags[tags.RETRAIN_VERSION] == "2"
