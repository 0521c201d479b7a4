"""Canaries' state in the artifact store: what a start refuses before it touches anything,
and a rollout whose process is gone."""

from __future__ import annotations

import pytest

from conveyor.core.config.schema import RolloutSpec
from conveyor.dashboard.canary import Canaries
from conveyor.lifecycle.audit import AuditLog
from conveyor.serving.errors import Conflict, InvalidInput
from conveyor.stack.artifacts import ArtifactStore


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
