"""The artifact store's paths, removal and reachability probe."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from conveyor.core.errors import StoreUnreachableError
from conveyor.stack.artifacts import ArtifactStore


def test_paths_inside_and_outside_the_store(tmp_path: Path) -> None:
    store = ArtifactStore(str(tmp_path / "store"))
    assert store.url("packs/a.tar.gz") == f"{tmp_path}/store/packs/a.tar.gz"
    assert store.relative(store.url("packs/a.tar.gz")) == "packs/a.tar.gz"
    assert store.relative(f"file://{tmp_path}/store/mlflow/1/artifacts") == "mlflow/1/artifacts"
    assert store.relative(str(tmp_path / "elsewhere" / "a.tar.gz")) is None
    assert store.relative("s3://bucket/store/a.tar.gz") is None


def test_write_read_and_remove(tmp_path: Path) -> None:
    store = ArtifactStore(str(tmp_path / "store"))
    with store.open("runs/1/a.txt", "wb") as handle:
        handle.write(b"x")
    assert store.exists("runs/1/a.txt")
    store.remove_tree("runs")
    assert not store.exists("runs/1/a.txt")
    store.remove("runs/1/a.txt")  # nothing there: nothing to do
    store.remove_tree("runs")


def test_an_unanswering_object_store_is_one_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                        "AWS_DEFAULT_REGION": "us-east-1", "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}"}.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(StoreUnreachableError, match=r"artifact store s3://bucket/churn is unreachable"):
        ArtifactStore("s3://bucket/churn").probe()


def test_a_local_store_needs_no_probe(tmp_path: Path) -> None:
    ArtifactStore(str(tmp_path / "not-yet-created")).probe()
