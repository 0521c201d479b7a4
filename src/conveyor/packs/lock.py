"""The lock: every package of the environment pinned (uv's resolution of the version's
requirements with conveyor's wheel), and the content address of the pack built from it —
the SHA-256 of (lock, Python version, platform)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from conveyor.packs.inputs import PackInputs
from conveyor.packs.uv import Uv


@dataclass(frozen=True)
class PackLock:
    """``text`` is what identifies the environment: the pins, conveyor's source digest and the
    project code's digest (not the temporary path of the wheel); ``install`` is what uv installs."""

    text: str
    install: str
    python: str
    platform: str

    @property
    def key(self) -> str:
        return hashlib.sha256(json.dumps([self.text, self.python, self.platform]).encode()).hexdigest()


def resolve_lock(inputs: PackInputs, conveyor: str, python: str, uv: Uv, workdir: Path) -> PackLock:
    """Resolve the inputs for ``python`` (an interpreter path or X.Y); ``conveyor`` is the
    requirement line for conveyor itself (``conveyor @ file://…whl`` or ``conveyor==X``)."""
    wanted = workdir / "requirements.in"
    wanted.write_text("\n".join([*inputs.model.requirements, conveyor]) + "\n", encoding="utf-8")
    pinned = uv.run(
        ["pip", "compile", str(wanted), "--python", python, "--no-header", "--no-annotate", "--quiet"],
        "resolving the version's requirements",
    )
    install = [line for line in pinned.splitlines() if line.strip() and not line.startswith("#")]
    identity = [
        f"conveyor @ source sha256:{inputs.conveyor.digest}" if _is_conveyor(line) else line
        for line in install
    ]
    identity.append(f"# project code sha256:{inputs.code.digest}")
    return PackLock("\n".join(identity) + "\n", "\n".join(install) + "\n", inputs.python, inputs.platform)


def _is_conveyor(line: str) -> bool:
    name = line.split("@", 1)[0].split("==", 1)[0].split("[", 1)[0].strip().lower()
    return name == "conveyor"
