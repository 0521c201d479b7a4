"""`conveyor export airflow`: DAG files that a real Airflow 3 loads and runs."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

GOLDEN = Path(__file__).with_name("golden") / "airflow"
DAGS = ["churn_batch.py", "churn_monitor.py", "churn_retrain.py", "churn_train.py"]


def _export(cli: Callable[..., Any], project: Path, out: Path, *extra: str) -> Any:
    return cli("export", "airflow", "--project", project, "--env", "dev", "--out", out, *extra)


def test_the_same_config_gives_the_golden_bytes(
    cli: Callable[..., Any], scheduled_project: Path, edit_config: Callable[..., None], tmp_path: Path
) -> None:
    edit_config(scheduled_project, "  owner: ml-team\n", "  owner: ml-team\n  project: /srv/churn\n")
    first, second = tmp_path / "first", tmp_path / "second"
    assert _export(cli, scheduled_project, first).exit_code == 0
    assert _export(cli, scheduled_project, second).exit_code == 0
    assert sorted(p.name for p in first.iterdir()) == DAGS
    for name in DAGS:
        assert (first / name).read_bytes() == (second / name).read_bytes()
        assert (first / name).read_text() == (GOLDEN / f"{name}.golden").read_text(), f"{name} differs from its golden file"


def test_generated_dags_are_clean_under_ruff_air(
    cli: Callable[..., Any], scheduled_project: Path, tmp_path: Path
) -> None:
    assert _export(cli, scheduled_project, tmp_path / "dags").exit_code == 0
    ruff = Path(sys.executable).parent / "ruff"
    done = subprocess.run([str(ruff), "check", "--isolated", "--no-cache", "--select", "AIR,F,E9",
                           str(tmp_path / "dags")], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout


def test_a_config_with_no_schedule_exports_nothing(cli: Callable[..., Any], project_dir: Path, tmp_path: Path) -> None:
    result = _export(cli, project_dir, tmp_path / "dags")
    assert result.exit_code == 2
    assert "no pipeline of the config has a schedule" in result.output
    assert "train.schedule" in result.output
    assert not (tmp_path / "dags").exists()


def test_pipelines_without_a_schedule_are_named_and_skipped(
    cli: Callable[..., Any], project_dir: Path, edit_config: Callable[..., None], tmp_path: Path
) -> None:
    edit_config(project_dir, "  params: {C: 1.0}\n", '  params: {C: 1.0}\n  schedule: "0 3 * * *"\n')
    result = _export(cli, project_dir, tmp_path / "dags")
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (tmp_path / "dags").iterdir()) == ["churn_train.py"]
    assert "batch: no batch.schedule" in result.output
    assert "monitor: no monitor.schedule" in result.output


def test_a_stand_whose_variables_are_not_set_here_is_exported_with_its_references(
    cli: Callable[..., Any], scheduled_project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The CI machine that exports has none of prod's secrets (the example's prod stand reads
    ${MLFLOW_TRACKING_URI}): they are the jobs' business."""
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    result = cli("export", "airflow", "--project", scheduled_project, "--env", "prod", "--out", tmp_path / "dags")
    assert result.exit_code == 0, result.output
    assert "not set here, resolved where the jobs run: MLFLOW_TRACKING_URI" in result.output
    assert sorted(p.name for p in (tmp_path / "dags").iterdir())
    assert not any("MLFLOW_TRACKING_URI" in p.read_text() for p in (tmp_path / "dags").iterdir())  # no stand settings
    trained = cli("train", "--project", scheduled_project, "--env", "prod")  # running still needs them
    assert trained.exit_code == 2 and "MLFLOW_TRACKING_URI" in trained.output


def test_an_unknown_stand_is_refused(cli: Callable[..., Any], scheduled_project: Path, tmp_path: Path) -> None:
    result = cli("export", "airflow", "--project", scheduled_project, "--env", "qa", "--out", tmp_path / "dags")
    assert result.exit_code == 2
    assert "unknown environment 'qa'" in result.output or "'qa'" in result.output
    assert not (tmp_path / "dags").exists()


def test_the_dag_folder_loads_in_airflow_with_its_tasks_schedules_and_assets(
    cli: Callable[..., Any], scheduled_project: Path, tmp_path: Path, airflow: Callable[..., dict[str, Any]]
) -> None:
    dags = tmp_path / "dags"
    assert _export(cli, scheduled_project, dags).exit_code == 0
    loaded = airflow("load", dags)
    assert loaded["import_errors"] == {}
    found = loaded["dags"]
    assert sorted(found) == ["churn_batch", "churn_monitor", "churn_retrain", "churn_train"]
    for dag in found.values():
        assert (dag["catchup"], dag["max_active_runs"], dag["owner"]) == (False, 1, "ml-team")
        assert {"conveyor", "churn", "dev", "team-churn"} <= set(dag["tags"])
        assert all((t["retries"], t["retry_delay_s"]) == (2, 30.0) for t in dag["tasks"].values())
    train = found["churn_train"]
    assert train["timetable"] == "CronTriggerTimetable"
    assert train["schedule"]["expression"] == "0 3 * * *"
    assert train["schedule"]["timezone"] == "UTC"
    assert {k: v["upstream"] for k, v in train["tasks"].items()} == {
        "train": [], "gate": ["train"], "promote_dev": ["gate"]}
    assert found["churn_batch"]["schedule"]["expression"] == "0 2 * * *"
    monitor = found["churn_monitor"]
    assert monitor["schedule"]["expression"] == "0 * * * *"
    assert monitor["tasks"]["request_retrain"] == {**monitor["tasks"]["request_retrain"], "upstream": ["monitor"],
                                                    "outlets": ["churn_dev_retrain_requested"]}
    retrain = found["churn_retrain"]
    assert retrain["timetable"] == "AssetTriggeredTimetable"
    assert retrain["schedule_assets"] == ["churn_dev_retrain_requested"]
    assert retrain["tasks"]["retrain"]["inlets"] == ["churn_dev_retrain_requested"]


def test_train_runs_end_to_end_and_drift_leads_to_a_retrain(
    cli: Callable[..., Any], scheduled_project: Path, tmp_path: Path, airflow: Callable[..., dict[str, Any]]
) -> None:
    from mlflow import MlflowClient

    dags = tmp_path / "dags"
    assert _export(cli, scheduled_project, dags).exit_code == 0
    trained = airflow("test", dags, "churn_train", "2026-12-01T03:00:00+00:00")
    assert trained["state"] == "success", trained["log"]
    assert trained["tasks"] == {"train": "success", "gate": "success", "promote_dev": "success"}
    assert trained["xcom"]["gate"] == "1"
    client = MlflowClient(tracking_uri=f"sqlite:///{scheduled_project / '.conveyor' / 'mlflow.db'}")
    assert str(client.get_model_version_by_alias("churn", "dev").version) == "1"
    assert client.get_run(trained["xcom"]["train"]).info.status == "FINISHED"

    scored = airflow("test", dags, "churn_batch", "2026-12-01T02:00:00+00:00")
    assert scored["state"] == "success", scored["log"]
    assert scored["xcom"]["score"]["output"] == str(scheduled_project / "out" / "scores" / "slot=2026-12-01T0200Z")
    assert (scheduled_project / "out" / "scores" / "slot=2026-12-01T0200Z" / "_manifest.json").is_file()

    monitored = airflow("test", dags, "churn_monitor", "2026-12-01T04:00:00+00:00")
    assert monitored["state"] == "success", monitored["log"]
    assert monitored["tasks"] == {"monitor": "success", "request_retrain": "success"}
    [event] = monitored["asset_events"]
    assert event["asset"] == "churn_dev_retrain_requested"
    assert event["extra"]["model"] == "churn" and event["extra"]["monitoring_run_id"]
    assert monitored["queued"] == ["churn_retrain"]  # what the scheduler turns into a retrain run

    retrained = airflow("test", dags, "churn_retrain", "2026-12-01T04:05:00+00:00")
    assert retrained["state"] == "success", retrained["log"]
    assert retrained["xcom"]["retrain"]["ok"] is True
    version = client.get_model_version("churn", "2")
    assert version.tags["conveyor.trigger.run_id"] == event["extra"]["monitoring_run_id"]

    # each DAG run is one entry of the run history the scheduler writes (the Runs page's)
    from conveyor import Project

    entries = Project.load(scheduled_project, env="dev").history().entries()
    assert [(e.pipeline, e.trigger, e.status) for e in reversed(entries)] == [
        ("train", "airflow", "succeeded"), ("batch", "airflow", "succeeded"),
        ("monitor", "airflow", "succeeded"), ("retrain", "airflow", "succeeded")]
    assert entries[-1].job_run_id == trained["xcom"]["train"] and entries[-1].slot == "2026-12-01T0300Z"


def test_a_spark_step_runs_the_exported_spark_application(
    cli: Callable[..., Any], scheduled_project: Path, tmp_path: Path, airflow: Callable[..., dict[str, Any]]
) -> None:
    import yaml

    with (scheduled_project / "conveyor.yaml").open("a") as config:
        config.write("  spark: [batch]\n  kubernetes: {image: registry.example.com/conveyor-spark:4.0, namespace: ml}\n")
    dags = tmp_path / "dags"
    result = _export(cli, scheduled_project, dags, "--pack", "s3://ml-artifacts/churn/packs/0123abcd.tar.gz")
    assert result.exit_code == 0, result.output
    manifest = yaml.safe_load((dags / "churn_batch.sparkapplication.yaml").read_text())
    assert manifest["spec"]["restartPolicy"] == {"type": "Never"}  # Airflow retries the task
    assert "{{ (logical_date or dag_run.run_after)" in manifest["spec"]["arguments"][0]
    loaded = airflow("load", dags)
    assert loaded["import_errors"] == {}
    assert loaded["dags"]["churn_batch"]["tasks"]["score"]["type"] == "SparkKubernetesOperator"


def test_train_tasks_run_inside_the_pack(
    cli: Callable[..., Any], scheduled_project: Path, thin_pack: tuple[Path, Path], tmp_path: Path,
    airflow: Callable[..., dict[str, Any]], monkeypatch: Any,
) -> None:
    tarball, marks = thin_pack
    dags = tmp_path / "dags"
    assert _export(cli, scheduled_project, dags, "--pack", str(tarball)).exit_code == 0
    monkeypatch.setenv("CONVEYOR_PACK_MARKS", str(marks))
    monkeypatch.setenv("CONVEYOR_PACK_CACHE", str(tmp_path / "pack-cache"))
    trained = airflow("test", dags, "churn_train", "2026-12-01T03:00:00+00:00")
    assert trained["state"] == "success", trained["log"]
    assert trained["xcom"]["gate"] == "1"
    assert len(list(marks.iterdir())) >= 3  # train, gate and promote each ran the pack's Python


def test_a_gate_that_refuses_fails_its_task_without_retries(
    cli: Callable[..., Any], scheduled_project: Path, edit_config: Callable[..., None], tmp_path: Path,
    airflow: Callable[..., dict[str, Any]],
) -> None:
    edit_config(scheduled_project, 'roc_auc: ">= 0.80"', 'roc_auc: ">= 0.999"')
    dags = tmp_path / "dags"
    assert _export(cli, scheduled_project, dags).exit_code == 0
    run = airflow("test", dags, "churn_train", "2026-12-01T03:00:00+00:00")
    assert run["state"] == "failed"
    assert run["tasks"] == {"train": "success", "gate": "failed", "promote_dev": "upstream_failed"}
    assert "failed the quality gate" in run["log"]
    assert "up_for_retry" not in run["log"]
    from conveyor import Project

    [entry] = Project.load(scheduled_project, env="dev").history().entries()
    assert (entry.pipeline, entry.trigger, entry.status) == ("train", "airflow", "rejected")
    assert entry.detail.startswith("gate: ") and "quality gate" in entry.detail
