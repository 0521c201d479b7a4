"""What the lifecycle steps need from one project on one stack, passed in explicitly."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from conveyor.core.config.loader import LoadedConfig
from conveyor.lifecycle.promotion import Promoter
from conveyor.lifecycle.registry import Registry
from conveyor.stack.resolve import Stack

if TYPE_CHECKING:
    from mlflow import MlflowClient

    from conveyor.core.config.schema import ProjectConfig


@dataclass(frozen=True)
class LifecycleContext:
    """One project's config with the client, registry and promoter of one stack."""

    loaded: LoadedConfig
    stack: Stack
    client: MlflowClient
    registry: Registry
    promoter: Promoter

    @property
    def config(self) -> ProjectConfig:
        return self.loaded.config

    @property
    def name(self) -> str:
        return self.loaded.config.name

    @property
    def path(self) -> Path:
        return self.loaded.project_dir

    @property
    def artifact_root(self) -> str:
        """Where MLflow puts the artifacts of experiments conveyor creates."""
        return self.stack.mlflow_artifact_root
