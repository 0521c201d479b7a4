"""The artifact store: a local folder or any fsspec URL (s3://, gs://, ...)."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any

import fsspec


@dataclass(frozen=True)
class ArtifactStore:
    root: str

    def _fs(self) -> tuple[fsspec.AbstractFileSystem, str]:
        fs, path = fsspec.core.url_to_fs(self.root)
        return fs, path.rstrip("/")

    def write_json(self, relative: str, payload: Any) -> str:
        """Write one object; objects are never rewritten (append-only by naming)."""
        fs, base = self._fs()
        target = f"{base}/{relative}"
        fs.makedirs(target.rsplit("/", 1)[0], exist_ok=True)
        with fs.open(target, "w") as handle:
            handle.write(json.dumps(payload, sort_keys=True))
        return target

    def read_json_under(self, relative: str) -> list[Any]:
        """Every JSON object under a prefix, in name order."""
        fs, base = self._fs()
        prefix = f"{base}/{relative}"
        if not fs.exists(prefix):
            return []
        paths = sorted(p for p in fs.find(prefix) if p.endswith(".json"))
        out = []
        for path in paths:
            with fs.open(path, "r") as handle:
                out.append(json.load(handle))
        return out

    def url(self, relative: str) -> str:
        """The full location of an object under the store, as a reader elsewhere opens it."""
        return f"{self.root.rstrip('/')}/{relative}"

    def exists(self, relative: str) -> bool:
        fs, base = self._fs()
        return bool(fs.exists(f"{base}/{relative}"))

    def read_json(self, relative: str) -> Any:
        """One JSON object, or None when there is none."""
        fs, base = self._fs()
        try:
            with fs.open(f"{base}/{relative}", "r") as handle:
                return json.load(handle)
        except FileNotFoundError:
            return None

    def put_file(self, local: str, relative: str) -> str:
        """Upload a local file so that it appears whole or not at all: into a hidden sibling
        first, then moved onto its name (a rename locally; a server-side copy on S3)."""
        fs, base = self._fs()
        target = f"{base}/{relative}"
        parent, _, name = target.rpartition("/")
        staging = f"{parent}/.{name}.{uuid.uuid4().hex}.part"
        fs.makedirs(parent, exist_ok=True)
        try:
            fs.put_file(local, staging)
            fs.mv(staging, target)
        finally:
            if fs.exists(staging):
                fs.rm(staging)
        return target
