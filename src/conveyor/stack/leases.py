"""Long-held leases in the artifact store: one holder at a time, renewed while it works,
taken over once it stops renewing.

The move lock (:mod:`conveyor.stack.locks`) is held for a few registry calls; a lease here is
held for as long as a scheduler runs or a pipeline step takes, so its holder renews it
(:meth:`Lease.renew`) well before it expires. A lease object ``leases/<name>.lease`` is created
with an exclusive write (``O_EXCL`` on a local folder, ``If-None-Match: *`` on S3, as the
move lock's), and names its holder (host, PID, start time) and when it expires. Another
process takes it over when it has expired — its holder crashed or hangs — or at once when its
holder was a process on this host that is gone (``kill -9``). Times are read from the
caller's clock, so tests move time instead of waiting for it.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from conveyor.core.errors import LeaseHeld
from conveyor.stack.locks import create_exclusive, read_lease, take_over
from conveyor.stack.processes import ProcessId

PREFIX = "leases"


@dataclass(frozen=True)
class Holder:
    """Who holds a lease, until when, and what for (``label``)."""

    token: str
    owner: ProcessId
    expires: datetime
    label: str

    def takeable(self, now: datetime) -> bool:
        """Expired at ``now``, or held by a process on this host that is gone."""
        return now >= self.expires or self.owner.gone() is True

    def describe(self) -> str:
        return (f"{self.label} (process {self.owner.pid} on {self.owner.host}, lease until "
                f"{self.expires.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC)")

    @classmethod
    def from_dict(cls, found: dict[str, Any]) -> Holder | None:
        try:
            return cls(
                str(found["token"]),
                ProcessId(str(found["host"]), int(found["pid"]), str(found.get("started", ""))),
                datetime.fromtimestamp(float(found["expires"]), UTC),
                str(found.get("label", "")),
            )
        except (KeyError, TypeError, ValueError):
            return None


class Leases:
    """The leases under one artifact store root (a local folder or an fsspec URL)."""

    def __init__(self, root: str) -> None:
        self.root = root.rstrip("/")

    def path(self, name: str) -> str:
        return f"{self.root}/{PREFIX}/{name}.lease"

    def holder(self, name: str) -> Holder | None:
        fs, path = self._fs(name)
        return Holder.from_dict(read_lease(fs, path))

    def acquire(self, name: str, now: datetime, ttl_s: float, label: str) -> Lease:
        """Take the lease ``name`` until ``now + ttl_s``; :class:`LeaseHeld` if another holder
        has it and may still be working (an expired or orphaned lease is taken over)."""
        fs, path = self._fs(name)
        fs.makedirs(path.rsplit("/", 1)[0], exist_ok=True)
        owner = ProcessId.current()
        token = uuid.uuid4().hex
        for _ in range(3):  # a lease taken over may be re-created by a third process between
            if create_exclusive(fs, path, _payload(token, owner, now, ttl_s, label)):
                return Lease(self, name, token, owner, label)
            holder = Holder.from_dict(read_lease(fs, path))
            if holder is None:
                continue  # removed or being written this instant: try again
            if not holder.takeable(now):
                raise LeaseHeld(name, holder, holder.describe())
            take_over(fs, path, holder.token, "taken")
        holder = Holder.from_dict(read_lease(fs, path))
        if holder is None:  # pragma: no cover - three races lost in a row
            raise LeaseHeld(name, None, "another process, this instant")
        raise LeaseHeld(name, holder, holder.describe())

    def _fs(self, name: str) -> tuple[Any, str]:
        import fsspec

        fs, path = fsspec.core.url_to_fs(self.path(name))
        return fs, path


class Lease:
    """A lease this process holds: renew it while working, release it when done."""

    def __init__(self, leases: Leases, name: str, token: str, owner: ProcessId, label: str) -> None:
        self.leases = leases
        self.name = name
        self.token = token
        self.owner = owner
        self.label = label

    def renew(self, now: datetime, ttl_s: float) -> bool:
        """Push the expiry to ``now + ttl_s``; False when the lease is no longer ours (it
        expired and another process took it over)."""
        fs, path = self.leases._fs(self.name)
        if read_lease(fs, path).get("token") != self.token:
            return False
        with fs.open(path, "wb") as handle:
            handle.write(_payload(self.token, self.owner, now, ttl_s, self.label))
        return True

    def release(self) -> None:
        """Give the lease up (nothing happens when it is no longer ours)."""
        fs, path = self.leases._fs(self.name)
        if read_lease(fs, path).get("token") == self.token:
            fs.rm(path)


def _payload(token: str, owner: ProcessId, now: datetime, ttl_s: float, label: str) -> bytes:
    return json.dumps({
        "token": token, "host": owner.host, "pid": owner.pid, "started": owner.started,
        "expires": now.timestamp() + ttl_s, "label": label,
    }).encode()


