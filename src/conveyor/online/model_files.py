"""A checkpoint's model folder: the learner's state, and an MLmodel that names it (flavor
``conveyor_online``) with the features' signature, plus a ``python_function`` flavor so that
MLflow's own ``mlflow.pyfunc.load_model`` loads it (its loader is the scoring core's)."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import TYPE_CHECKING

from conveyor.scoring import ONLINE_FLAVOR, STATE_FILE

if TYPE_CHECKING:
    from conveyor.core.config.schema import ProjectConfig
    from conveyor.online.learner import Learner

_PINNED = ("conveyor", "scikit-learn", "numpy", "pandas", "river")


def write_model(folder: Path, learner: Learner, state: bytes, config: ProjectConfig) -> Path:
    """``folder`` holding MLmodel, the state file (``state``: ``learner.to_bytes()``) and
    requirements.txt."""
    import mlflow.pyfunc
    from mlflow.models import Model, ModelSignature
    from mlflow.types import ColSpec, Schema, TensorSpec

    folder.mkdir(parents=True, exist_ok=True)
    (folder / STATE_FILE).write_bytes(state)
    model = Model()
    columns: list[ColSpec | TensorSpec] = [ColSpec("double", name) for name in config.features.numeric]
    columns += [ColSpec("string", name) for name in config.features.categorical]
    model.signature = ModelSignature(inputs=Schema(columns))
    model.add_flavor(ONLINE_FLAVOR, state=STATE_FILE, learner=learner.describe(), task=learner.task)
    mlflow.pyfunc.add_to_model(model, loader_module="conveyor.scoring._online", data=STATE_FILE)
    model.save(str(folder / "MLmodel"))
    (folder / "requirements.txt").write_text("".join(f"{p}\n" for p in _pins()))
    return folder


def _pins() -> list[str]:
    pins = []
    for package in _PINNED:
        try:
            pins.append(f"{package}=={version(package)}")
        except PackageNotFoundError:
            continue
    return pins
