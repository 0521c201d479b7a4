"""The lock that serialises the moves of one model (promote, rollback, traffic) across
processes and machines, on whatever store the stack uses.

A move reads the registry (who holds the alias, the history tag), decides, then writes the
alias, the tags and an audit event. :meth:`MoveLock.hold` makes that read-decide-write one
step: a second move of the same model waits for the first to finish and then reads the
state it left. Which lock depends on the registry store:

- **SQLite** (the embedded default): a write transaction (``BEGIN IMMEDIATE``) on a small
  database next to the store's own file (``mlflow.db`` → ``mlflow.db.moves``). Not on the
  store's file itself: MLflow's own writes inside the move would wait for it. SQLite locks
  a whole file, so moves of all models in that store take turns. The lock dies with the
  process that held it.
- **PostgreSQL**: ``pg_advisory_lock`` keyed by the model name, on a connection of its own
  to the store's database (the registry URI). It dies with the connection.
- **Any other store** (an MLflow server over HTTP, MySQL, ...): a lease object in the
  artifact store (``locks/<model>.lease``), created with an exclusive write (``O_EXCL`` on
  a local folder, ``If-None-Match: *`` on S3 through s3fs). A lease names when it expires;
  a lease left by a killed holder is taken over once expired.

Every lock gives up after ``timeout_s`` with :class:`~conveyor.core.errors.MoveLockTimeout`.
A lock is re-entrant within one thread (a move inside a held move does not wait on itself).

The same locks give :func:`schema_turn`: one process at a time starts MLflow's stores on an
SQL database, because the first start of a new database creates its tables, and two
processes that create them at once both fail (two first `conveyor train`s on an empty
PostgreSQL database: one trained, the others died in MLflow's migration with a duplicate
``alembic_version``).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import socket
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

from conveyor.core.config.secrets import redact_uri_password
from conveyor.core.errors import MoveLockTimeout, StoreUnreachableError
from conveyor.stack.resolve import Stack
from conveyor.stack.schema import is_current

log = logging.getLogger(__name__)

TIMEOUT_S = 30.0
LEASE_TTL_S = 120.0  # far longer than a move (a few registry calls); renewed while held
LOCKS_PREFIX = "locks"
_POLL_S = (0.02, 0.5)  # lease retry: first and longest wait between attempts


class MoveLock:
    """Base: re-entrancy per thread; subclasses take the store's lock in :meth:`_acquire`."""

    def __init__(self, timeout_s: float = TIMEOUT_S) -> None:
        self.timeout_s = timeout_s
        self._held = threading.local()

    @contextmanager
    def hold(self, model: str) -> Iterator[None]:
        """Hold the lock of ``model``'s moves for the body; MoveLockTimeout if it stays taken."""
        held: set[str] = self._held.__dict__.setdefault("models", set())
        if model in held:
            yield
            return
        with self._acquire(model):
            held.add(model)
            try:
                yield
            finally:
                held.discard(model)

    def _acquire(self, model: str) -> Any:  # a context manager
        raise NotImplementedError

    def _timeout(self, model: str, where: str) -> MoveLockTimeout:
        return MoveLockTimeout(
            f"another promote, rollback or traffic change of {model!r} held the lock for more "
            f"than {self.timeout_s:g}s ({where}); nothing was changed",
            hint="wait for it to finish and run the command again",
        )


class SqliteMoveLock(MoveLock):
    """A write transaction on ``<store>.moves`` beside the SQLite store's file."""

    def __init__(self, path: Path, timeout_s: float = TIMEOUT_S) -> None:
        super().__init__(timeout_s)
        self.path = path

    @contextmanager
    def _acquire(self, model: str) -> Iterator[None]:
        connection = sqlite3.connect(self.path, timeout=self.timeout_s, isolation_level=None)
        try:
            try:
                connection.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as exc:
                if "locked" in str(exc) or "busy" in str(exc):
                    raise self._timeout(model, f"SQLite {self.path}") from None
                raise
            try:
                yield
            finally:
                connection.execute("ROLLBACK")
        finally:
            connection.close()


class PostgresMoveLock(MoveLock):
    """``pg_advisory_lock(key of the model)`` on a connection of its own to the store."""

    def __init__(self, uri: str, timeout_s: float = TIMEOUT_S) -> None:
        super().__init__(timeout_s)
        self.uri = uri

    @contextmanager
    def _acquire(self, model: str) -> Iterator[None]:
        import psycopg

        try:
            connection = psycopg.connect(
                libpq_uri(self.uri), autocommit=True, connect_timeout=max(1, int(self.timeout_s))
            )
        except psycopg.OperationalError as exc:
            raise StoreUnreachableError(
                f"cannot take the move lock on {redact_uri_password(self.uri)}: "
                f"{redact_uri_password(str(exc).strip().splitlines()[0] if str(exc).strip() else 'no answer')}"
            ) from None
        try:
            with connection.cursor() as cursor:
                cursor.execute(f"SET lock_timeout = {max(1, int(self.timeout_s * 1000))}")
                try:
                    cursor.execute("SELECT pg_advisory_lock(%s)", (advisory_key(model),))
                except psycopg.errors.LockNotAvailable:
                    raise self._timeout(model, "PostgreSQL advisory lock") from None
            yield
        finally:
            connection.close()  # ends the session: the advisory lock goes with it


class LeaseMoveLock(MoveLock):
    """A lease object ``locks/<model>.lease`` in the artifact store, created exclusively."""

    def __init__(self, root: str, timeout_s: float = TIMEOUT_S, ttl_s: float = LEASE_TTL_S) -> None:
        super().__init__(timeout_s)
        self.root = root.rstrip("/")
        self.ttl_s = ttl_s

    def lease_path(self, model: str) -> str:
        return f"{self.root}/{LOCKS_PREFIX}/{model}.lease"

    @contextmanager
    def _acquire(self, model: str) -> Iterator[None]:
        import fsspec

        fs, path = fsspec.core.url_to_fs(self.lease_path(model))
        fs.makedirs(path.rsplit("/", 1)[0], exist_ok=True)
        token = uuid.uuid4().hex
        deadline = time.monotonic() + self.timeout_s
        wait = _POLL_S[0]
        while not create_exclusive(fs, path, _lease(token, self.ttl_s)):
            _take_over_if_expired(fs, path)
            if time.monotonic() >= deadline:
                raise self._timeout(model, f"lease {self.lease_path(model)}")
            time.sleep(min(wait, max(0.0, deadline - time.monotonic())))
            wait = min(wait * 2, _POLL_S[1])
        try:
            with _renewed(fs, path, token, self.ttl_s):
                yield
        finally:
            if _still_ours(fs, path, token):
                fs.rm(path)


class Heartbeat:
    """Calls ``renew`` every ``interval_s`` on a daemon thread until stopped, or until ``renew``
    returns False (``lost``: the lease is no longer ours). An exception is handed to
    ``on_error`` and the next beat tries again. The one renewal loop of every lease."""

    def __init__(self, renew: Callable[[], bool], interval_s: float, on_error: Callable[[Exception], None],
                 name: str) -> None:
        self.renew, self.interval_s, self.on_error = renew, interval_s, on_error
        self.lost = False
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout_s: float | None = None) -> None:
        self._stopped.set()
        if self._thread.is_alive():
            self._thread.join(timeout_s)

    def _run(self) -> None:
        while not self._stopped.wait(self.interval_s):
            try:
                if not self.renew():
                    self.lost = True
                    return
            except Exception as exc:  # noqa: BLE001 - a store hiccup: the next beat tries again
                self.on_error(exc)


@contextmanager
def _renewed(fs: Any, path: str, token: str, ttl_s: float) -> Iterator[None]:
    """The held lease at ``path`` rewritten with a later expiry every third of its ttl, so a
    move that outlasts one ttl (a cross-stand copy of a large pack) keeps it. A lease found no
    longer ours (the holder stalled past its expiry, another took it over) is left alone."""
    if ttl_s <= 0:
        yield
        return

    def renew() -> bool:
        if not _still_ours(fs, path, token):
            log.warning("the move lock %s was taken over while held (the holder stalled past its expiry)", path)
            return False
        with fs.open(path, "wb") as handle:
            handle.write(_lease(token, ttl_s))
        return True

    def failed(exc: Exception) -> None:
        log.warning("renewing the move lock %s failed (%s); retrying", path, exc)

    heartbeat = Heartbeat(renew, ttl_s / 3, failed, name="move-lock-renewal")
    heartbeat.start()
    try:
        yield
    finally:
        heartbeat.stop()


def move_lock(stack: Stack, timeout_s: float = TIMEOUT_S) -> MoveLock:
    """The lock for the stack's registry store (see the module docstring)."""
    uri = stack.registry_uri
    scheme = uri.split(":", 1)[0].lower()
    if scheme == "sqlite":
        database = _sqlite_file(uri)
        if database is not None:
            return SqliteMoveLock(Path(f"{database}.moves"), timeout_s)
    if scheme.split("+", 1)[0] in ("postgresql", "postgres"):
        return PostgresMoveLock(uri, timeout_s)
    return LeaseMoveLock(stack.artifact_store, timeout_s)


SCHEMA_TIMEOUT_S = 300.0  # MLflow's migrations of a new PostgreSQL database: a minute when loaded
_SCHEMA_KEY = "\x00mlflow-schema"  # no model is named so


@contextmanager
def schema_turn(uri: str, timeout_s: float = SCHEMA_TIMEOUT_S) -> Iterator[None]:
    """While the body starts MLflow's stores on ``uri``, no other process does the same: a
    PostgreSQL advisory lock, or a write transaction on ``<db>.schema`` beside an SQLite file
    whose schema is not already current. Other stores (an MLflow server migrates itself) and
    a current SQLite file: no lock."""
    lock = _schema_lock(uri, timeout_s)
    with ExitStack() as held:
        if lock is not None:
            try:
                held.enter_context(lock.hold(_SCHEMA_KEY))
            except MoveLockTimeout:
                raise StoreUnreachableError(
                    f"another process kept creating MLflow's tables in {redact_uri_password(uri)} "
                    f"for more than {timeout_s:g}s",
                    hint="check that process (or the database), then run the command again",
                ) from None
        yield


def _schema_lock(uri: str, timeout_s: float) -> MoveLock | None:
    scheme = uri.split(":", 1)[0].lower()
    if scheme == "sqlite":
        database = _sqlite_file(uri)
        return None if database is None or is_current(uri) else SqliteMoveLock(Path(f"{database}.schema"), timeout_s)
    if scheme.split("+", 1)[0] in ("postgresql", "postgres"):
        return PostgresMoveLock(uri, timeout_s)
    return None


def advisory_key(model: str) -> int:
    """A stable signed 64-bit key for ``pg_advisory_lock`` (same in every process)."""
    digest = hashlib.sha256(f"conveyor.moves:{model}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def libpq_uri(uri: str) -> str:
    """``postgresql+psycopg2://…`` (SQLAlchemy) → ``postgresql://…`` (libpq)."""
    from sqlalchemy.engine import make_url

    url = make_url(uri)
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


def _sqlite_file(uri: str) -> str | None:
    from sqlalchemy.engine import make_url

    database = make_url(uri).database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return database


def _lease(token: str, ttl_s: float) -> bytes:
    return json.dumps({
        "token": token, "host": socket.gethostname(), "pid": os.getpid(), "expires": time.time() + ttl_s,
    }).encode()


def create_exclusive(fs: Any, path: str, payload: bytes) -> bool:
    """Create ``path`` only if it does not exist (O_EXCL / If-None-Match); False if it does."""
    try:
        with fs.open(path, "xb") as handle:
            handle.write(payload)
    except FileExistsError:
        return False
    return True


def read_lease(fs: Any, path: str) -> dict[str, Any]:
    """The lease as it is now ({} if absent or being replaced): one plain GET, no cached
    listing or ETag (an object store's cache would show a lease that is gone)."""
    fs.invalidate_cache(path)
    try:
        raw = fs.cat_file(path)
    except FileNotFoundError:
        return {}
    except OSError:
        return {}  # replaced between two requests of one read
    try:
        found = json.loads(raw)
    except ValueError:
        return {}  # being written this instant
    return found if isinstance(found, dict) else {}


def _still_ours(fs: Any, path: str, token: str) -> bool:
    """Whether the lease still has our token (a read can fail while nobody else may write it:
    retried, so a transient error does not leave the lease to expire)."""
    for _ in range(3):
        lease = read_lease(fs, path)
        if lease:
            return lease.get("token") == token
    return False


def _take_over_if_expired(fs: Any, path: str) -> None:
    """Remove a lease whose holder let it expire (killed, or far past a move's length).

    Only one process removes a given expired lease: it must first create the marker
    ``<lease>.<token>.expired`` exclusively, then checks the lease still has that token."""
    lease = read_lease(fs, path)
    token, expires = lease.get("token"), lease.get("expires")
    if not isinstance(token, str) or not isinstance(expires, (int, float)) or time.time() < expires:
        return
    take_over(fs, path, token, "expired")


def take_over(fs: Any, path: str, token: str, why: str) -> None:
    """Remove the lease at ``path`` if it still has ``token``; only one process does it: it
    first creates the marker ``<lease>.<token>.<why>`` exclusively."""
    marker = f"{path}.{token}.{why}"
    if not create_exclusive(fs, marker, b""):
        return
    try:
        if read_lease(fs, path).get("token") == token:
            fs.rm(path)
    finally:
        fs.rm(marker)
