"""Long-held leases in the artifact store (local folder and moto S3): one holder, renewal,
expiry by the caller's clock, and takeover from a holder process that is gone."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from conveyor.core.errors import LeaseHeld
from conveyor.stack.leases import Leases
from conveyor.stack.processes import ProcessId

NOW = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)


@pytest.fixture(params=["local", "s3"])
def leases(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Leases:
    if request.param == "local":
        return Leases(str(tmp_path / "artifacts"))
    options = request.getfixturevalue("s3")  # moto; s3fs finds it through the environment
    monkeypatch.setenv("AWS_ENDPOINT_URL", options["client_kwargs"]["endpoint_url"])
    return Leases(f"s3://lake/leases-{uuid.uuid4().hex[:8]}")


def test_one_holder_at_a_time_until_it_releases(leases: Leases) -> None:
    lease = leases.acquire("scheduler/churn", NOW, 60, "the scheduler of churn")
    with pytest.raises(LeaseHeld) as held:
        leases.acquire("scheduler/churn", NOW + timedelta(seconds=30), 60, "another")
    assert "the scheduler of churn (process" in held.value.description
    assert leases.acquire("scheduler/other", NOW, 60, "beside it").name == "scheduler/other"
    lease.release()
    assert leases.holder("scheduler/churn") is None
    leases.acquire("scheduler/churn", NOW, 60, "the next one")


def test_an_expired_lease_is_taken_over_and_its_old_holder_knows(leases: Leases) -> None:
    old = leases.acquire("scheduler/churn", NOW, 60, "first")
    assert old.renew(NOW + timedelta(seconds=50), 60)  # renewed: still ours at +100s
    with pytest.raises(LeaseHeld):
        leases.acquire("scheduler/churn", NOW + timedelta(seconds=100), 60, "second")
    new = leases.acquire("scheduler/churn", NOW + timedelta(seconds=111), 60, "second")
    assert not old.renew(NOW + timedelta(seconds=112), 60)  # lost: someone else holds it now
    old.release()  # not ours: left alone
    holder = leases.holder("scheduler/churn")
    assert holder is not None and holder.token == new.token and holder.label == "second"


def test_a_lease_whose_process_is_gone_is_taken_over_at_once(tmp_path: Path) -> None:
    leases = Leases(str(tmp_path / "artifacts"))
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    gone = ProcessId(ProcessId.current().host, child.pid, "")
    path = Path(leases.path("scheduler/churn"))
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"token": "t", "host": gone.host, "pid": gone.pid, "started": "",
                                "expires": (NOW + timedelta(hours=1)).timestamp(), "label": "crashed"}))
    lease = leases.acquire("scheduler/churn", NOW, 60, "after the crash")
    assert lease.label == "after the crash"


def test_a_live_holder_on_another_host_is_waited_for_until_expiry(tmp_path: Path) -> None:
    leases = Leases(str(tmp_path / "artifacts"))
    path = Path(leases.path("scheduler/churn"))
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"token": "t", "host": "elsewhere", "pid": 1, "started": "",
                                "expires": (NOW + timedelta(seconds=60)).timestamp(), "label": "remote"}))
    with pytest.raises(LeaseHeld):
        leases.acquire("scheduler/churn", NOW, 60, "here")
    leases.acquire("scheduler/churn", NOW + timedelta(seconds=60), 60, "here")
