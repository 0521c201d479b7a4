"""Canaries' state in the artifact store: what a start refuses before it touches anything,
and a rollout whose process is gone."""

from __future__ import annotations

import pytest

from conveyor.core.config.schema import RolloutSpec
from conveyor.dashboard.canary import Canaries
from conveyor.lifecycle.audit import AuditLog
from conveyor.serving.errors import BadGateway, Conflict, InvalidInput
from conveyor.stack.artifacts import ArtifactStore
from tests.dashboard.conftest import wait_for

API = "/ui/api/models/churn"


@pytest.fixture
def canaries(tmp_path) -> Canaries:
    store = ArtifactStore(str(tmp_path / "artifacts"))
    return Canaries(store, AuditLog(store), RolloutSpec())


@pytest.mark.parametrize(("candidate", "steps", "interval", "says"), [
    ("", "10,50", "5m", "name the candidate"),
    ("staging", "50,10", "5m", "must rise"),
    ("staging", "10,abc", "5m", "not a list of percentages"),
    ("staging", "10,50", "soon", "not a duration"),
])
def test_a_start_with_bad_settings_is_refused_and_writes_nothing(canaries, candidate, steps, interval, says):
    with pytest.raises(InvalidInput, match=says):
        canaries.start("churn", candidate, steps, interval, "http://127.0.0.1:9", None, "token:x")
    assert canaries.state("churn") is None


def test_a_rollout_whose_process_is_gone_reads_as_interrupted_and_does_not_block_the_next(canaries):
    canaries.artifacts.replace_json("serving/churn/canary.json", {
        "state": "running", "candidate": "staging", "owner": {"host": _host(), "pid": 2**22 + 7, "started": ""}})
    state = canaries.state("churn")
    assert state is not None and state["state"] == "interrupted"
    with pytest.raises(Conflict, match="no canary is running"):
        canaries.stop("churn", "token:x")


def test_a_running_rollout_of_a_live_process_blocks_a_second_one(canaries):
    import os

    canaries.artifacts.replace_json("serving/churn/canary.json", {
        "state": "running", "candidate": "staging", "owner": {"host": _host(), "pid": os.getpid(), "started": ""}})
    with pytest.raises(Conflict, match="is running"):
        canaries.start("churn", "v3", "10,50", "5m", "http://127.0.0.1:9", None, "token:x")
    assert canaries.stop("churn", "token:x")["stop_requested_by"] == "token:x"


def _host() -> str:
    import socket

    return socket.gethostname()


def test_an_interrupted_rollout_that_does_not_say_its_weights_is_neither_resumed_nor_stopped(canaries):
    canaries.artifacts.replace_json("serving/churn/canary.json", {  # as stored before weights_before was
        "state": "running", "candidate": "staging", "owner": {"host": _host(), "pid": 2**22 + 7, "started": ""}})
    with pytest.raises(Conflict, match="does not say the weights"):
        canaries.resume("churn", "http://127.0.0.1:9", None, "token:x")
    with pytest.raises(Conflict, match="does not say the weights"):
        canaries.stop("churn", "token:x", "http://127.0.0.1:9", None)
    assert canaries.state("churn")["state"] == "interrupted"  # nothing written


def test_nothing_to_resume_is_a_409(canaries):
    with pytest.raises(Conflict, match="no interrupted canary"):
        canaries.resume("churn", "http://127.0.0.1:9", None, "token:x")


def test_a_canary_whose_dashboard_process_died_is_interrupted_then_resumed_and_stopped(served):
    """`conveyor ui` (a process of its own) starts a canary and is killed mid-step: the
    serving worker's dashboard shows it interrupted with the traffic as it was left, resumes
    it from that step, and a stop restores the weights from before the first start."""
    import os
    import signal
    import subprocess
    import sys

    from tests.dashboard.test_api import httpx_client
    from tests.serving.conftest import free_port

    running = served()
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("MLFLOW_TRACKING_URI", "CONVEYOR_ENV")}
    ui = subprocess.Popen([sys.executable, "-m", "conveyor", "ui", "--port", str(port), "--project",
                           str(running.project.path), "--server", running.url],
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    try:
        assert ui.stdout is not None
        for line in ui.stdout:
            if "Application startup complete" in line:
                break
        with httpx_client(f"http://127.0.0.1:{port}", "deploy-token") as http:
            started = http.post(f"{API}/canary", json={"to": "staging", "steps": "50,100", "interval": "1h"})
            assert started.status_code == 202, started.text
            assert started.json()["weights_before"] == {"prod": 90.0, "staging": 10.0}
        with running.client("deploy-token") as http:
            wait_for(lambda: http.get("/admin/models/churn").json()["weights"] == {"prod": 50.0, "staging": 50.0})
    finally:
        ui.send_signal(signal.SIGKILL)
        ui.wait(timeout=30)

    with running.client("deploy-token") as http:
        canary = http.get(f"{API}/endpoint").json()["canary"]
        assert canary["state"] == "interrupted" and "resume it" in canary["reason"]
        assert http.get("/admin/models/churn").json()["weights"] == {"prod": 50.0, "staging": 50.0}  # as left
        page = http.get("/ui/models/churn/endpoint").text
        assert 'id="canary-resume"' in page
        resumed = http.post(f"{API}/canary/resume", headers={"content-type": "application/json"})
        assert resumed.status_code == 202, resumed.text
        assert resumed.json()["remaining"] == [50.0, 100.0] and resumed.json()["resumed_by"] == "token:release"
        assert http.get(f"{API}/endpoint").json()["canary"]["state"] == "running"
        again = http.post(f"{API}/canary/resume", headers={"content-type": "application/json"})
        assert again.status_code == 409
        assert http.delete(f"{API}/canary", headers={"content-type": "application/json"}).status_code == 200
        wait_for(lambda: http.get(f"{API}/endpoint").json()["canary"]["state"] == "stopped")
        assert http.get("/admin/models/churn").json()["weights"] == {"prod": 90.0, "staging": 10.0}

        # interrupted again (the state as a gone process leaves it), then stopped at once
        state = running.project.artifacts.read_json("serving/churn/canary.json")
        state.update(state="running", owner={"host": _host(), "pid": 2**22 + 7, "started": ""})
        running.project.artifacts.replace_json("serving/churn/canary.json", state)
        http.put("/admin/models/churn/traffic", json={"weights": {"prod": 50, "staging": 50}})
        stopped = http.delete(f"{API}/canary", headers={"content-type": "application/json"})
        assert stopped.status_code == 200 and stopped.json()["state"] == "stopped"
        assert http.get("/admin/models/churn").json()["weights"] == {"prod": 90.0, "staging": 10.0}
    rollbacks = [e for e in running.project.audit() if e["action"] == "rollout-rollback"]
    assert [e["reason"].split(";")[0] for e in rollbacks] == [
        "stopped: by token:release", "stopped: by token:release (its process had stopped)"]


def test_while_the_canary_lease_is_held_a_start_resume_or_stop_is_a_409_and_writes_nothing(canaries):
    """Two workers asked to resume one interrupted rollout at once: the one that holds the
    model's canary lease goes on, the other is refused before it reads or writes anything."""
    from datetime import UTC, datetime

    stored = {"state": "running", "candidate": "staging", "steps": [10.0, 50.0], "interval_s": 60.0,
              "weights_before": {"prod": 100.0}, "owner": {"host": _host(), "pid": 2**22 + 7, "started": ""}}
    canaries.artifacts.replace_json("serving/churn/canary.json", stored)
    other = canaries.leases.acquire("canary/churn", datetime.now(UTC), 60.0, "a canary of churn")  # the other worker
    with pytest.raises(Conflict, match="being started, resumed or run"):
        canaries.resume("churn", "http://127.0.0.1:9", None, "token:x")
    with pytest.raises(Conflict, match="being started, resumed or run"):
        canaries.stop("churn", "token:x", "http://127.0.0.1:9", None)
    with pytest.raises(Conflict, match="being started, resumed or run"):
        canaries.start("churn", "v3", "10,50", "5m", "http://127.0.0.1:9", None, "token:x")
    assert canaries.artifacts.read_json("serving/churn/canary.json") == stored
    other.release()
    with pytest.raises(BadGateway):  # the lease is free: it gets as far as the server (none here)
        canaries.resume("churn", "http://127.0.0.1:9", None, "token:x")
    assert canaries.leases.holder("canary/churn") is None  # and gives the lease back when it fails
