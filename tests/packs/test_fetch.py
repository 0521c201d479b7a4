"""fetch_pack: the record read, the bytes checked, unpacked once into the cache, atomically."""

from __future__ import annotations

from pathlib import Path

import pytest

from conveyor.core.errors import PackHashMismatch, PackInterpreterMissing, PackNotFoundError
from conveyor.packs import fetch_pack, pack_python, read_record
from conveyor.packs.store import PackRecord
from tests.packs.conftest import make_pack


def test_a_pack_is_unpacked_into_the_cache_under_its_hash(fake_pack: tuple[Path, PackRecord], tmp_path: Path) -> None:
    tarball, record = fake_pack
    cache = tmp_path / "cache"
    folder = fetch_pack(str(tarball), cache)
    assert folder == cache / record.sha256
    assert (folder / "marker.txt").read_text() == record.key
    assert pack_python(folder) == folder / "bin" / "python"
    assert sorted(p.name for p in cache.iterdir()) == [record.sha256]  # no staging left behind


def test_a_cached_pack_is_not_downloaded_or_unpacked_again(fake_pack: tuple[Path, PackRecord], tmp_path: Path) -> None:
    tarball, _ = fake_pack
    cache = tmp_path / "cache"
    first = fetch_pack(str(tarball), cache)
    (first / "marker.txt").write_text("unpacked once")
    tarball.write_bytes(b"")  # the object is only read on a cache miss
    assert (fetch_pack(str(tarball), cache) / "marker.txt").read_text() == "unpacked once"


def test_a_pack_whose_bytes_changed_is_refused_and_nothing_is_unpacked(fake_pack: tuple[Path, PackRecord], tmp_path: Path) -> None:
    tarball, record = fake_pack
    other, _ = make_pack(tmp_path / "other", "b" * 64)
    tarball.write_bytes(other.read_bytes())  # a valid tar.gz, not the one recorded
    cache = tmp_path / "cache"
    with pytest.raises(PackHashMismatch) as caught:
        fetch_pack(str(tarball), cache)
    assert record.sha256 in caught.value.message and "refusing to run it" in caught.value.message
    assert caught.value.exit_code == 1
    assert list(cache.iterdir()) == []


def test_a_missing_object_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(PackNotFoundError, match="no pack at"):
        read_record(str(tmp_path / "packs" / ("c" * 64 + ".tar.gz")))


def test_an_object_without_its_record_is_not_a_pack(fake_pack: tuple[Path, PackRecord]) -> None:
    tarball, _ = fake_pack
    tarball.with_name(tarball.name.replace(".tar.gz", ".json")).unlink()
    with pytest.raises(PackNotFoundError, match="no record"):
        read_record(str(tarball))


def test_a_uri_that_names_no_tarball_is_refused(tmp_path: Path) -> None:
    with pytest.raises(PackNotFoundError, match="ends in .tar.gz"):
        read_record(str(tmp_path / "env.zip"))


def test_a_pack_built_on_a_python_this_machine_lacks_says_which(tmp_path: Path) -> None:
    tarball, _ = make_pack(tmp_path / "store", "d" * 64, home="/nowhere/python3.11/bin")
    with pytest.raises(PackInterpreterMissing, match="/nowhere/python3.11/bin"):
        fetch_pack(str(tarball), tmp_path / "cache")


def test_an_object_replaced_by_bytes_that_are_not_even_gzip_is_a_hash_mismatch(
    fake_pack: tuple[Path, PackRecord], tmp_path: Path
) -> None:
    tarball, _ = fake_pack
    tarball.write_bytes(b"not the pack" * 100_000)
    cache = tmp_path / "cache"
    with pytest.raises(PackHashMismatch, match="refusing to run it"):
        fetch_pack(str(tarball), cache)
    assert list(cache.iterdir()) == []
