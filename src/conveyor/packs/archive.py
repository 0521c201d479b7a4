"""The pack's file: a tar.gz of the environment folder, its SHA-256, and a safe extraction."""

from __future__ import annotations

import hashlib
import tarfile
from pathlib import Path

COMPRESS_LEVEL = 3  # gzip: most of the size gain of level 9 at a fraction of its time


def write_tarball(folder: Path, target: Path) -> Path:
    """``folder``'s contents (not the folder itself) as ``target``, symlinks kept as links."""
    with tarfile.open(target, "w:gz", compresslevel=COMPRESS_LEVEL) as archive:
        for path in sorted(folder.iterdir()):
            archive.add(path, arcname=path.name)
    return target


def extract_tarball(source: Path, folder: Path) -> Path:
    """Unpack into ``folder``: members may not escape it (links may point at the interpreter)."""
    folder.mkdir(parents=True, exist_ok=True)
    with tarfile.open(source, "r:gz") as archive:
        archive.extractall(folder, filter="tar")
    return folder


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
