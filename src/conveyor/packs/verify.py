"""The check a pack passes before it is stored: unpacked into another folder, its own Python,
with nothing of the calling environment, imports conveyor and the model's flavor."""

from __future__ import annotations

import subprocess
from pathlib import Path

from conveyor.core.errors import PackVerificationError
from conveyor.packs.archive import extract_tarball
from conveyor.packs.runtime import clean_environment, pack_python

CHECK = "import sys, {modules}; assert sys.prefix == {prefix!r}, sys.prefix"


def verify_tarball(tarball: Path, imports: tuple[str, ...], folder: Path) -> str:
    """Unpack ``tarball`` into ``folder`` and import ``imports`` with its Python, from there;
    the tarball's SHA-256 (computed while unpacking)."""
    sha256 = extract_tarball(tarball, folder)
    modules = ", ".join(dict.fromkeys(("conveyor", *imports)))
    code = CHECK.format(modules=modules, prefix=str(folder.resolve()))
    done = subprocess.run([str(pack_python(folder)), "-c", code], capture_output=True, text=True,
                          cwd=folder.parent, env=clean_environment(), check=False)
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["(no output)"])[-1]
        raise PackVerificationError(
            f"the built pack failed its check (import {modules}) when unpacked elsewhere: {last}",
            hint="nothing was stored and no tag was set; the version's requirements may lack the "
            "flavor's package (add it to runtime.requirements and train again)",
        )
    return sha256
