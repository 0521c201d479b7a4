"""Copy a version's environment pack (``conveyor.pack.uri``) into another stand's artifact
store, its SHA-256 checked on the bytes read and on the bytes written, then its record
(core/packs.py: written last, so the target holds a whole pack or none a reader accepts).

The pack keeps its path inside the store (``packs/<key>.tar.gz`` stays ``packs/<key>.tar.gz``);
a pack that lies outside the source stand's store goes under ``packs/``. A pack already on
the target with the right hash (packs are content-addressed) is not copied again.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import fsspec

from conveyor.core.errors import StandCopyError
from conveyor.core.packs import PREFIX, record_location
from conveyor.stack.artifacts import ArtifactStore

CHUNK = 8 * 1024 * 1024


@dataclass(frozen=True)
class CopiedPack:
    uri: str  # where the pack lies on the target stand
    created: bool  # False: the target already had it (an earlier copy)
    relative: str  # its path inside the target's artifact store


def copy_pack(source: ArtifactStore, target: ArtifactStore, uri: str, sha256: str) -> CopiedPack:
    """Copy the pack at ``uri`` (in ``source``) to ``target``; StandCopyError when its bytes
    do not hash to ``sha256``, on either side (a bad copy is removed)."""
    relative = source.relative(uri) or f"{PREFIX}/{uri.rstrip('/').rsplit('/', 1)[-1]}"
    expected = sha256.removeprefix("sha256:").lower()
    fs, path = fsspec.core.url_to_fs(uri)
    if not fs.exists(path):
        raise _missing(uri)
    record = _read_record(uri)
    if target.exists(relative):
        with target.open(relative, "rb") as handle:
            if _digest(handle) == expected:
                _write_record(target, relative, record)  # an earlier copy may have stopped before it
                return CopiedPack(target.url(relative), created=False, relative=relative)
    try:
        with fsspec.open(uri, "rb") as reader, target.open(relative, "wb") as writer:
            read = _digest(reader, writer)
    except FileNotFoundError:
        raise _missing(uri) from None
    if read != expected:
        target.remove(relative)
        raise StandCopyError(
            f"the environment pack {uri} has SHA-256 {read}, not {expected} as its version's "
            "tag says: it was changed or damaged after it was built; nothing was copied",
            hint="rebuild it with `conveyor pack` on the source stand, then promote again",
        )
    with target.open(relative, "rb") as handle:
        written = _digest(handle)
    if written != expected:
        target.remove(relative)
        raise StandCopyError(
            f"the pack written to {target.url(relative)} has SHA-256 {written}, not {expected}; "
            "the copy was removed",
            hint="check the target stand's artifact store, then promote again",
        )
    _write_record(target, relative, record)
    return CopiedPack(target.url(relative), created=True, relative=relative)


def _missing(uri: str) -> StandCopyError:
    return StandCopyError(f"the version's environment pack {uri} is missing",
                          hint="rebuild it with `conveyor pack` on the source stand, then promote again")


def _read_record(uri: str) -> bytes:
    """The bytes of the record beside the pack (copied as they are: it names nothing of the stand)."""
    try:
        with fsspec.open(record_location(uri), "rb") as handle:
            return bytes(handle.read())
    except FileNotFoundError:
        raise StandCopyError(
            f"the version's environment pack {uri} has no record beside it "
            f"({record_location(uri).rsplit('/', 1)[-1]}): it is incomplete and no worker can run it",
            hint="rebuild it with `conveyor pack` on the source stand, then promote again",
        ) from None


def _write_record(target: ArtifactStore, relative: str, record: bytes) -> None:
    with target.open(record_location(relative), "wb") as handle:
        handle.write(record)


def _digest(reader: Any, writer: Any = None) -> str:
    """SHA-256 of everything ``reader`` holds, written on to ``writer`` on the way."""
    digest = hashlib.sha256()
    while chunk := reader.read(CHUNK):
        digest.update(chunk)
        if writer is not None:
            writer.write(chunk)
    return digest.hexdigest()
