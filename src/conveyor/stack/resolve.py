"""Resolve where runs, models and data live for one environment."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from conveyor.core.config.loader import LoadedConfig
from conveyor.core.config.schema import EnvironmentSpec

STATE_DIR = ".conveyor"
TRACKING_ENV_VARIABLES = ("CONVEYOR_TRACKING_URI", "MLFLOW_TRACKING_URI")


@dataclass(frozen=True)
class Stack:
    """The concrete stores for one environment.

    With nothing configured, everything is embedded under the project's ``.conveyor/``:
    a SQLite MLflow store and a local artifact folder. No server is started.
    """

    tracking_uri: str
    registry_uri: str
    artifact_store: str
    broker: str | None = None  # the stand's message broker (kafka://…, redis://…), if any

    @property
    def embedded(self) -> bool:
        return self.tracking_uri.startswith("sqlite:")

    @property
    def mlflow_artifact_root(self) -> str:
        """Where MLflow puts run and model artifacts for experiments conveyor creates."""
        root = self.artifact_store.rstrip("/") + "/mlflow"
        if "://" not in root:
            return Path(root).resolve().as_uri()
        return root


    def same_stand(self, other: Stack) -> bool:
        """Whether both name the same registry and tracking store (then a promotion between
        them is an alias move, whatever the environments are called)."""
        return (self.tracking_uri, self.registry_uri) == (other.tracking_uri, other.registry_uri)


def resolve_stack(loaded: LoadedConfig, environment: EnvironmentSpec | None = None) -> Stack:
    """The stores of ``environment`` (default: the environment the config was loaded for)."""
    env = loaded.environment if environment is None else environment
    state = loaded.project_dir / STATE_DIR
    tracking = env.tracking_uri or _tracking_from_environment()
    if tracking is None:
        state.mkdir(parents=True, exist_ok=True)
        tracking = f"sqlite:///{(state / 'mlflow.db').as_posix()}"
    registry = env.registry_uri or tracking
    artifacts = env.artifact_store or str(state / "artifacts")
    if "://" not in artifacts and not Path(artifacts).is_absolute():
        artifacts = str((loaded.project_dir / artifacts).resolve())
    return Stack(tracking_uri=tracking, registry_uri=registry, artifact_store=artifacts, broker=env.broker)


def _tracking_from_environment() -> str | None:
    for name in TRACKING_ENV_VARIABLES:
        value = os.environ.get(name)
        if value:
            return value
    return None
