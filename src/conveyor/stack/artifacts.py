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

    def replace_json(self, relative: str, payload: Any) -> str:
        """Write one object that is rewritten in place (a state, not a record): on a local
        disk through a temporary name, so a reader sees the old object or the new one."""
        fs, base = self._fs()
        target = f"{base}/{relative}"
        fs.makedirs(target.rsplit("/", 1)[0], exist_ok=True)
        protocols = fs.protocol if isinstance(fs.protocol, tuple) else (fs.protocol,)
        temp = f"{target}.{uuid.uuid4().hex}.tmp" if "file" in protocols else target
        with fs.open(temp, "w") as handle:
            handle.write(json.dumps(payload, sort_keys=True))
        if temp != target:
            fs.mv(temp, target)
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

    def names(self, relative: str) -> list[str]:
        """The names of the entries right under a prefix (files and folders), sorted; none
        when nothing is there. A listing only: nothing is read."""
        fs, base = self._fs()
        prefix = f"{base}/{relative}".rstrip("/")
        fs.invalidate_cache(prefix)  # an object store's client keeps listings: new objects too
        try:
            found = fs.ls(prefix, detail=False)
        except (FileNotFoundError, NotADirectoryError):
            return []
        return sorted(str(path).rstrip("/").rsplit("/", 1)[-1] for path in found
                      if str(path).rstrip("/") != prefix)

    def url(self, relative: str) -> str:
        """The full location of ``relative`` in the store."""
        return f"{self.root.rstrip('/')}/{relative.lstrip('/')}"

    def relative(self, url: str) -> str | None:
        """``url`` as a path inside this store, or None when it lies elsewhere."""
        fs, base = self._fs()
        try:
            other_fs, path = fsspec.core.url_to_fs(url)
        except (ValueError, ImportError):
            return None
        if type(other_fs) is not type(fs) or not path.startswith(base + "/"):
            return None
        return str(path[len(base) + 1:])

    def exists(self, relative: str) -> bool:
        fs, base = self._fs()
        fs.invalidate_cache()
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

    def open(self, relative: str, mode: str = "rb") -> Any:
        """A file object on ``relative`` (folders made for a write)."""
        fs, base = self._fs()
        target = f"{base}/{relative}"
        if "w" in mode or "x" in mode:
            fs.makedirs(target.rsplit("/", 1)[0], exist_ok=True)
        return fs.open(target, mode)

    def remove(self, relative: str) -> None:
        fs, base = self._fs()
        if fs.exists(f"{base}/{relative}"):
            fs.rm(f"{base}/{relative}")

    def remove_tree(self, relative: str) -> None:
        """Remove everything under ``relative`` (nothing there: nothing to do)."""
        fs, base = self._fs()
        fs.invalidate_cache()
        if fs.exists(f"{base}/{relative}"):
            fs.rm(f"{base}/{relative}", recursive=True)

    def probe(self) -> None:
        """Fail fast with StoreUnreachableError when the store cannot be listed (an object
        store that does not answer, a bucket that is not there)."""
        from conveyor.core.config.secrets import redact_uri_password
        from conveyor.core.errors import StoreUnreachableError

        try:
            if "://" in self.root and not self.root.startswith("file://"):
                # a client of its own: a cached one may predate the settings in force now
                fs, base = fsspec.core.url_to_fs(self.root, skip_instance_cache=True)
                fs.ls(base.split("/", 1)[0])
        except Exception as exc:  # noqa: BLE001 - any client error means "unreachable"
            text = str(exc).strip().splitlines()
            raise StoreUnreachableError(
                f"artifact store {redact_uri_password(self.root)} is unreachable: "
                f"{redact_uri_password(text[0] if text else type(exc).__name__)}",
                hint="check artifact_store for this environment and that the store is up",
            ) from None
