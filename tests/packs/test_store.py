"""The packs layout in the artifact store: an object counts once its record is written."""

from __future__ import annotations

from pathlib import Path

from conveyor.packs.store import PackRecord, PackStore
from conveyor.stack.artifacts import ArtifactStore


def _record(key: str, size: int) -> PackRecord:
    return PackRecord(key, "f" * 64, size, "3.11", "linux", "/usr/bin", "a==1\n")


def test_a_stored_pack_is_found_by_its_key_and_its_inputs(tmp_path: Path) -> None:
    store = PackStore(ArtifactStore(str(tmp_path / "artifacts")))
    tarball = tmp_path / "x.tar.gz"
    tarball.write_bytes(b"pack")
    key = "e" * 64
    uri = store.put(tarball, _record(key, 4))
    store.remember_inputs("digest", key)
    assert uri == str(tmp_path / "artifacts" / "packs" / f"{key}.tar.gz")
    assert Path(uri).read_bytes() == b"pack"
    assert store.find(key) == _record(key, 4)
    assert store.key_for_inputs("digest") == key and store.key_for_inputs("other") is None
    assert sorted(p.name for p in (tmp_path / "artifacts" / "packs").iterdir()) == [
        f"{key}.json", f"{key}.tar.gz", "inputs"]  # no staging copy left


def test_an_object_without_its_record_is_not_found(tmp_path: Path) -> None:
    store = PackStore(ArtifactStore(str(tmp_path)))
    (tmp_path / "packs").mkdir()
    (tmp_path / "packs" / ("e" * 64 + ".tar.gz")).write_bytes(b"half")
    assert store.find("e" * 64) is None
