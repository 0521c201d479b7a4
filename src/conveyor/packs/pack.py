"""`conveyor pack`: one registered version's environment, built once per content address,
stored in the stand's artifact store, verified, then recorded on the version as tags.

    inputs  (requirements + flavor from the model, conveyor, project code, Python, platform)
      └─ seen before? → the key they resolved to; its pack exists → tag, done
    lock    (uv resolves) → key = sha256(lock, Python, platform); pack exists → tag, done
    build   (wheel, relocatable venv, code) → tar.gz → verify (unpacked elsewhere, imports)
      └─ store (object whole, then its record) → tags (key, sha256, then the URI)

A failure anywhere leaves no tag and no record (an object without its record is not a pack).
"""

from __future__ import annotations

import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from conveyor.core import tags
from conveyor.core.errors import PackError
from conveyor.packs.archive import write_tarball
from conveyor.packs.build import build_environment, conveyor_requirement
from conveyor.packs.inputs import (
    ModelEnvironment,
    PackInputs,
    conveyor_source,
    current_platform,
    current_python,
    flavor_imports,
    project_code,
    read_requirements,
)
from conveyor.packs.lock import resolve_lock
from conveyor.packs.runtime import interpreter_home
from conveyor.packs.store import PackRecord, PackStore
from conveyor.packs.uv import Uv
from conveyor.packs.verify import verify_tarball

if TYPE_CHECKING:
    from mlflow import MlflowClient


EXTRA_MODULES = {"s3": ("s3fs", "boto3"), "postgres": ("psycopg",)}  # what each extra must import


class Steps(Protocol):
    def step(self, title: str) -> AbstractContextManager[None]: ...


class _NoSteps:
    @contextmanager
    def step(self, title: str) -> Iterator[None]:
        yield


@dataclass(frozen=True)
class PackRequest:
    model: str
    version: str
    project_dir: Path
    python: str | None = None  # runtime.python; None: this interpreter's major.minor
    extras: tuple[str, ...] = ()  # conveyor's extras the stands need (s3, postgres)


@dataclass(frozen=True)
class PackResult:
    model: str
    version: str
    key: str
    uri: str
    sha256: str
    size: int
    python: str
    built: bool  # False: an identical environment was already stored and is reused
    duration_s: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def pack_version(client: MlflowClient, store: PackStore, request: PackRequest,
                 steps: Steps | None = None) -> PackResult:
    started = time.perf_counter()
    steps = steps or _NoSteps()
    with steps.step(f"read {request.model} v{request.version}'s environment"):
        inputs = _inputs(client, request)
    record = _known(store, inputs)
    built = False
    if record is None:
        record, built = _resolve_and_build(store, inputs, request, steps)
    uri = store.uri(record.key)
    for name, value in ((tags.PACK_KEY, record.key), (tags.PACK_SHA256, record.sha256), (tags.PACK_URI, uri)):
        client.set_model_version_tag(request.model, request.version, name, value)
    return PackResult(request.model, request.version, record.key, uri, record.sha256, record.size,
                      record.python, built, round(time.perf_counter() - started, 3))


def _inputs(client: MlflowClient, request: PackRequest) -> PackInputs:
    return PackInputs(
        model=read_model_environment(client, request.model, request.version),
        conveyor=conveyor_source(request.extras),
        code=project_code(request.project_dir),
        python=request.python or current_python(),
        platform=current_platform(),
    )


def _known(store: PackStore, inputs: PackInputs) -> PackRecord | None:
    key = store.key_for_inputs(inputs.digest)
    return None if key is None else store.find(key)


def _resolve_and_build(store: PackStore, inputs: PackInputs, request: PackRequest,
                       steps: Steps) -> tuple[PackRecord, bool]:
    uv = Uv.find()
    python = sys.executable if inputs.python == current_python() else inputs.python
    with tempfile.TemporaryDirectory(prefix="conveyor-pack-") as scratch:
        work = Path(scratch)
        with steps.step("build conveyor's wheel"):
            conveyor = conveyor_requirement(inputs.conveyor, uv, work)
        with steps.step(f"resolve the requirements for Python {inputs.python}"):
            lock = resolve_lock(inputs, conveyor, python, uv, work)
        existing = store.find(lock.key)
        if existing is not None:
            store.remember_inputs(inputs.digest, lock.key)
            return existing, False
        with steps.step("install the environment"):
            folder = build_environment(lock, inputs.code, python, uv, work / "env")
        with steps.step("compress it"):
            tarball = write_tarball(folder, work / f"{lock.key}.tar.gz")
        with steps.step("verify it, unpacked elsewhere"):
            extra_modules = [m for extra in request.extras for m in EXTRA_MODULES.get(extra, ())]
            sha256 = verify_tarball(tarball, (*inputs.model.imports, *extra_modules), work / "verify")
        home = interpreter_home(folder)
        record = PackRecord(lock.key, sha256, tarball.stat().st_size, lock.python,
                            lock.platform, str(home or ""), lock.text)
        with steps.step("store it in the artifact store"):
            store.put(tarball, record)
            store.remember_inputs(inputs.digest, lock.key)
    return record, True


def read_model_environment(client: MlflowClient, name: str, version: str) -> ModelEnvironment:
    """The requirements MLflow logged with the version (requirements.txt, else conda.yaml's
    pip list) and the modules its flavors need."""
    import yaml
    from mlflow.models import Model

    from conveyor.scoring import download_version_file

    with tempfile.TemporaryDirectory(prefix="conveyor-pack-model-") as folder:
        flavors = Model.load(download_version_file(client, name, version, "MLmodel", folder)).flavors
        try:
            text = Path(download_version_file(client, name, version, "requirements.txt", folder)).read_text()
            requirements = read_requirements(text)
        except Exception:  # noqa: BLE001 - older models log only conda.yaml
            conda = yaml.safe_load(Path(download_version_file(client, name, version, "conda.yaml", folder)).read_text())
            pips = [d["pip"] for d in conda.get("dependencies", []) if isinstance(d, dict) and "pip" in d]
            requirements = read_requirements("\n".join(pips[0] if pips else []))
    if not requirements:
        raise PackError(f"{name} v{version} was logged with no requirements to pack",
                        hint="train it again with conveyor (it pins the model's packages)")
    return ModelEnvironment(requirements, flavor_imports(dict(flavors)))
