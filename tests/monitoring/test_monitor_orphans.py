"""A killed `conveyor monitor` leaves no RUNNING run after the next command (real processes,
SIGKILL at an injected point: no clean-up code runs)."""

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from mlflow import MlflowClient

from conveyor.core import tags
from conveyor.lifecycle.orphans import OWNER_GONE
from conveyor.monitoring.monitor import KILL_AT, KILL_POINTS
from conveyor.scaffold import generate_example_data


def _monitoring_runs(project: Path) -> list:
    client = MlflowClient(tracking_uri=f"sqlite:///{project / '.conveyor' / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("churn-monitoring")
    return [] if experiment is None else client.search_runs([experiment.experiment_id])


@pytest.mark.parametrize("point", KILL_POINTS)
def test_a_killed_monitor_leaves_a_run_the_next_command_marks_killed(fresh_trained_project, cli, point):
    folder = fresh_trained_project
    batch = generate_example_data(folder, rows=500, seed=9, drift=0.0, out=Path("data/batch.parquet"))
    env = {**os.environ, KILL_AT: point}
    env.pop("MLFLOW_TRACKING_URI", None)
    process = subprocess.Popen(
        [sys.executable, "-m", "conveyor", "monitor", "--project", str(folder), "--data", str(batch)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    output, _ = process.communicate()
    assert process.returncode == -signal.SIGKILL, output
    [run] = _monitoring_runs(folder)
    assert run.info.status == "RUNNING"
    assert run.data.tags[tags.OWNER_PID] == str(process.pid)  # named by its owner tags

    result = cli("models", "--project", str(folder))
    assert f"run {run.info.run_id} was left RUNNING" in result.output and "marked it KILLED" in result.output
    [after] = _monitoring_runs(folder)
    assert after.info.status == "KILLED" and after.data.tags[tags.ENDED_BY] == OWNER_GONE


def test_an_error_ends_the_monitoring_run_failed(fresh_trained_project, monkeypatch):
    from conveyor.app import Project
    from conveyor.monitoring import monitor

    folder = fresh_trained_project
    batch = generate_example_data(folder, rows=500, seed=9, drift=0.0, out=Path("data/batch.parquet"))

    def broken(*args, **kwargs):
        raise RuntimeError("the report could not be rendered")

    monkeypatch.setattr(monitor, "render_html", broken)
    with pytest.raises(RuntimeError):
        monitor.run_monitor(Project.load(folder).lifecycle, data=batch)
    [run] = _monitoring_runs(folder)
    assert run.info.status == "FAILED"
