"""The tarball: contents (not the folder), links kept, relocated folders name nothing of the build."""

from __future__ import annotations

import os
from pathlib import Path

from conveyor.packs.archive import extract_tarball, sha256_of, write_tarball
from conveyor.packs.build import RELATIVE_SHEBANG, relocate


def test_a_folder_round_trips_with_its_links(tmp_path: Path) -> None:
    folder = tmp_path / "env"
    (folder / "lib").mkdir(parents=True)
    (folder / "lib" / "a.txt").write_text("a")
    (folder / "link").symlink_to("lib/a.txt")
    tarball = write_tarball(folder, tmp_path / "env.tar.gz")
    out = extract_tarball(tarball, tmp_path / "out")
    assert (out / "lib" / "a.txt").read_text() == "a"
    assert os.readlink(out / "link") == "lib/a.txt"
    assert len(sha256_of(tarball)) == 64


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
