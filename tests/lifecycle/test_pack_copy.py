"""Copying an environment pack between two stands' artifact stores, hash checked."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from conveyor.core.errors import StandCopyError
from conveyor.core.packs import record_location
from conveyor.lifecycle.pack_copy import copy_pack
from conveyor.stack.artifacts import ArtifactStore


@pytest.fixture
def stores(tmp_path: Path) -> tuple[ArtifactStore, ArtifactStore]:
    return ArtifactStore(str(tmp_path / "mdp")), ArtifactStore(str(tmp_path / "sim"))


RECORD = b'{"key": "abc"}'


def put(store: ArtifactStore, relative: str, payload: bytes, record: bytes | None = RECORD) -> str:
    """A pack object and, unless ``record`` is None, its record beside it."""
    with store.open(relative, "wb") as handle:
        handle.write(payload)
    if record is not None:
        with store.open(record_location(relative), "wb") as handle:
            handle.write(record)
    return store.url(relative)


def test_the_pack_keeps_its_path_and_its_bytes(stores: tuple[ArtifactStore, ArtifactStore]) -> None:
    source, target = stores
    payload = b"tar.gz bytes" * 100_000
    uri = put(source, "packs/abc.tar.gz", payload)
    copied = copy_pack(source, target, uri, hashlib.sha256(payload).hexdigest())
    assert copied.created and copied.uri == target.url("packs/abc.tar.gz")
    assert Path(copied.uri).read_bytes() == payload
    assert Path(target.url("packs/abc.json")).read_bytes() == RECORD  # a reader finds a whole pack

    again = copy_pack(source, target, uri, "sha256:" + hashlib.sha256(payload).hexdigest())
    assert not again.created and again.uri == copied.uri  # already there with the right hash


def test_a_pack_outside_the_source_store_goes_under_packs(
    stores: tuple[ArtifactStore, ArtifactStore], tmp_path: Path
) -> None:
    source, target = stores
    elsewhere = tmp_path / "somewhere" / "env.tar.gz"
    elsewhere.parent.mkdir()
    elsewhere.write_bytes(b"pack")
    (elsewhere.parent / "env.json").write_bytes(RECORD)
    copied = copy_pack(source, target, str(elsewhere), hashlib.sha256(b"pack").hexdigest())
    assert copied.relative == "packs/env.tar.gz" and target.exists("packs/env.tar.gz")
    assert target.exists("packs/env.json")


def test_a_hash_mismatch_copies_nothing(stores: tuple[ArtifactStore, ArtifactStore]) -> None:
    source, target = stores
    uri = put(source, "packs/abc.tar.gz", b"changed after it was built")
    with pytest.raises(StandCopyError, match="has SHA-256 .* not 0{64}") as caught:
        copy_pack(source, target, uri, "0" * 64)
    assert "conveyor pack" in (caught.value.hint or "")
    assert not target.exists("packs/abc.tar.gz")


def test_a_damaged_pack_on_the_target_is_replaced(stores: tuple[ArtifactStore, ArtifactStore]) -> None:
    source, target = stores
    uri = put(source, "packs/abc.tar.gz", b"good")
    put(target, "packs/abc.tar.gz", b"bad")
    copied = copy_pack(source, target, uri, hashlib.sha256(b"good").hexdigest())
    assert copied.created and Path(copied.uri).read_bytes() == b"good"


def test_a_missing_pack_is_one_clear_error(stores: tuple[ArtifactStore, ArtifactStore]) -> None:
    source, target = stores
    with pytest.raises(StandCopyError, match="environment pack .* is missing"):
        copy_pack(source, target, source.url("packs/gone.tar.gz"), "0" * 64)
    assert not target.exists("packs/gone.tar.gz")


def test_a_pack_without_its_record_is_refused_and_nothing_is_copied(
    stores: tuple[ArtifactStore, ArtifactStore]
) -> None:
    source, target = stores
    uri = put(source, "packs/abc.tar.gz", b"pack", record=None)
    with pytest.raises(StandCopyError, match="has no record beside it .abc.json.: it is incomplete"):
        copy_pack(source, target, uri, hashlib.sha256(b"pack").hexdigest())
    assert not target.exists("packs/abc.tar.gz") and not target.exists("packs/abc.json")


def test_a_copy_that_stopped_before_the_record_is_completed(stores: tuple[ArtifactStore, ArtifactStore]) -> None:
    source, target = stores
    uri = put(source, "packs/abc.tar.gz", b"pack")
    put(target, "packs/abc.tar.gz", b"pack", record=None)  # the object made it, the record did not
    copied = copy_pack(source, target, uri, hashlib.sha256(b"pack").hexdigest())
    assert not copied.created and Path(target.url("packs/abc.json")).read_bytes() == RECORD
