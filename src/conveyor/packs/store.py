"""Packs in the stand's artifact store, content-addressed, in the layout of core/packs.py:
the object (its URI recorded on versions), then its record, written only after the object is
whole and verified; the inputs index lets a repeated pack of an unchanged environment find
its key without resolving again."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from conveyor.core.packs import PREFIX, RECORD_SUFFIX, SUFFIX
from conveyor.stack.artifacts import ArtifactStore


@dataclass(frozen=True)
class PackRecord:
    key: str
    sha256: str
    size: int
    python: str
    platform: str
    interpreter: str  # the base Python the venv runs on (pyvenv.cfg `home`)
    lock: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def of(cls, payload: dict[str, Any]) -> PackRecord:
        return cls(**{name: payload[name] for name in cls.__dataclass_fields__})


class PackStore:
    def __init__(self, artifacts: ArtifactStore) -> None:
        self.artifacts = artifacts

    def uri(self, key: str) -> str:
        return self.artifacts.url(f"{PREFIX}/{key}{SUFFIX}")

    def find(self, key: str) -> PackRecord | None:
        """The pack of ``key`` if it is complete (its record written and its object there)."""
        payload = self.artifacts.read_json(f"{PREFIX}/{key}{RECORD_SUFFIX}")
        if payload is None or not self.artifacts.exists(f"{PREFIX}/{key}{SUFFIX}"):
            return None
        return PackRecord.of(payload)

    def key_for_inputs(self, digest: str) -> str | None:
        payload = self.artifacts.read_json(f"{PREFIX}/inputs/{digest}.json")
        return None if payload is None else str(payload["key"])

    def remember_inputs(self, digest: str, key: str) -> None:
        self.artifacts.write_json(f"{PREFIX}/inputs/{digest}.json", {"key": key})

    def put(self, tarball: Path, record: PackRecord) -> str:
        """Upload the object whole, then its record; returns the object's URI."""
        self.artifacts.put_file(str(tarball), f"{PREFIX}/{record.key}{SUFFIX}")
        self.artifacts.write_json(f"{PREFIX}/{record.key}{RECORD_SUFFIX}", record.to_dict())
        return self.uri(record.key)
