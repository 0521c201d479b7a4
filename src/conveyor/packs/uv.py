"""The one tool packs are built with: uv (resolve, create a relocatable venv, install, build
conveyor's wheel). Its cache lies outside any project, so a second build reuses downloads."""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

from conveyor.core.errors import PackError, PackResolutionError

CACHE_VARIABLE = "CONVEYOR_PACK_BUILD_CACHE"


def build_cache() -> Path:
    """uv's download cache for packs: ``$CONVEYOR_PACK_BUILD_CACHE``, else ~/.cache/conveyor-packs."""
    configured = os.environ.get(CACHE_VARIABLE)
    return Path(configured) if configured else Path.home() / ".cache" / "conveyor-packs"


@dataclass(frozen=True)
class Uv:
    binary: str
    cache: Path

    @classmethod
    def find(cls) -> Uv:
        try:
            from uv import find_uv_bin
        except ImportError:
            raise PackError(
                "building a pack needs uv, which is not installed",
                hint="pip install 'conveyor[pack]'",
            ) from None
        return cls(find_uv_bin(), build_cache())

    def run(self, args: list[str], what: str, *, error: type[PackError] = PackResolutionError,
            cwd: Path | None = None) -> str:
        """Run ``uv ARGS``; its output, or ``error`` naming ``what`` failed and uv's reason."""
        environment = {**os.environ, "UV_CACHE_DIR": str(self.cache), "UV_PYTHON_DOWNLOADS": "never",
                       "UV_NO_PROGRESS": "1"}
        for name in ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME", "UV_PYTHON"):
            environment.pop(name, None)
        done = subprocess.run([self.binary, *args], capture_output=True, text=True, env=environment,
                              cwd=cwd, check=False)
        if done.returncode != 0:
            raise error(f"{what} failed: {_reason(done.stderr)}", hint=_hint(error))
        return done.stdout


def _reason(stderr: str) -> str:
    """uv's explanation in one line: its error lines, without the decoration."""
    lines = [line.strip(" ×╰─▶│") .strip() for line in stderr.splitlines()]
    lines = [line for line in lines if line and not line.startswith(("Using ", "Resolved ", "warning:"))]
    text = "; ".join(lines) or "uv exited with an error and said nothing"
    return text if len(text) <= 600 else text[:600] + " …"


def _hint(error: type[PackError]) -> str | None:
    if error is PackResolutionError:
        return ("fix runtime.requirements in conveyor.yaml (or the version's requirements.txt) so "
                "every pin exists for this Python and platform, then train and pack again; nothing "
                "was stored and no tag was set")
    return None
