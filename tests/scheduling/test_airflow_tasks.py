"""An Airflow task's job recorded in the run history, as `conveyor job run` runs it in a task
process: Airflow's ``AIRFLOW_CTX_*`` variables set as its task runner sets them, the train
DAG's three tasks one after another, a failed task and its retry."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from conveyor.app import Project
from conveyor.scheduling.airflow_tasks import AirflowTask
from conveyor.stack.processes import ProcessId

RUN_ID = "scheduled__2026-12-01T02:00:00+00:00"


def _task(monkeypatch: pytest.MonkeyPatch, task_id: str, try_number: int = 1, run_id: str = RUN_ID) -> None:
    for name, value in {"DAG_ID": "churn_train", "DAG_RUN_ID": run_id, "TASK_ID": task_id,
                        "TRY_NUMBER": str(try_number), "LOGICAL_DATE": "2026-12-01T02:00:00+00:00",
                        "DAG_OWNER": "ml"}.items():
        monkeypatch.setenv(f"AIRFLOW_CTX_{name}", value)


def _job(cli: Callable[..., object], project: Path, spec: dict[str, object]) -> dict[str, object]:
    result = cli("job", "run", json.dumps({"project": str(project), **spec}), "--quiet")
    line = [row for row in result.output.splitlines() if row.startswith("{")][-1]  # type: ignore[attr-defined]
    answer: dict[str, object] = json.loads(line)
    return answer


def test_the_train_dags_tasks_make_one_history_entry_that_ends_succeeded(cli, project_dir: Path, monkeypatch):
    history = Project.load(project_dir).history()
    _task(monkeypatch, "train")
    trained = _job(cli, project_dir, {"kind": "train"})
    run_id = str(trained["result"]["run_id"])  # type: ignore[index]
    [entry] = history.entries()
    assert (entry.pipeline, entry.trigger, entry.status, entry.slot) == ("train", "airflow", "running",
                                                                          "2026-12-01T0200Z")
    assert entry.job_run_id == run_id and entry.end is None and entry.detail.startswith("train: ")
    # a scheduler starting on the stand leaves it running: between tasks its process is gone by design
    assert history.mark_killed(datetime.now(UTC), ProcessId("another-host", 1, "")) == []

    _task(monkeypatch, "gate")
    gated = _job(cli, project_dir, {"kind": "gate", "run_id": run_id, "promote": False})
    _task(monkeypatch, "promote_dev")
    _job(cli, project_dir, {"kind": "promote", "to": "dev", "version": gated["result"]["version"],  # type: ignore[index]
                            "reason": "passed the quality gate"})
    [entry] = history.entries()
    assert (entry.pipeline, entry.trigger, entry.status, entry.attempts) == ("train", "airflow", "succeeded", 1)
    assert entry.end is not None and entry.duration_s is not None and entry.detail.startswith("promote_dev: ")
    log = history.log_text(entry.run_id) or ""
    assert [line.split(" ", 2)[2] for line in log.splitlines() if " (try " in line] == [
        "train (try 1): train", "gate (try 1): gate", "promote_dev (try 1): promote"]
    assert log.count('"ok": true') == 3


def test_a_failed_task_marks_the_entry_failed_and_its_retry_running_then_succeeded(
        cli, make_project: Callable[..., Path], monkeypatch):
    folder = make_project()
    project = Project.load(folder)
    project.train()
    history = project.history()
    _task(monkeypatch, "promote_staging", run_id="manual__1")
    failed = _job(cli, folder, {"kind": "promote", "to": "staging", "version": "9"})
    assert failed["ok"] is False
    [entry] = history.entries()
    assert (entry.status, entry.attempts) == ("failed", 1) and "9" in entry.detail
    _task(monkeypatch, "promote_staging", try_number=2, run_id="manual__1")
    assert _job(cli, folder, {"kind": "promote", "to": "staging", "version": "1"})["ok"] is True
    [entry] = history.entries()
    assert (entry.status, entry.attempts) == ("succeeded", 2)


def test_outside_airflow_or_for_a_job_no_dag_runs_nothing_is_recorded(cli, project_dir: Path, monkeypatch):
    monkeypatch.delenv("AIRFLOW_CTX_DAG_ID", raising=False)
    _job(cli, project_dir, {"kind": "train", "gate": True})
    history = Project.load(project_dir).history()
    assert history.entries() == []
    _task(monkeypatch, "pack")
    _job(cli, project_dir, {"kind": "rollback", "stage": "dev"})  # no exported DAG runs a rollback
    assert history.entries() == []


def test_the_task_is_read_from_airflows_variables():
    task = AirflowTask.current({"AIRFLOW_CTX_DAG_ID": "churn_retrain", "AIRFLOW_CTX_DAG_RUN_ID": "asset_triggered__x",
                                "AIRFLOW_CTX_TASK_ID": "retrain", "AIRFLOW_CTX_TRY_NUMBER": "3"})
    assert task is not None and (task.key, task.try_number, task.logical_date) == (
        "churn_retrain/asset_triggered__x", 3, None)  # an Asset's run has no logical date
    assert AirflowTask.current({}) is None
    assert AirflowTask.current({"AIRFLOW_CTX_DAG_ID": "x", "AIRFLOW_CTX_DAG_RUN_ID": "it's"}) is None
