"""The pack's file: a tar.gz of the environment folder, its SHA-256, and a safe extraction.

GNU tar (with gzip) does the work where it is installed — several times faster than Python's
tarfile on a few hundred MB of small files; tarfile is the fallback, with the same layout.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import tarfile
from pathlib import Path

from conveyor.core.errors import PackError

COMPRESS_LEVEL = 3  # gzip: most of the size gain of level 9 at a fraction of its time


def write_tarball(folder: Path, target: Path) -> Path:
    """``folder``'s contents (not the folder itself) as ``target``, symlinks kept as links."""
    tar = _gnu_tar()
    if tar is not None:
        _run([tar, "--create", f"--use-compress-program=gzip -{COMPRESS_LEVEL}", "--file", str(target),
              "--directory", str(folder), "."], f"writing {target.name}")
        return target
    with tarfile.open(target, "w:gz", compresslevel=COMPRESS_LEVEL) as archive:
        for path in sorted(folder.iterdir()):
            archive.add(path, arcname=path.name)
    return target


def extract_tarball(source: Path, folder: Path) -> Path:
    """Unpack into ``folder``: members may not escape it (links may point at the interpreter)."""
    folder.mkdir(parents=True, exist_ok=True)
    tar = _gnu_tar()
    if tar is not None:  # GNU tar strips leading '/' and refuses members with '..' in them
        _run([tar, "--extract", "--gzip", "--no-same-owner", "--file", str(source),
              "--directory", str(folder)], f"unpacking {source.name}")
        return folder
    with tarfile.open(source, "r:gz") as archive:
        archive.extractall(folder, filter="tar")
    return folder


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _gnu_tar() -> str | None:
    tar = shutil.which("tar")
    if tar is None or shutil.which("gzip") is None:
        return None
    done = subprocess.run([tar, "--version"], capture_output=True, text=True, check=False)
    return tar if "GNU tar" in done.stdout else None


def _run(command: list[str], what: str) -> None:
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["(no output)"])[-1]
        raise PackError(f"{what} failed: {last}")
