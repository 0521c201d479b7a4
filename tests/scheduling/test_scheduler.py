"""The embedded scheduler on the churn example, with real MLflow stores and a manual clock:
slots, catch-up after downtime, the overlap lease, a second scheduler, retries with backoff,
a failing step, the drift outcome that starts a retrain, batch partitions, `conveyor runs`."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from mlflow import MlflowClient

from conveyor.app import Project
from conveyor.core import tags
from conveyor.core.errors import SchedulerBusyError
from conveyor.scaffold import generate_example_data
from conveyor.scheduling import ManualClock
from conveyor.scheduling.history import LOG_FILE
from conveyor.stack.leases import Leases
from tests.scheduling.conftest import HOURLY, START, at


def _history(project: Path) -> list[dict]:
    return [e.to_dict() for e in Project.load(project).runs()]


def _client(project: Path) -> MlflowClient:
    return MlflowClient(tracking_uri=f"sqlite:///{project / '.conveyor' / 'mlflow.db'}")


BATCH = """
batch:
  input: data/train.parquet
  output: scores/
  schedule: "0 * * * *"
  stage: dev
"""


def test_a_slot_runs_train_then_gate_once_and_is_recorded(
    project_dir: Path, schedule, schedulers, cli
) -> None:
    schedule(project_dir, train=HOURLY)
    scheduler, clock = schedulers(project_dir)
    assert scheduler.tick() == []  # 09:30: the 09:00 slot was before the first start
    clock.set(at("2026-12-01T10:00:30"))
    [outcome] = scheduler.tick()
    assert (outcome.pipeline, outcome.slot, outcome.trigger, outcome.status) == (
        "train", "2026-12-01T1000Z", "schedule", "succeeded")
    assert outcome.detail == "v1 passed the gate → dev"
    assert scheduler.tick() == []  # the slot is handled: never twice
    assert Project.load(project_dir).registry.version("churn", "1").aliases == ["dev"]

    [entry] = Project.load(project_dir).runs()
    assert (entry.pipeline, entry.status, entry.attempts, entry.start) == ("train", "succeeded", 2, clock.now())  # train + gate
    trained = _client(project_dir).get_run(entry.job_run_id)
    assert trained.data.tags[tags.PIPELINE] == "train"  # the training run the job made
    log = _client(project_dir).download_artifacts(entry.run_id, LOG_FILE)
    assert "train: attempt 1 of 3" in Path(log).read_text() and '"job": "gate"' in Path(log).read_text()

    result = cli("runs", "--project", str(project_dir), "--json")
    assert result.exit_code == 0, result.output
    [shown] = json.loads(result.output)["runs"]
    assert {k: shown[k] for k in ("pipeline", "trigger", "slot", "status", "job_run_id")} == {
        "pipeline": "train", "trigger": "schedule", "slot": "2026-12-01T1000Z", "status": "succeeded",
        "job_run_id": entry.job_run_id}
    assert shown["duration_s"] == 0.0 and shown["log"].endswith(f"/{LOG_FILE}")
    table = cli("runs", "--project", str(project_dir))
    assert "succeeded" in table.output and "train" in table.output


@pytest.mark.parametrize(("policy", "expected"), [
    ("latest", [("batch", "2026-12-01T1300Z", "catch-up", "succeeded")]),
    ("skip", [("batch", "2026-12-01T1300Z", "catch-up", "skipped")]),
    ("all", [("batch", f"2026-12-01T{h}00Z", "catch-up", "succeeded") for h in (11, 12, 13)]),
])
def test_missed_slots_after_downtime_follow_the_catch_up_policy(
    trained: Path, schedule, schedulers, policy: str, expected: list[tuple[str, ...]]
) -> None:
    schedule(trained, extra=BATCH + f"scheduler:\n  catch_up: {policy}\n  grace_s: 300\n")
    first, clock = schedulers(trained)
    clock.set(at("2026-12-01T10:00:10"))
    assert [o.status for o in first.tick()] == ["succeeded"]
    first.stop()  # down from 10:00 until 13:20: 11:00, 12:00 and 13:00 are missed

    again, _ = schedulers(trained, at=at("2026-12-01T13:20"))
    again.tick()
    assert again.tick() == []  # whatever the policy did is recorded: never twice
    rows = [(e["pipeline"], e["slot"], e["trigger"], e["status"]) for e in reversed(_history(trained))]
    assert rows == [("batch", "2026-12-01T1000Z", "schedule", "succeeded"), *expected]
    ran = sorted(p.name for p in (trained / "scores").iterdir())
    assert ran == ["slot=2026-12-01T1000Z", *[f"slot={e[1]}" for e in expected if e[3] == "succeeded"]]


def test_each_batch_slot_writes_its_own_partition_and_a_rerun_resumes_it(
    trained: Path, schedule, schedulers
) -> None:
    from conveyor.jobs import run_job
    from conveyor.lifecycle.progress import SilentReporter
    from conveyor.scheduling.pipelines import first_spec
    from conveyor.scheduling.slots import Slot

    schedule(trained, extra=BATCH.replace("output: scores/", "output: scores/date={date}/{slot}"))
    scheduler, clock = schedulers(trained)
    for hour in ("10", "11"):
        clock.set(at(f"2026-12-01T{hour}:00:05"))
        assert [o.status for o in scheduler.tick()] == ["succeeded"]
    day = trained / "scores" / "date=2026-12-01"
    assert sorted(p.name for p in day.iterdir()) == ["2026-12-01T1000Z", "2026-12-01T1100Z"]
    assert all((p / "_manifest.json").exists() for p in day.iterdir())

    project = Project.load(trained)
    spec = first_spec("batch", Slot(at("2026-12-01T10:00")), project.loaded)
    assert spec.output == str(day / "2026-12-01T1000Z") and spec.resume
    again = run_job(spec, project.lifecycle, SilentReporter())
    assert again.ok and again.result["already_committed"] is True


def test_a_pipeline_run_still_going_elsewhere_makes_the_slot_wait(project_dir: Path, schedule, schedulers) -> None:
    schedule(project_dir, train=HOURLY)
    scheduler, clock = schedulers(project_dir)
    clock.set(at("2026-12-01T10:00:30"))
    leases = Leases(Project.load(project_dir).stack.artifact_store)
    other = leases.acquire(f"{scheduler.lease_name}/train", clock.now(), 300, "a train run elsewhere")
    assert scheduler.tick() == []
    assert _history(project_dir) == []  # nothing started, nothing recorded
    other.release()
    assert [o.slot for o in scheduler.tick()] == ["2026-12-01T1000Z"]  # once, when free
    assert scheduler.tick() == []


def test_a_second_scheduler_on_the_project_refuses_or_waits(
    project_dir: Path, schedule, schedulers, cli
) -> None:
    schedule(project_dir, train=HOURLY)
    # the command below reads real time: the first scheduler's lease must not have expired by it
    first, clock = schedulers(project_dir, at=datetime.now(UTC))
    with pytest.raises(SchedulerBusyError, match="another scheduler runs churn here: the scheduler of churn"):
        Project.load(project_dir).scheduler(clock=ManualClock(clock.now())).start()
    result = cli("scheduler", "--once", "--project", str(project_dir))
    assert result.exit_code == 1
    assert "error: another scheduler runs churn here" in result.output and "nothing was started" in result.output
    assert "--wait" in result.output and "Traceback" not in result.output
    assert _history(project_dir) == []

    class StopsTheFirst(ManualClock):  # the first scheduler stops while the second waits
        def sleep(self, seconds: float) -> None:
            super().sleep(seconds)
            first.stop()

    waiting = Project.load(project_dir).scheduler(clock=StopsTheFirst(clock.now()))
    waiting.start(wait=True)
    try:
        assert Leases(Project.load(project_dir).stack.artifact_store).holder(waiting.lease_name).token == waiting._lease.token  # type: ignore[union-attr]
    finally:
        waiting.stop()


class AppearsOnRetry(ManualClock):
    """A clock whose n-th wait (a retry's backoff) puts the batch input in place."""

    def __init__(self, start: datetime, source: Path, target: Path, on_wait: int) -> None:
        super().__init__(start)
        self.source, self.target, self.on_wait = source, target, on_wait

    def sleep(self, seconds: float) -> None:
        super().sleep(seconds)
        if len(self.slept) == self.on_wait:
            self.target.write_bytes(self.source.read_bytes())


def test_a_failing_step_is_retried_with_backoff(trained: Path, schedule, schedulers) -> None:
    schedule(trained, extra=BATCH.replace("data/train.parquet", "data/today.parquet")
             + "scheduler:\n  retries: 3\n  backoff_s: 10\n")
    clock = AppearsOnRetry(START, trained / "data/train.parquet", trained / "data/today.parquet", on_wait=2)
    scheduler, _ = schedulers(trained, clock=clock)
    clock.set(at("2026-12-01T10:00:00"))
    [outcome] = scheduler.tick()
    assert (outcome.status, outcome.attempts) == ("succeeded", 3)
    assert clock.slept == [10, 20]  # doubled each time
    [entry] = Project.load(trained).runs()
    log = Path(_client(trained).download_artifacts(entry.run_id, LOG_FILE)).read_text()
    assert log.count('"ok": false') == 2 and "retrying in 10s" in log and "retrying in 20s" in log


def test_a_step_that_keeps_failing_is_marked_failed_and_the_next_slot_still_runs(
    trained: Path, schedule, schedulers
) -> None:
    schedule(trained, extra=BATCH.replace("data/train.parquet", "data/today.parquet")
             + "scheduler:\n  retries: 1\n  backoff_s: 5\n")
    scheduler, clock = schedulers(trained)
    clock.set(at("2026-12-01T10:00:00"))
    [failed] = scheduler.tick()
    assert (failed.status, failed.attempts) == ("failed", 2)
    assert failed.detail.startswith("score: ") and "today.parquet" in failed.detail
    assert clock.slept == [5]
    (trained / "data/today.parquet").write_bytes((trained / "data/train.parquet").read_bytes())
    clock.set(at("2026-12-01T11:00:00"))
    [next_slot] = scheduler.tick()
    assert (next_slot.slot, next_slot.status) == ("2026-12-01T1100Z", "succeeded")
    statuses = [(e["slot"], e["status"]) for e in _history(trained)]
    assert statuses == [("2026-12-01T1100Z", "succeeded"), ("2026-12-01T1000Z", "failed")]
    mlflow_status = {r.data.tags[tags.RUN_SLOT]: r.info.status for r in _client(trained).search_runs(
        [_client(trained).get_experiment_by_name("churn-runs").experiment_id])}
    assert mlflow_status == {"2026-12-01T1100Z": "FINISHED", "2026-12-01T1000Z": "FAILED"}


def test_a_drift_outcome_of_monitor_starts_a_retrain_run(trained: Path, schedule, schedulers) -> None:
    generate_example_data(trained, rows=2000, seed=8, drift=1.0, out=Path("data/drifted.parquet"))
    schedule(trained, extra='monitor:\n  data: data/drifted.parquet\n  schedule: "0 * * * *"\n'
             "  on_drift: [retrain]\n  retrain: {data: both}\n")  # fresh rows: the same data is not retrained
    scheduler, clock = schedulers(trained)
    clock.set(at("2026-12-01T10:00:00"))
    monitored, retrained = scheduler.tick()
    assert (monitored.pipeline, monitored.status) == ("monitor", "succeeded")
    assert monitored.detail.startswith("v1: drift: data, prediction — data: 5 of 7 features drifted")  # the verdict says why
    assert (retrained.pipeline, retrained.trigger, retrained.slot) == ("retrain", "drift", "2026-12-01T1000Z")
    assert retrained.status == "succeeded" and "v2 passed the gate → dev" in retrained.detail
    v2 = Project.load(trained).registry.version("churn", "2")
    assert v2.aliases == ["dev"]  # the first stage only: monitor.auto_promote is off
    monitoring_run = next(e for e in Project.load(trained).runs() if e.pipeline == "monitor").job_run_id
    client = _client(trained)
    assert client.get_run(v2.run_id).data.tags[tags.TRIGGER_RUN_ID] == monitoring_run
    assert client.get_run(monitoring_run).data.tags[tags.RETRAIN_VERSION] == "2"


def test_a_project_without_schedules_is_refused(project_dir: Path, cli) -> None:
    result = cli("scheduler", "--once", "--project", str(project_dir))
    assert result.exit_code == 2
    assert "churn has no scheduled pipeline" in result.output and "train.schedule" in result.output


def test_runs_of_a_model_never_scheduled_is_empty(project_dir: Path, cli) -> None:
    result = cli("runs", "--project", str(project_dir), "--json")
    assert result.exit_code == 0 and json.loads(result.output) == {"model": "churn", "runs": []}


def test_the_scheduler_never_reruns_a_slot_across_restarts(project_dir: Path, schedule, schedulers) -> None:
    schedule(project_dir, train=HOURLY)
    first, clock = schedulers(project_dir)
    clock.set(at("2026-12-01T10:00:30"))
    assert len(first.tick()) == 1
    first.stop()
    again, _ = schedulers(project_dir, at=at("2026-12-01T10:02"))  # within the grace: same slot
    assert again.tick() == []
    assert [e["slot"] for e in _history(project_dir)] == ["2026-12-01T1000Z"]
    assert timedelta(0) <= at("2026-12-01T10:02") - START


def test_a_scheduler_whose_lease_was_taken_over_stops(project_dir: Path, schedule, schedulers) -> None:
    schedule(project_dir, train=HOURLY)
    scheduler, clock = schedulers(project_dir)
    leases = Leases(Project.load(project_dir).stack.artifact_store)
    # it stalled past lease_s (300 s) without renewing: another scheduler took the lease over
    leases.acquire(scheduler.lease_name, START + timedelta(seconds=301), 300, "the scheduler of churn, elsewhere")
    clock.set(at("2026-12-01T10:00:30"))
    with pytest.raises(SchedulerBusyError, match="was taken over by another scheduler"):
        scheduler.tick()
    assert _history(project_dir) == []


def test_the_loop_waits_until_the_next_slot(project_dir: Path, schedule, schedulers) -> None:
    schedule(project_dir, train='"*/5 * * * *"')
    scheduler, clock = schedulers(project_dir, at=at("2026-12-01T09:31:30"))
    assert scheduler.wait_s() == 210.0 - 150.0  # capped at a minute: the loop plans again
    clock.set(at("2026-12-01T09:34:40"))
    assert scheduler.wait_s() == 20.0


def test_the_command_runs_what_is_due_once(trained: Path, schedule, cli) -> None:
    schedule(trained, extra=BATCH.replace('schedule: "0 * * * *"', 'schedule: "* * * * *"'))
    project = Project.load(trained)
    project.history().since(datetime.now(UTC) - timedelta(hours=1))  # a scheduler ran here before
    result = cli("scheduler", "--once", "--project", str(trained))
    assert result.exit_code == 0, result.output
    assert "scheduler of churn: batch (* * * * *), times in UTC" in result.output
    entries = Project.load(trained).runs()
    [ran] = [e for e in entries if e.status == "succeeded"]
    assert ran.pipeline == "batch" and ran.trigger == "schedule" and ran.slot in result.output
    # the slots of the hour before, past the grace: recorded as skipped (catch_up: latest)
    assert [e.status for e in entries if e is not ran] == ["skipped"]


def test_a_gate_that_refuses_the_candidate_is_an_outcome_not_retried(
    project_dir: Path, schedule, schedulers, edit_config
) -> None:
    schedule(project_dir, train=HOURLY)
    edit_config(project_dir, 'roc_auc: ">= 0.80"', 'roc_auc: ">= 0.9999"')
    scheduler, clock = schedulers(project_dir)
    clock.set(at("2026-12-01T10:00:30"))
    [outcome] = scheduler.tick()
    assert (outcome.status, outcome.attempts) == ("rejected", 2)  # train once, gate once
    assert outcome.detail.startswith("gate: ") and "quality gate" in outcome.detail
    assert clock.slept == []
    assert Project.load(project_dir).registry.version("churn", "1").aliases == []


def test_a_round_that_fails_does_not_end_the_loop(project_dir: Path, schedule, schedulers) -> None:
    schedule(project_dir, train=HOURLY)
    blocker = Path(Project.load(project_dir).stack.artifact_store) / "leases" / "scheduler" / "churn"
    notes: list[str] = []

    class Rounds(ManualClock):  # the first wait clears the fault, the second ends the loop
        def sleep(self, seconds: float) -> None:
            super().sleep(seconds)
            if len(self.slept) == 1:
                blocker.unlink()
            else:
                raise KeyboardInterrupt

    scheduler, clock = schedulers(project_dir, clock=Rounds(START))
    scheduler.notify = notes.append
    blocker.write_text("a file where the pipeline leases' folder belongs")
    clock.set(at("2026-12-01T10:00:30"))
    with pytest.raises(KeyboardInterrupt):
        scheduler.serve()
    assert any(n.startswith("this round stopped early: ") for n in notes)
    assert [(e["slot"], e["status"]) for e in _history(project_dir)] == [("2026-12-01T1000Z", "succeeded")]
