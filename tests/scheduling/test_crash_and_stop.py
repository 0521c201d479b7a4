"""A real scheduler process stopped in the middle of a step: killed (``kill -9``: its lease
expires, the next scheduler marks the run killed and the next slot runs) or sent SIGTERM
(the run is marked interrupted, the leases are given back, exit 143).

The user's train function blocks on a pipe the test holds, so the test acts while the step
runs, with no sleep or timing."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from mlflow import MlflowClient

from conveyor.app import Project
from conveyor.core import tags
from conveyor.core.errors import ExitCode
from conveyor.scaffold import generate_example_data
from conveyor.stack.leases import Leases
from tests.scheduling.conftest import HOURLY, START, at

BLOCKING_TRAIN = '''
import os

def train(X, y, params):
    """Says it started, then waits until the test writes (or is killed first)."""
    os.write(int(os.environ["TRAIN_STARTED_FD"]), b"x")
    os.read(int(os.environ["TRAIN_RELEASE_FD"]), 1)
    raise RuntimeError("released: this test never lets training finish")
'''
SCRIPT = Path(__file__).with_name("scheduler_process.py")
SLOT = at("2026-12-01T10:00:30")


@contextmanager
def _scheduler_in_a_step(project: Path, edit_config, steps: int = 1) -> Iterator[subprocess.Popen[bytes]]:
    """A scheduler process, yielded once ``steps`` training steps of the 10:00 slot run (the
    train pipeline's; with 2, the retrain's too)."""
    (project / "blocking.py").write_text(BLOCKING_TRAIN)
    edit_config(project, "entrypoint: train.py:train", "entrypoint: blocking.py:train")
    started_r, started_w = os.pipe()
    release_r, release_w = os.pipe()
    env = {**os.environ, "TRAIN_STARTED_FD": str(started_w), "TRAIN_RELEASE_FD": str(release_r)}
    env.pop("MLFLOW_TRACKING_URI", None)
    root = str(Path(__file__).parents[2])
    env["PYTHONPATH"] = os.pathsep.join([root, env.get("PYTHONPATH", "")])
    process = subprocess.Popen(
        [sys.executable, str(SCRIPT), str(project), START.isoformat(), SLOT.isoformat()],
        env=env, pass_fds=(started_w, release_r), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )
    os.close(started_w)
    os.close(release_r)
    try:
        for _ in range(steps):
            said = os.read(started_r, 1)  # b"" if the process ended before training started
            assert said == b"x", process.communicate()[0].decode()[-3000:]
        edit_config(project, "entrypoint: blocking.py:train", "entrypoint: train.py:train")
        yield process
    finally:
        os.close(started_r)
        os.close(release_w)
        if process.poll() is None:
            process.kill()
        process.wait()


def _history(project: Path) -> list[tuple[str, str, str]]:
    return [(e.pipeline, e.slot, e.status) for e in Project.load(project).runs()]


def _mlflow_status(project: Path, run_id: str) -> str:
    client = MlflowClient(tracking_uri=f"sqlite:///{project / '.conveyor' / 'mlflow.db'}")
    return str(client.get_run(run_id).info.status)


def test_a_killed_scheduler_leaves_a_run_the_next_one_marks_killed_and_the_next_slot_runs(
    project_dir: Path, schedule, schedulers, edit_config
) -> None:
    schedule(project_dir, train=HOURLY)
    leases = Leases(Project.load(project_dir).stack.artifact_store)
    with _scheduler_in_a_step(project_dir, edit_config) as process:
        assert _history(project_dir) == [("train", "2026-12-01T1000Z", "running")]
        process.send_signal(signal.SIGKILL)
        assert process.wait() == -signal.SIGKILL
    # what it held is still there, expiring lease_s (300 s) after its last renewal
    left = leases.holder("scheduler/churn/train")
    assert left is not None and left.owner.pid == process.pid
    assert left.expires <= at("2026-12-01T10:05:30") and left.takeable(at("2026-12-01T10:06"))
    [running] = Project.load(project_dir).runs()
    assert running.status == "running"

    scheduler, clock = schedulers(project_dir, at=at("2026-12-01T10:06"))  # takes both leases over
    [killed] = Project.load(project_dir).runs()
    assert (killed.status, _mlflow_status(project_dir, killed.run_id)) == ("killed", "KILLED")
    assert f"process {process.pid}" in killed.detail
    assert scheduler.tick() == []  # the killed slot counts as handled: it is not run twice
    clock.set(at("2026-12-01T11:00:10"))
    [outcome] = scheduler.tick()
    assert (outcome.slot, outcome.status) == ("2026-12-01T1100Z", "succeeded")
    assert _history(project_dir) == [("train", "2026-12-01T1100Z", "succeeded"),
                                     ("train", "2026-12-01T1000Z", "killed")]


def test_sigterm_marks_every_running_pipeline_interrupted_and_gives_the_leases_back(
    trained: Path, schedule, edit_config
) -> None:
    """train and retrain (monitor's drift asked for it) in their steps side by side: both
    marked interrupted, their training runs KILLED by SIGTERM; the monitor run had ended."""
    generate_example_data(trained, rows=2000, seed=8, drift=1.0, out=Path("data/drifted.parquet"))
    schedule(trained, train=HOURLY, extra='monitor:\n  data: data/drifted.parquet\n  schedule: "0 * * * *"\n'
             "  on_drift: [retrain]\n  retrain: {data: both}\n")
    with _scheduler_in_a_step(trained, edit_config, steps=2) as process:
        process.send_signal(signal.SIGTERM)
        assert process.wait() == ExitCode.TERMINATED, process.communicate()[0].decode()[-3000:]
    entries = {e.pipeline: e for e in Project.load(trained).runs()}
    assert {p: e.status for p, e in entries.items()} == {
        "train": "interrupted", "monitor": "succeeded", "retrain": "interrupted"}
    for pipeline in ("train", "retrain"):
        assert _mlflow_status(trained, entries[pipeline].run_id) == "KILLED"
        assert "stopped (SIGTERM or Ctrl-C) during the run" in entries[pipeline].detail
    leases = Leases(Project.load(trained).stack.artifact_store)
    assert [leases.holder(f"scheduler/churn{p}") for p in ("", "/train", "/monitor", "/retrain")] == [None] * 4
    client = MlflowClient(tracking_uri=f"sqlite:///{trained / '.conveyor' / 'mlflow.db'}")
    runs = client.search_runs([client.get_experiment_by_name("churn").experiment_id], order_by=["attributes.start_time"])
    assert [(r.info.status, r.data.tags.get(tags.ENDED_BY)) for r in runs] == [
        ("FINISHED", None), ("KILLED", "SIGTERM"), ("KILLED", "SIGTERM")]  # v1's, then train's and retrain's


def test_the_command_stops_cleanly_on_sigterm_while_it_waits(project_dir: Path, schedule) -> None:
    schedule(project_dir, train='"0 3 1 1 *"')  # not due during the test
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    process = subprocess.Popen(
        [sys.executable, "-m", "conveyor", "scheduler", "--project", str(project_dir)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )
    try:
        assert process.stdout is not None
        first = process.stdout.readline().decode()  # printed once it holds the lease
        assert "scheduler of churn: train (0 3 1 1 *), times in UTC" in first, first + process.communicate()[0].decode()
        leases = Leases(Project.load(project_dir).stack.artifact_store)
        assert leases.holder("scheduler/churn") is not None
        process.send_signal(signal.SIGTERM)
        assert process.wait() == ExitCode.TERMINATED
    finally:
        if process.poll() is None:
            process.kill()
        process.wait()
    assert leases.holder("scheduler/churn") is None
    assert Project.load(project_dir).runs() == []
