"""Running a pack's own Python: the interpreter it needs, and an environment that lets
nothing from the calling virtualenv in."""

from __future__ import annotations

import os
from pathlib import Path

from conveyor.core.errors import PackInterpreterMissing

LEAKY_VARIABLES = ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "PYTHONSTARTUP", "PYTHONUSERBASE",
                   "CONDA_PREFIX", "__PYVENV_LAUNCHER__")


def clean_environment(extra: dict[str, str] | None = None) -> dict[str, str]:
    """This process's environment without what would put another environment on sys.path."""
    environment = {k: v for k, v in os.environ.items() if k not in LEAKY_VARIABLES}
    environment["PYTHONNOUSERSITE"] = "1"
    environment.update(extra or {})
    return environment


def pack_python(folder: Path) -> Path:
    """The unpacked pack's interpreter, once its base Python is known to be there."""
    base = interpreter_home(folder)
    if base is not None and not base.is_dir():
        raise PackInterpreterMissing(
            f"the pack in {folder} runs on the Python at {base}, which is not on this machine",
            hint=f"install that Python at {base} (the pack records it in pyvenv.cfg), or pack the "
            "version again on a machine like this one",
        )
    return folder / "bin" / "python"


def interpreter_home(folder: Path) -> Path | None:
    """The base interpreter's folder, as the venv's pyvenv.cfg names it."""
    config = folder / "pyvenv.cfg"
    if not config.is_file():
        return None
    for line in config.read_text(encoding="utf-8").splitlines():
        key, _, value = line.partition("=")
        if key.strip() == "home":
            return Path(value.strip())
    return None
