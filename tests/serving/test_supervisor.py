"""Which store files the supervisor watches, and that a follower's first failure ends the
start with the follower's own exit code."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from conveyor.serving.supervisor import FollowerSpec, Supervisor, sqlite_files


def test_the_sqlite_store_files_are_watched_and_no_other_store_is() -> None:
    db = Path("/srv/p/.conveyor/mlflow.db")
    assert sqlite_files("sqlite:////srv/p/.conveyor/mlflow.db") == (
        db, db.with_name("mlflow.db-wal"), db.with_name("mlflow.db-journal"))
    assert sqlite_files("sqlite:///:memory:") == ()
    assert sqlite_files("postgresql://u@h/db") == ()
    assert sqlite_files("http://mlflow:5000") == ()


def test_a_first_sync_that_fails_exits_with_the_followers_code(tmp_path: Path) -> None:
    failing = [sys.executable, "-c", "import sys; sys.exit(5)"]
    supervisor = Supervisor(FollowerSpec(failing, (tmp_path / "mlflow.db",), 0.1, tmp_path / "state.json"))
    with pytest.raises(SystemExit) as stopped:
        supervisor.start()
    assert stopped.value.code == 5
    supervisor.stop()
