"""The artifact store: a local folder or any fsspec URL (s3://, gs://, ...)."""

from __future__ import annotations

import json
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
