"""Append-only audit log of registry moves in the artifact store.

Each event is its own object, named by time, so the log works on object stores
(S3 has no append) and no event ever overwrites another:
``audit/<model>/<YYYY-MM-DD>/<time>-<random>.<action>.json`` (events written before the
action was in the name lack it). A page of the log (:meth:`AuditLog.page`, newest first)
lists the days, newest first, and reads only the objects it returns: an event whose name
says its action is not read unless the page wants that action.
"""

from __future__ import annotations

import getpass
import os
import re
import uuid
from collections.abc import Collection
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from conveyor.core.errors import OptionError
from conveyor.stack.artifacts import ArtifactStore

AUDIT_PREFIX = "audit"
_ACTION = re.compile(r"[a-z][a-z-]*")
_CURSOR = re.compile(r"\d{4}-\d{2}-\d{2}/[0-9T]+-[0-9a-f]+(\.[a-z][a-z-]*)?\.json")


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
        action = f".{event.action}" if _ACTION.fullmatch(event.action) else ""
        name = (
            f"{AUDIT_PREFIX}/{event.model}/{stamp:%Y-%m-%d}/"
            f"{stamp:%Y%m%dT%H%M%S%f}-{uuid.uuid4().hex[:8]}{action}.json"
        )
        return self.store.write_json(name, event.to_dict())

    def events(self, model: str) -> list[dict[str, Any]]:
        """Every event of the model, oldest first (`conveyor audit`)."""
        return self.store.read_json_under(f"{AUDIT_PREFIX}/{model}")

    def page(self, model: str, actions: Collection[str] | None, limit: int,
             after: str | None = None) -> tuple[list[dict[str, Any]], str | None]:
        """Up to ``limit`` events of these actions (None: any), newest first, older than the
        cursor ``after`` (the previous page's; None: from the newest), and the cursor of the
        page after (None: this was the last). OptionError for a cursor that is not one."""
        if after is not None and not _CURSOR.fullmatch(after):
            raise OptionError(f"{after!r} is not a position in the audit log",
                              hint="pass the `next` of the previous page")
        prefix = f"{AUDIT_PREFIX}/{model}"
        days = [d for d in reversed(self.store.names(prefix)) if after is None or d <= after.split("/")[0]]
        found: list[dict[str, Any]] = []
        last = ""  # the position of the page's last (oldest) event
        for day in days:
            for name in reversed(self.store.names(f"{prefix}/{day}")):
                key = f"{day}/{name}"
                if not name.endswith(".json") or (after is not None and key >= after):
                    continue
                action = _action_of(name)
                if actions is not None and action is not None and action not in actions:
                    continue  # its name says it is not wanted: not read
                if len(found) == limit and action is not None:
                    return found, last  # one more is there: no need to read it
                event = self.store.read_json(f"{prefix}/{key}")
                if not isinstance(event, dict) or (actions is not None and event.get("action") not in actions):
                    continue
                if len(found) == limit:
                    return found, last
                found.append(event)
                last = key
        return found, None


def _action_of(name: str) -> str | None:
    """The action an event's object name carries (None: an older name without it)."""
    parts = name.removesuffix(".json").split(".")
    return parts[1] if len(parts) == 2 and _ACTION.fullmatch(parts[1]) else None

