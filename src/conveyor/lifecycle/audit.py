"""Append-only audit log of registry moves in the artifact store.

Each event is its own object, named by time, so the log works on object stores
(S3 has no append) and no event ever overwrites another.
"""

from __future__ import annotations

import getpass
import os
import uuid
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from conveyor.stack.artifacts import ArtifactStore

AUDIT_PREFIX = "audit"


def current_user() -> str:
    return os.environ.get("CONVEYOR_USER") or _login_name()


def _login_name() -> str:
    try:
        return getpass.getuser()
    except Exception:  # noqa: BLE001 - no login name in some containers
        return "unknown"


@dataclass(frozen=True)
class AuditEvent:
    action: str  # train | promote | rollback | copy (the source stand of a cross-stand promotion) | release
    model: str
    stage: str
    from_version: str | None
    to_version: str | None
    reason: str | None = None
    forced: bool = False
    environment: str | None = None
    # a promotion across stands: from_env, from_version, to_env, to_version (each stand's log)
    copy: dict[str, Any] | None = None
    release: dict[str, Any] | None = None  # `conveyor release`: version, pack, files and their hashes
    who: str = field(default_factory=current_user)
    at: str = field(default_factory=lambda: datetime.now(UTC).isoformat())

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class AuditLog:
    def __init__(self, store: ArtifactStore) -> None:
        self.store = store

    def append(self, event: AuditEvent) -> str:
        stamp = datetime.now(UTC)
        name = (
            f"{AUDIT_PREFIX}/{event.model}/{stamp:%Y-%m-%d}/"
            f"{stamp:%Y%m%dT%H%M%S%f}-{uuid.uuid4().hex[:8]}.json"
        )
        return self.store.write_json(name, event.to_dict())

    def events(self, model: str) -> list[dict[str, Any]]:
        return self.store.read_json_under(f"{AUDIT_PREFIX}/{model}")
