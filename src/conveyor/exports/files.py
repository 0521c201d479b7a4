"""Writing an export: every file rendered and checked first, then written whole (each one to
a temporary name beside it, then renamed), so a failed export leaves the folder as it was."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path


def write_files(files: dict[str, str], out: Path) -> list[Path]:
    """Write ``files`` (name → text) into folder ``out``; the paths written, in name order."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name in sorted(files):
        target = out / name
        partial = out / f".{name}.partial"
        partial.write_text(files[name], encoding="utf-8")
        os.replace(partial, target)
        written.append(target)
    return written


def digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
