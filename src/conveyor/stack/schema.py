"""No schema migration check on every open of an SQLite store that is already current.

MLflow's SQL tracking store verifies the schema each time it starts: it parses every alembic
migration script to find the head revision, then reads the database's ``alembic_version``
(about 0.1 s of each command, more on a loaded machine). For an SQLite file conveyor does
the same check much cheaper:

- the head revision of the installed MLflow is computed once and kept in a marker beside
  the database (``mlflow.db.schema.json``, keyed by MLflow's version, so an upgrade of
  MLflow computes it again);
- the database's own ``alembic_version`` is read with :mod:`sqlite3` (microseconds);
- only when the two are equal is MLflow's verification skipped while the client's stores
  start. A new, older or newer database gets MLflow's own check and its own message.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

MARKER_SUFFIX = ".schema.json"
_PATCH_LOCK = threading.Lock()


def sqlite_file(uri: str) -> Path | None:
    """The database file of a ``sqlite:///`` URI (None for other stores and in-memory ones)."""
    if not uri.startswith("sqlite:///"):
        return None
    path = uri.removeprefix("sqlite:///").split("?", 1)[0]
    return Path(path) if path and path != ":memory:" else None


def stored_revision(database: Path) -> str | None:
    """The database's alembic revision, read only (None if it has none or cannot be read)."""
    try:
        with sqlite3.connect(f"{database.resolve().as_uri()}?mode=ro", uri=True) as connection:
            row = connection.execute("SELECT version_num FROM alembic_version").fetchone()
    except sqlite3.Error:
        return None
    return str(row[0]) if row else None


def head_revision(database: Path) -> str:
    """The installed MLflow's head schema revision, from the marker when it is MLflow's."""
    from importlib.metadata import version

    mlflow_version = version("mlflow")
    marker = database.with_name(database.name + MARKER_SUFFIX)
    try:
        cached = json.loads(marker.read_text(encoding="utf-8"))
        if cached.get("mlflow") == mlflow_version and isinstance(cached.get("head"), str):
            return str(cached["head"])
    except (OSError, ValueError, AttributeError):
        pass
    from mlflow.store.db.utils import _get_latest_schema_revision

    head = str(_get_latest_schema_revision())  # type: ignore[no-untyped-call]
    try:
        marker.write_text(json.dumps({"mlflow": mlflow_version, "head": head}), encoding="utf-8")
    except OSError:
        pass  # a read-only folder: the head is computed again next time
    return head


def is_current(uri: str) -> bool:
    """True when ``uri`` is an SQLite file whose schema is at the installed MLflow's head."""
    database = sqlite_file(uri)
    if database is None or not database.is_file():
        return False
    current = stored_revision(database)
    return current is not None and current == head_revision(database)


@contextmanager
def schema_check_skipped(uri: str) -> Iterator[bool]:
    """While the stores of a client for ``uri`` start: MLflow's schema verification is
    skipped if the store is current (yields whether it was); restored on exit."""
    if not is_current(uri):
        yield False
        return
    import mlflow.store.db.utils as db_utils

    with _PATCH_LOCK:
        verify = db_utils._verify_schema
        db_utils._verify_schema = _already_verified
        try:
            yield True
        finally:
            db_utils._verify_schema = verify


def _already_verified(engine: object) -> None:
    """Stands in for MLflow's check on a store known to be at head."""
