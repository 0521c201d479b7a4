"""The job options that let an exported runner split or join steps: a gate that leaves the
first stage to a promote job (Airflow), a train job that gates (a CronJob's one step), a score
job into a cron slot's own output."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from conveyor.app import Project
from conveyor.jobs import GateSpec, PromoteSpec, ScoreSpec, TrainSpec


def test_a_gate_without_promotion_then_a_promote_job(project_dir: Path) -> None:
    project = Project.load(project_dir)
    trained = project.run_job(TrainSpec())
    gated = project.run_job(GateSpec(run_id=trained.result["run_id"], promote=False))
    assert gated.ok and gated.result["alias"] is None and gated.result["gate"] == "passed"
    assert project.registry.alias_holder("churn", "dev") is None
    moved = project.run_job(PromoteSpec(to="dev", version=gated.result["version"], reason="passed the quality gate"))
    assert moved.ok and moved.result["to_version"] == "1"
    assert project.registry.alias_holder("churn", "dev") == "1"


def test_a_train_job_that_gates_registers_and_promotes(project_dir: Path) -> None:
    result = Project.load(project_dir).run_job(TrainSpec(gate=True))
    assert result.ok and (result.result["version"], result.result["alias"]) == ("1", "dev")


def test_a_score_job_with_a_slot_writes_into_the_slots_output(
    make_project: Callable[..., Path], edit_config: Callable[..., None]
) -> None:
    folder = make_project()
    with (folder / "conveyor.yaml").open("a") as config:
        config.write('batch:\n  input: data/train.parquet\n  output: out/{date}/{slot}\n  schedule: "0 2 * * *"\n'
                     'scheduler: {timezone: Europe/Berlin}\n')
    project = Project.load(folder)
    project.train()
    given = project.run_job(ScoreSpec(model="churn@dev", slot="2026-11-30T2300Z"))
    assert given.ok, given.error
    assert given.result["output"] == str(folder / "out" / "2026-12-01" / "2026-11-30T2300Z")
    latest = project.run_job(ScoreSpec(model="churn@dev", slot="latest"))
    assert latest.ok, latest.error
    now = datetime.now(UTC)
    assert latest.result["output"].startswith(str(folder / "out"))
    slot = Path(latest.result["output"]).name
    assert datetime.strptime(slot, "%Y-%m-%dT%H%MZ").replace(tzinfo=UTC) <= now
    assert slot.endswith(("0100Z", "0000Z"))  # 02:00 in Berlin


def test_a_monitor_job_that_retrains_on_drift(make_project: Callable[..., Path]) -> None:
    import pandas as pd

    from conveyor.jobs import MonitorSpec

    folder = make_project()
    frame = pd.read_parquet(folder / "data" / "train.parquet")
    frame["monthly_charges"] = frame["monthly_charges"] * 3 + 40
    frame.to_parquet(folder / "data" / "drifted.parquet")
    with (folder / "conveyor.yaml").open("a") as config:
        config.write("monitor:\n  data: data/drifted.parquet\n  on_drift: [retrain]\n  retrain: {data: both}\n")
    project = Project.load(folder)
    project.train()
    result = project.run_job(MonitorSpec(retrain=True))
    assert result.ok, result.error
    assert result.result["retrain_requested"]
    assert result.result["retrain"]["ok"] is True
    assert project.registry.alias_holder("churn", "dev") == "2"
