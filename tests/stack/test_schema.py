"""An SQLite store at MLflow's head revision is opened without MLflow's schema check; any
other store gets MLflow's own check and its own message."""

from __future__ import annotations

import json
import shutil
import sqlite3
from importlib.metadata import version
from pathlib import Path

import pytest
from mlflow.exceptions import MlflowException
from mlflow.store.db.utils import _get_latest_schema_revision

from conveyor.stack.resolve import Stack
from conveyor.stack.schema import MARKER_SUFFIX, is_current, schema_check_skipped, stored_revision
from conveyor.stack.tracking import connect


def _copy(migrated_store: Path, tmp_path: Path) -> tuple[Path, str]:
    db = tmp_path / "mlflow.db"
    shutil.copy(migrated_store, db)
    return db, f"sqlite:///{db.as_posix()}"


def test_a_current_store_skips_the_check_and_keeps_the_head_in_a_marker(migrated_store: Path, tmp_path: Path) -> None:
    db, uri = _copy(migrated_store, tmp_path)
    assert stored_revision(db) == _get_latest_schema_revision()
    with schema_check_skipped(uri) as skipped:
        assert skipped
    marker = json.loads(db.with_name(db.name + MARKER_SUFFIX).read_text())
    assert marker == {"mlflow": version("mlflow"), "head": _get_latest_schema_revision()}
    client = connect(Stack(uri, uri, str(tmp_path / "artifacts")))
    assert client.search_experiments()  # the store works as MLflow opened it


def test_a_new_or_non_sqlite_store_gets_mlflows_check(tmp_path: Path) -> None:
    fresh = tmp_path / "new.db"
    assert not is_current(f"sqlite:///{fresh.as_posix()}")  # not there yet: MLflow migrates it
    assert not is_current("postgresql://localhost/mlflow")
    client = connect(Stack(f"sqlite:///{fresh.as_posix()}", f"sqlite:///{fresh.as_posix()}", str(tmp_path / "a")))
    assert client.search_experiments()
    assert is_current(f"sqlite:///{fresh.as_posix()}")  # migrated: the next open skips the check


def test_a_store_behind_the_head_is_refused_by_mlflow(migrated_store: Path, tmp_path: Path) -> None:
    db, uri = _copy(migrated_store, tmp_path)
    with sqlite3.connect(db) as connection:
        connection.execute("UPDATE alembic_version SET version_num = '0584bdc529eb'")
    assert not is_current(uri)
    with pytest.raises(MlflowException, match="out-of-date database schema"):
        connect(Stack(uri, uri, str(tmp_path / "artifacts")))


def test_a_stale_marker_of_another_mlflow_is_recomputed(migrated_store: Path, tmp_path: Path) -> None:
    db, uri = _copy(migrated_store, tmp_path)
    marker = db.with_name(db.name + MARKER_SUFFIX)
    marker.write_text(json.dumps({"mlflow": "0.0.1", "head": "not-a-revision"}))
    assert is_current(uri)
    assert json.loads(marker.read_text())["mlflow"] == version("mlflow")
