"""Using a pack on a worker: its record read, the object downloaded and checked against the
recorded SHA-256 (a mismatch is refused), unpacked once into a cache keyed by that hash —
into a temporary sibling first, then renamed, so a cache entry is whole or absent."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import uuid
from pathlib import Path

from conveyor.core.errors import PackHashMismatch, PackNotFoundError, StoreUnreachableError
from conveyor.core.packs import SUFFIX, record_location
from conveyor.packs.archive import extract_tarball, sha256_of
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
        with tempfile.TemporaryDirectory(prefix=".download-", dir=cache) as scratch:
            tarball = _download(uri, Path(scratch) / f"{record.key}{SUFFIX}")
            actual = sha256_of(tarball)
            if actual != record.sha256:
                raise PackHashMismatch(
                    f"the pack at {uri} has SHA-256 {actual}, its record says {record.sha256}; "
                    "refusing to run it",
                    hint="the object was changed or damaged after it was packed: build it again "
                    "with `conveyor pack` (nothing was unpacked or run)",
                )
            _unpack_once(tarball, folder)
    pack_python(folder)
    return folder


def _download(uri: str, target: Path) -> Path:
    import fsspec

    fs, path = fsspec.core.url_to_fs(uri)
    try:
        fs.get_file(path, str(target))
    except FileNotFoundError:
        raise PackNotFoundError(f"no pack at {uri}") from None
    return target


def _unpack_once(tarball: Path, folder: Path) -> None:
    staging = folder.with_name(f".{folder.name}.{uuid.uuid4().hex}.unpacking")
    try:
        extract_tarball(tarball, staging)
        try:
            staging.rename(folder)
        except OSError:
            if not folder.is_dir():  # another process won the race: its copy is used
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
