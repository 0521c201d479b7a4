"""The tarball: contents (not the folder), links kept, relocated folders name nothing of the build."""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import pytest

from conveyor.core.errors import PackError
from conveyor.packs import archive
from conveyor.packs.archive import extract_tarball, sha256_of, write_tarball
from conveyor.packs.build import RELATIVE_SHEBANG, prune_build_inputs, prune_test_suites, relocate


def test_a_folder_round_trips_with_its_links(tmp_path: Path) -> None:
    folder = tmp_path / "env"
    (folder / "lib").mkdir(parents=True)
    (folder / "lib" / "a.txt").write_text("a")
    (folder / "link").symlink_to("lib/a.txt")
    tarball = write_tarball(folder, tmp_path / "env.tar.gz")
    out = tmp_path / "out"
    assert extract_tarball(tarball, out) == sha256_of(tarball)  # hashed while unpacking
    assert (out / "lib" / "a.txt").read_text() == "a"
    assert os.readlink(out / "link") == "lib/a.txt"


def test_without_gnu_tar_python_unpacks_the_same_and_hashes_the_same(tmp_path: Path, monkeypatch) -> None:
    folder = tmp_path / "env"
    (folder / "lib").mkdir(parents=True)
    (folder / "lib" / "a.bin").write_bytes(os.urandom(3 << 20))  # spans blocks
    (folder / "link").symlink_to("lib/a.bin")
    tarball = write_tarball(folder, tmp_path / "env.tar.gz")
    monkeypatch.setattr(archive, "_gnu_tar", lambda: None)
    out = tmp_path / "out"
    assert extract_tarball(tarball, out) == sha256_of(tarball)
    assert (out / "lib" / "a.bin").read_bytes() == (folder / "lib" / "a.bin").read_bytes()
    assert os.readlink(out / "link") == "lib/a.bin"


def test_a_tarball_of_several_gzip_members_unpacks_whole(tmp_path: Path) -> None:
    """gzip allows members back to back (what a parallel compressor writes)."""
    import io
    import tarfile

    plain = io.BytesIO()
    with tarfile.open(fileobj=plain, mode="w") as tar:
        for name in ("a.txt", "b.txt"):
            data = name.encode() * 100_000
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    raw = plain.getvalue()
    half = len(raw) // 2
    tarball = tmp_path / "two.tar.gz"
    tarball.write_bytes(gzip.compress(raw[:half]) + gzip.compress(raw[half:]))
    extract_tarball(tarball, tmp_path / "out")
    assert (tmp_path / "out" / "b.txt").read_bytes() == b"b.txt" * 100_000


@pytest.mark.parametrize("gnu_tar", [True, False])
def test_bytes_that_are_not_a_tar_gz_are_a_pack_error(gnu_tar: bool, tmp_path: Path, monkeypatch) -> None:
    if not gnu_tar:
        monkeypatch.setattr(archive, "_gnu_tar", lambda: None)
    tarball = tmp_path / "bad.tar.gz"
    tarball.write_bytes(b"this is not gzip" * 1000)
    with pytest.raises(PackError, match="unpacking failed"):
        extract_tarball(tarball, tmp_path / "out")


def test_relocate_makes_inner_links_relative_and_shebangs_path_free(tmp_path: Path) -> None:
    folder = tmp_path / "env"
    (folder / "bin").mkdir(parents=True)
    (folder / "lib").mkdir()
    (folder / "lib" / "real").write_text("x")
    (folder / "lib" / "inner").symlink_to(folder / "lib" / "real")
    (folder / "bin" / "python").symlink_to("/usr/bin/python3")  # the base interpreter stays
    (folder / "bin" / "tool").write_text(f"#!{folder}/bin/python\nprint('hi')\n")
    relocate(folder)
    assert os.readlink(folder / "lib" / "inner") == "real"
    assert os.readlink(folder / "bin" / "python") == "/usr/bin/python3"
    text = (folder / "bin" / "tool").read_text()
    assert text == RELATIVE_SHEBANG + "print('hi')\n" and str(folder) not in text


def test_only_the_known_test_suites_are_pruned(tmp_path: Path) -> None:
    site = tmp_path / "env" / "lib" / "python3.11" / "site-packages"
    for name in ("pandas/tests/frame/test_api.py", "pandas/testing.py", "scipy/stats/tests/test_x.py",
                 "scipy/stats/_stats.py", "fsspec/tests/abstract/__init__.py", "mlflow/skills/tests/run.py"):
        (site / name).parent.mkdir(parents=True, exist_ok=True)
        (site / name).write_text("")
    removed = prune_test_suites(tmp_path / "env")
    assert removed == ["lib/python3.11/site-packages/pandas/tests", "lib/python3.11/site-packages/scipy/stats/tests"]
    left = sorted(str(p.relative_to(site)) for p in site.rglob("*.py"))
    assert left == ["fsspec/tests/abstract/__init__.py", "mlflow/skills/tests/run.py", "pandas/testing.py",
                    "scipy/stats/_stats.py"]


def test_build_only_sources_and_the_mlflow_ui_bundle_are_pruned_and_listed(tmp_path: Path) -> None:
    site = tmp_path / "env" / "lib" / "python3.11" / "site-packages"
    kept = ("sklearn/tree/_tree.cpython-311-x86_64-linux-gnu.so", "sklearn/tree/_tree.py", "cffi/parse_c_type.h",
            "mlflow/server/__init__.py", "pyarrow/include/arrow/api.hpp.txt")
    gone = ("sklearn/tree/_tree.pyx", "sklearn/tree/_tree.pxd", "numpy/_core/include/numpy/ndarrayobject.h",
            "pyarrow/include/arrow/api.h", "markupsafe/_speedups.c", "mlflow/server/js/build/index.html")
    for name in kept + gone:
        (site / name).parent.mkdir(parents=True, exist_ok=True)
        (site / name).write_text("x")
    removed = prune_build_inputs(tmp_path / "env")
    assert removed == ["lib/python3.11/site-packages/mlflow/server/js",
                       "lib/python3.11/site-packages/**/*.pyx (1 files)", "lib/python3.11/site-packages/**/*.pxd (1 files)",
                       "lib/python3.11/site-packages/**/*.c (1 files)", "lib/python3.11/site-packages/**/*.h (2 files)"]
    assert all((site / name).exists() for name in kept) and not any((site / name).exists() for name in gone)


def test_a_member_that_would_escape_the_folder_is_refused_with_tars_reason(tmp_path: Path) -> None:
    import io
    import tarfile

    plain = io.BytesIO()
    with tarfile.open(fileobj=plain, mode="w") as tar:
        info = tarfile.TarInfo("../escape.txt")
        info.size = 1
        tar.addfile(info, io.BytesIO(b"x"))
    tarball = tmp_path / "evil.tar.gz"
    tarball.write_bytes(gzip.compress(plain.getvalue()))
    with pytest.raises(PackError, match=r"unpacking failed: .*\.\.") as caught:
        extract_tarball(tarball, tmp_path / "out" / "in")
    assert "Exiting" not in caught.value.message
    assert not (tmp_path / "out" / "escape.txt").exists()


def test_a_store_that_fails_mid_read_leaves_no_tar_running(tmp_path: Path) -> None:
    import io

    folder = tmp_path / "env"
    (folder / "lib").mkdir(parents=True)
    (folder / "lib" / "a.bin").write_bytes(os.urandom(6 << 20))
    data = write_tarball(folder, tmp_path / "env.tar.gz").read_bytes()

    class Failing(io.BytesIO):
        def read(self, size: int | None = -1) -> bytes:
            if self.tell() > len(data) // 2:
                raise OSError("connection reset by the store")
            return super().read(size)

    with pytest.raises(OSError, match="connection reset"):
        archive.extract_stream(Failing(data), tmp_path / "out")
    import subprocess

    running = subprocess.run(["pgrep", "-f", f"--directory {tmp_path / 'out'}"], capture_output=True, text=True,
                             check=False)
    assert running.stdout.strip() == ""
