"""Using a pack on a worker: its record read, the object streamed from the store once —
hashed, inflated and unpacked on the way — into a temporary sibling of the cache entry keyed
by the recorded SHA-256, renamed to it only if the hash matches (a mismatch is refused and
the staging folder removed), so a cache entry is whole or absent."""

from __future__ import annotations

import json
import os
import shutil
import uuid
from pathlib import Path

from conveyor.core.errors import PackHashMismatch, PackNotFoundError, StoreUnreachableError
from conveyor.core.packs import SUFFIX, record_location
from conveyor.packs.archive import BLOCK, extract_stream
from conveyor.packs.runtime import pack_python
from conveyor.packs.store import PackRecord

CACHE_VARIABLE = "CONVEYOR_PACK_CACHE"


def pack_cache() -> Path:
    """Where packs are unpacked: ``$CONVEYOR_PACK_CACHE``, else ~/.cache/conveyor/packs."""
    configured = os.environ.get(CACHE_VARIABLE)
    return Path(configured) if configured else Path.home() / ".cache" / "conveyor" / "packs"


def read_record(uri: str) -> PackRecord:
    """The record of the pack at ``uri`` (PackNotFoundError when object or record is missing)."""
    import fsspec

    if not uri.endswith(SUFFIX):
        raise PackNotFoundError(f"{uri} is not a pack (a pack's URI ends in {SUFFIX})",
                                hint="pass the conveyor.pack.uri tag of the version")
    try:
        fs, path = fsspec.core.url_to_fs(uri)
        if not fs.exists(path):
            raise PackNotFoundError(f"no pack at {uri}",
                                    hint="check the URI (the version's conveyor.pack.uri tag), or "
                                    "build it with `conveyor pack MODEL --version N`")
        with fs.open(record_location(path), "r") as handle:
            return PackRecord.of(json.load(handle))
    except FileNotFoundError:
        raise PackNotFoundError(f"the pack at {uri} has no record beside it; it is incomplete",
                                hint="build it again with `conveyor pack`") from None
    except (OSError, ValueError) as exc:
        if isinstance(exc, PackNotFoundError):
            raise
        raise StoreUnreachableError(f"cannot read the pack at {uri}: {exc}") from None


def fetch_pack(uri: str, cache: Path | None = None) -> Path:
    """The unpacked environment of the pack at ``uri``, ready to run (its python checked)."""
    record = read_record(uri)
    cache = cache or pack_cache()
    folder = cache / record.sha256
    if not folder.is_dir():
        cache.mkdir(parents=True, exist_ok=True)
        _unpack_once(uri, record.sha256, folder)
    pack_python(folder)
    return folder


def _unpack_once(uri: str, sha256: str, folder: Path) -> None:
    """Read the object once — hash, inflate and untar overlap — into a staging sibling of
    ``folder``, renamed to it only if the hash is the recorded one."""
    import fsspec

    staging = folder.with_name(f".{folder.name}.{uuid.uuid4().hex}.unpacking")
    try:
        fs, path = fsspec.core.url_to_fs(uri)
        try:
            with fs.open(path, "rb", block_size=BLOCK) as handle:
                unpacked = extract_stream(handle, staging)
        except FileNotFoundError:
            raise PackNotFoundError(f"no pack at {uri}") from None
        if unpacked.sha256 != sha256:  # said first: a changed object may not even unpack
            raise PackHashMismatch(
                f"the pack at {uri} has SHA-256 {unpacked.sha256}, its record says {sha256}; "
                "refusing to run it",
                hint="the object was changed or damaged after it was packed: build it again with "
                "`conveyor pack` (nothing was run; what was unpacked is removed)",
            )
        unpacked.checked()
        try:
            staging.rename(folder)
        except OSError:
            if not folder.is_dir():  # another process won the race: its copy is used
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
