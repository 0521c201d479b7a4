"""The move lock on each store: exclusive, timing out with a clear error, never left behind by
a killed holder (the SQLite transaction and the advisory lock die with the process, a lease
expires)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from conveyor.core.errors import MoveLockTimeout
from conveyor.stack.locks import (
    LeaseMoveLock,
    MoveLock,
    PostgresMoveLock,
    SqliteMoveLock,
    libpq_uri,
    move_lock,
)
from conveyor.stack.resolve import Stack

HOLDER = r"""
import sys
from pathlib import Path
from conveyor.stack import locks
kind, where = sys.argv[1], sys.argv[2]
lock = {"sqlite": lambda: locks.SqliteMoveLock(Path(where)),
        "postgres": lambda: locks.PostgresMoveLock(where),
        "lease": lambda: locks.LeaseMoveLock(where, ttl_s=0)}[kind]()
with lock.hold("churn"):
    print("held", flush=True)
    sys.stdin.readline()
"""


@pytest.fixture(params=["sqlite", "postgres", "lease", "lease-s3"])
def store(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[str, str]]:
    if request.param == "sqlite":
        yield "sqlite", str(tmp_path / "mlflow.db.moves")
    elif request.param == "postgres":
        yield "postgres", request.getfixturevalue("postgres_uri")
    elif request.param == "lease":
        yield "lease", str(tmp_path / "artifacts")
    else:  # a lease on S3 (moto): the exclusive create is a put with If-None-Match: *
        options = request.getfixturevalue("s3")
        monkeypatch.setenv("AWS_ENDPOINT_URL", options["client_kwargs"]["endpoint_url"])
        yield "lease", f"s3://lake/{uuid.uuid4().hex[:8]}"


def make(kind: str, where: str, timeout_s: float) -> MoveLock:
    factories: dict[str, Callable[[], MoveLock]] = {
        "sqlite": lambda: SqliteMoveLock(Path(where), timeout_s),
        "postgres": lambda: PostgresMoveLock(where, timeout_s),
        "lease": lambda: LeaseMoveLock(where, timeout_s),
    }
    return factories[kind]()


def test_a_held_lock_times_out_with_a_clear_error(store: tuple[str, str]) -> None:
    kind, where = store
    first, second = make(kind, where, 5), make(kind, where, 0.2)
    with first.hold("churn"):
        with (pytest.raises(MoveLockTimeout, match="another promote, rollback or traffic change of 'churn'"),
              second.hold("churn")):
            pass
        with first.hold("churn"):  # re-entrant in the holding thread
            pass
    with second.hold("churn"):  # released
        pass


def test_a_killed_holder_leaves_no_lock_behind(store: tuple[str, str]) -> None:
    kind, where = store
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, kind, where],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait()
    with make(kind, where, 30).hold("churn"):
        pass


def test_holders_take_turns(store: tuple[str, str], tmp_path: Path) -> None:
    """Eight threads, each with its own lock object, bump a counter read-modify-write."""
    kind, where = store
    counter = tmp_path / "counter"
    shared = {"value": 0, "inside": 0, "overlap": False}
    start = threading.Barrier(8)

    def bump() -> None:
        lock = make(kind, where, 60)
        start.wait()
        for _ in range(5):
            with lock.hold("churn"):
                shared["inside"] += 1
                shared["overlap"] = shared["overlap"] or shared["inside"] > 1
                value = shared["value"]
                counter.write_text(str(value))  # an I/O call: a thread switch while held
                shared["value"] = value + 1
                shared["inside"] -= 1

    threads = [threading.Thread(target=bump) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert shared == {"value": 40, "inside": 0, "overlap": False}


def test_the_lock_follows_the_registry_store(tmp_path: Path) -> None:
    db = tmp_path / "mlflow.db"
    sqlite = move_lock(Stack(f"sqlite:///{db}", f"sqlite:///{db}", str(tmp_path / "a")))
    assert isinstance(sqlite, SqliteMoveLock) and sqlite.path == Path(f"{db}.moves")
    pg = "postgresql+psycopg2://u:p@h:5/db?sslmode=disable"
    postgres = move_lock(Stack("http://tracking:5000", pg, "s3://bucket/x"))
    assert isinstance(postgres, PostgresMoveLock) and postgres.uri == pg
    assert libpq_uri(pg) == "postgresql://u:p@h:5/db?sslmode=disable"
    lease = move_lock(Stack("http://tracking:5000", "http://tracking:5000", "s3://bucket/x"))
    assert isinstance(lease, LeaseMoveLock) and lease.lease_path("churn") == "s3://bucket/x/locks/churn.lease"


@pytest.mark.parametrize("where", ["local", "s3"])
def test_a_lease_held_past_its_ttl_is_renewed_not_taken_over(
    where: str, tmp_path: Path, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A move that outlasts the lease's ttl (a cross-stand copy of a large pack) keeps it: a
    second promoter waiting three ttls long still cannot get in, and gets in once it is given back."""
    if where == "s3":
        options = request.getfixturevalue("s3")
        monkeypatch.setenv("AWS_ENDPOINT_URL", options["client_kwargs"]["endpoint_url"])
        root = f"s3://lake/{uuid.uuid4().hex[:8]}"
    else:
        root = str(tmp_path / "artifacts")
    ttl = 3.0
    first, second = LeaseMoveLock(root, timeout_s=5, ttl_s=ttl), LeaseMoveLock(root, timeout_s=3 * ttl, ttl_s=ttl)
    with first.hold("churn"), pytest.raises(MoveLockTimeout), second.hold("churn"):
        pass
    with second.hold("churn"):  # given back: the next one gets it at once
        pass


CONNECTOR = r"""
import sys, time
from pathlib import Path
from conveyor.stack.resolve import Stack
from conveyor.stack.tracking import connect
gate = Path(sys.argv[2])
print("ready", flush=True)
while not gate.exists():  # every process has imported everything before any connects
    time.sleep(0.005)
client = connect(Stack(sys.argv[1], sys.argv[1], sys.argv[3]))
print(len(client.search_experiments()), flush=True)
"""


@pytest.mark.parametrize("kind", ["postgres", "sqlite"])
def test_processes_that_first_open_a_new_database_at_once_all_connect(
    kind: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """Two first trains on an empty PostgreSQL database: before the schema turn, one trained
    and the others died in MLflow's migration (duplicate alembic_version)."""
    uri = request.getfixturevalue("postgres_uri") if kind == "postgres" else f"sqlite:///{tmp_path / 'mlflow.db'}"
    gate = tmp_path / "go"
    children = [
        subprocess.Popen([sys.executable, "-c", CONNECTOR, uri, str(gate), str(tmp_path / "artifacts")],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(3)
    ]
    assert [child.stdout.readline().strip() for child in children if child.stdout] == ["ready"] * 3
    gate.touch()
    results = [child.communicate(timeout=600) for child in children]
    assert [child.returncode for child in children] == [0, 0, 0], [err[-2000:] for _, err in results]
    assert [out.strip() for out, _ in results] == ["1", "1", "1"]  # the Default experiment, once
