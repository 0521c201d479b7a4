"""What a pack is built from: the version's logged requirements and flavor, conveyor itself,
the project's code, the Python version and the platform. Reading them is cheap (no resolver,
no build), so an unchanged environment is recognised before anything is built."""

from __future__ import annotations

import hashlib
import json
import platform
import sys
import sysconfig
from dataclasses import dataclass
from pathlib import Path

# The module each MLflow flavor needs importable; python_function's loader module is added too.
FLAVOR_MODULES = {
    "sklearn": "sklearn",
    "xgboost": "xgboost",
    "lightgbm": "lightgbm",
    "catboost": "catboost",
    "pytorch": "torch",
    "tensorflow": "tensorflow",
    "keras": "keras",
    "onnx": "onnxruntime",
    "statsmodels": "statsmodels",
    "prophet": "prophet",
}
SKIPPED_FOLDERS = {"__pycache__", "node_modules", "data", "mlruns"}


@dataclass(frozen=True)
class ConveyorSource:
    """Where conveyor in the pack comes from: a wheel built from this installation's source
    tree (never an editable install), or, for an installed distribution, its pinned release."""

    version: str
    root: Path | None  # the source tree (pyproject.toml) a wheel is built from
    digest: str  # of the source files (or the release pin) and the extras
    extras: tuple[str, ...] = ()  # conveyor's optional extras the stands need (s3, postgres)

    @property
    def name(self) -> str:
        """The requirement's name with its extras: ``conveyor[s3]``."""
        return f"conveyor[{','.join(self.extras)}]" if self.extras else "conveyor"

    @property
    def pinned(self) -> str:
        return f"{self.name}=={self.version}"


@dataclass(frozen=True)
class ProjectCode:
    """The project's Python files (the train entrypoint and its neighbours), relative paths."""

    root: Path
    files: tuple[str, ...]
    digest: str


@dataclass(frozen=True)
class ModelEnvironment:
    """What MLflow logged with the version: its pinned requirements and its flavors."""

    requirements: tuple[str, ...]
    imports: tuple[str, ...]  # modules the pack must import: the flavor's and its loader


@dataclass(frozen=True)
class PackInputs:
    model: ModelEnvironment
    conveyor: ConveyorSource
    code: ProjectCode
    python: str  # major.minor
    platform: str

    @property
    def digest(self) -> str:
        """Identifies the inputs: equal inputs resolve, once resolved, to the same pack."""
        payload = [list(self.model.requirements), self.conveyor.digest, self.code.digest,
                   self.python, self.platform]
        return hashlib.sha256(json.dumps(payload).encode()).hexdigest()


def current_platform() -> str:
    """The platform a pack runs on: OS and machine, and the C library it was linked against."""
    libc, libc_version = platform.libc_ver()
    return "-".join(part for part in (sysconfig.get_platform(), libc, libc_version) if part)


def current_python() -> str:
    return f"{sys.version_info.major}.{sys.version_info.minor}"


def conveyor_source(extras: tuple[str, ...] = ()) -> ConveyorSource:
    from importlib.metadata import version

    import conveyor

    package = Path(conveyor.__file__).resolve().parent
    root = package.parent.parent
    pyproject = root / "pyproject.toml"
    release = version("conveyor")
    if not (pyproject.is_file() and 'name = "conveyor"' in pyproject.read_text(encoding="utf-8")):
        pin = f"conveyor=={release} {extras}"
        return ConveyorSource(release, None, hashlib.sha256(pin.encode()).hexdigest(), extras)
    digest = hashlib.sha256(repr(extras).encode())
    for path in [pyproject, *sorted(_python_files(package))]:
        digest.update(path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return ConveyorSource(release, root, digest.hexdigest(), extras)


def project_code(project_dir: Path) -> ProjectCode:
    root = project_dir.resolve()
    files = tuple(sorted(p.relative_to(root).as_posix() for p in _python_files(root)))
    digest = hashlib.sha256()
    for name in files:
        digest.update(name.encode() + b"\0" + (root / name).read_bytes() + b"\0")
    return ProjectCode(root, files, digest.hexdigest())


def read_requirements(text: str) -> tuple[str, ...]:
    """The requirement lines of a requirements.txt (comments, blanks and pip options dropped)."""
    lines = (line.split(" #", 1)[0].strip() for line in text.splitlines())
    return tuple(line for line in lines if line and not line.startswith(("#", "-")))


def flavor_imports(flavors: dict[str, object]) -> tuple[str, ...]:
    modules = [FLAVOR_MODULES[name] for name in flavors if name in FLAVOR_MODULES]
    pyfunc = flavors.get("python_function")
    loader = pyfunc.get("loader_module") if isinstance(pyfunc, dict) else None
    if isinstance(loader, str):
        modules.append(loader)
    return tuple(dict.fromkeys(modules))


def _python_files(root: Path) -> list[Path]:
    """Python files under ``root``, leaving out hidden folders, caches, data and virtualenvs."""
    found: list[Path] = []
    for path in root.iterdir():
        if path.name.startswith("."):
            continue
        if path.is_dir():
            if path.name not in SKIPPED_FOLDERS and not (path / "pyvenv.cfg").exists():
                found.extend(_python_files(path))
        elif path.suffix == ".py":
            found.append(path)
    return found
