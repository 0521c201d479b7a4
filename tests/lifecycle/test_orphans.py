"""No orphaned runs: a killed `conveyor train` leaves a run the next command marks KILLED, and
SIGTERM / Ctrl-C end the run KILLED before the process exits (real MLflow, real processes).

The user's train function blocks on a pipe the test holds: it says "started" on one pipe and
waits on another, so the test kills it mid-run without any sleep or timing."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from mlflow import MlflowClient

from conveyor.core import tags
from conveyor.core.errors import ExitCode
from conveyor.lifecycle.orphans import OWNER_GONE, owner_tags, reap_orphans
from conveyor.stack.processes import ProcessId, pid_alive

BLOCKING_TRAIN = '''
import os

def train(X, y, params):
    """Says it started, then waits until the test writes (or is killed first)."""
    os.write(int(os.environ["TRAIN_STARTED_FD"]), b"x")
    os.read(int(os.environ["TRAIN_RELEASE_FD"]), 1)
    raise RuntimeError("released: this test never lets training finish")
'''


def _client(project: Path) -> MlflowClient:
    return MlflowClient(tracking_uri=f"sqlite:///{project / '.conveyor' / 'mlflow.db'}")


def _runs(project: Path) -> list:
    client = _client(project)
    experiment = client.get_experiment_by_name("churn")
    return [] if experiment is None else client.search_runs([experiment.experiment_id])


@contextmanager
def _training(project: Path, edit_config) -> Iterator[subprocess.Popen[bytes]]:
    """`conveyor train` in a subprocess, yielded once its user train function is running."""
    (project / "blocking.py").write_text(BLOCKING_TRAIN)
    edit_config(project, "entrypoint: train.py:train", "entrypoint: blocking.py:train")
    started_r, started_w = os.pipe()
    release_r, release_w = os.pipe()
    env = {**os.environ, "TRAIN_STARTED_FD": str(started_w), "TRAIN_RELEASE_FD": str(release_r)}
    env.pop("MLFLOW_TRACKING_URI", None)
    process = subprocess.Popen(
        [sys.executable, "-m", "conveyor", "train", "--project", str(project)],
        env=env, pass_fds=(started_w, release_r), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )
    os.close(started_w)
    os.close(release_r)
    try:
        said = os.read(started_r, 1)  # b"" if the process ended before training started
        assert said == b"x", process.communicate()[0].decode()[-3000:]
        yield process
    finally:
        os.close(started_r)
        os.close(release_w)
        if process.poll() is None:
            process.kill()
        process.wait()


def test_a_killed_train_leaves_a_run_the_next_command_marks_killed(project_dir: Path, edit_config, cli) -> None:
    with _training(project_dir, edit_config) as process:
        [run] = _runs(project_dir)
        assert run.info.status == "RUNNING"
        assert run.data.tags[tags.OWNER_PID] == str(process.pid)
        process.send_signal(signal.SIGKILL)
        assert process.wait() == -signal.SIGKILL
    assert _runs(project_dir)[0].info.status == "RUNNING"  # nothing closed it on the way out

    result = cli("models", "--project", str(project_dir))  # any command (no version yet: exit 1)
    assert f"run {run.info.run_id} was left RUNNING by process {process.pid}" in result.output
    assert "marked it KILLED" in result.output
    [after] = _runs(project_dir)
    assert after.info.status == "KILLED" and after.data.tags[tags.ENDED_BY] == OWNER_GONE

    again = cli("models", "--project", str(project_dir))  # said once: the run is closed now
    assert "marked it KILLED" not in again.output


@pytest.mark.parametrize(("signum", "code", "ended_by"), [
    (signal.SIGTERM, ExitCode.TERMINATED, "SIGTERM"),
    (signal.SIGINT, ExitCode.INTERRUPTED, "SIGINT"),  # Ctrl-C
])
def test_a_signal_ends_the_run_killed_and_exits_with_its_code(
    project_dir: Path, edit_config, signum: int, code: int, ended_by: str
) -> None:
    with _training(project_dir, edit_config) as process:
        process.send_signal(signum)
        assert process.wait() == code, process.communicate()[0].decode()[-3000:]
    [run] = _runs(project_dir)
    assert run.info.status == "KILLED" and run.data.tags[tags.ENDED_BY] == ended_by


def _ended_process() -> ProcessId:
    """The identity of a process that has run and ended."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    owner = ProcessId(ProcessId.current().host, child.pid, "")
    child.wait()
    return owner


def test_only_runs_whose_owner_is_gone_on_this_host_are_reaped(project_dir: Path) -> None:
    client = _client(project_dir)
    experiment = client.create_experiment("churn")
    me = ProcessId.current()
    gone = _ended_process()
    assert not pid_alive(gone.pid)
    runs = {
        "live": owner_tags(me),
        "gone": owner_tags(gone),
        "reused": owner_tags(ProcessId(me.host, me.pid, "1")),  # this PID, another start time
        "elsewhere": owner_tags(ProcessId("another-host", gone.pid, "")),
        "untagged": {},
    }
    ids = {name: client.create_run(experiment, tags=t).info.run_id for name, t in runs.items()}
    reaped = reap_orphans(client, "churn")
    assert {r.run_id for r in reaped} == {ids["gone"], ids["reused"]}
    status = {name: client.get_run(run_id).info.status for name, run_id in ids.items()}
    assert status == {"live": "RUNNING", "gone": "KILLED", "reused": "KILLED",
                      "elsewhere": "RUNNING", "untagged": "RUNNING"}
    assert reap_orphans(client, "churn") == []
