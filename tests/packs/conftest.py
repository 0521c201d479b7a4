"""Small fake packs (a venv-shaped folder, no packages) for the tests that need no real build."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from conveyor.packs.archive import sha256_of, write_tarball
from conveyor.packs.store import PackRecord


def make_pack(store: Path, key: str, home: str | None = None,
              files: dict[str, str] | None = None) -> tuple[Path, PackRecord]:
    """``<store>/packs/<key>.tar.gz`` and its record: a venv folder whose python is this one's
    (``files``: more files in it, relative path → text)."""
    folder = store / "build" / key
    (folder / "bin").mkdir(parents=True)
    base = Path(sys.base_prefix) / "bin"
    (folder / "pyvenv.cfg").write_text(f"home = {home or base}\ninclude-system-site-packages = false\n")
    (folder / "bin" / "python").symlink_to(Path(sys._base_executable if hasattr(sys, "_base_executable") else sys.executable))
    (folder / "bin" / "python3").symlink_to("python")
    (folder / "marker.txt").write_text(key)
    for relative, text in (files or {}).items():
        (folder / relative).parent.mkdir(parents=True, exist_ok=True)
        (folder / relative).write_text(text)
    packs = store / "packs"
    packs.mkdir(parents=True, exist_ok=True)
    tarball = write_tarball(folder, packs / f"{key}.tar.gz")
    record = PackRecord(key, sha256_of(tarball), tarball.stat().st_size, "3.11", "test", str(home or base), "lock\n")
    (packs / f"{key}.json").write_text(json.dumps(record.to_dict()))
    return tarball, record


@pytest.fixture
def fake_pack(tmp_path: Path) -> tuple[Path, PackRecord]:
    return make_pack(tmp_path / "store", "a" * 64)
