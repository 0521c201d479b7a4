"""The Python API: ``Project.load(path, env=...)`` with methods named like the CLI commands."""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from conveyor.config.loader import LoadedConfig, load_config
from conveyor.lifecycle.progress import Reporter
from conveyor.stack.resolve import Stack, resolve_stack

if TYPE_CHECKING:
    from mlflow import MlflowClient

    from conveyor.batch.job import BatchResult
    from conveyor.lifecycle.promotion import Move, Promoter
    from conveyor.lifecycle.registry import Registry, VersionInfo
    from conveyor.lifecycle.training import TrainResult
    from conveyor.monitoring.monitor import MonitorResult


class Project:
    """One conveyor project (a folder with conveyor.yaml) in one environment."""

    def __init__(self, loaded: LoadedConfig) -> None:
        self.loaded = loaded
        self.config = loaded.config
        self.stack: Stack = resolve_stack(loaded)

    @classmethod
    def load(cls, path: str | Path | None = None, env: str | None = None) -> Project:
        return cls(load_config(path, env=env))

    @property
    def name(self) -> str:
        return self.config.name

    @property
    def path(self) -> Path:
        return self.loaded.project_dir

    @cached_property
    def client(self) -> MlflowClient:
        from conveyor.lifecycle.tracking import connect

        return connect(self.stack)

    @cached_property
    def registry(self) -> Registry:
        from conveyor.lifecycle.registry import Registry

        return Registry(self.client)

    @cached_property
    def promoter(self) -> Promoter:
        from conveyor.lifecycle.audit import AuditLog
        from conveyor.lifecycle.promotion import Promoter
        from conveyor.stack.artifacts import ArtifactStore

        return Promoter(
            self.registry,
            AuditLog(ArtifactStore(self.stack.artifact_store)),
            self.config.stages,
            self.loaded.env_name,
        )

    def train(self, reporter: Reporter | None = None, tags: dict[str, str] | None = None) -> TrainResult:
        """Train, evaluate, gate and register; raises GateFailedError if the gate fails."""
        from conveyor.lifecycle.progress import SilentReporter
        from conveyor.lifecycle.tracking import activate
        from conveyor.lifecycle.training import TrainingPipeline

        with (reporter or SilentReporter()).step("connect to the tracking store"):
            self.client  # noqa: B018 - connect (and migrate an embedded store) up front
            activate(self.stack)  # another Project in this process may have switched MLflow
        pipeline = TrainingPipeline(
            self.loaded,
            self.client,
            self.registry,
            self.promoter,
            self.stack.mlflow_artifact_root,
            reporter,
        )
        return pipeline.run(extra_tags=tags)

    def models(self, name: str | None = None, limit: int = 50) -> list[VersionInfo]:
        return self.registry.versions(name or self.name, limit=limit)

    def promote(
        self,
        to: str,
        version: str | int | None = None,
        *,
        name: str | None = None,
        force: bool = False,
        reason: str | None = None,
    ) -> Move:
        return self.promoter.promote(
            name or self.name, to, None if version is None else str(version), force=force, reason=reason
        )

    def rollback(self, stage: str, *, name: str | None = None, reason: str | None = None) -> Move:
        return self.promoter.rollback(name or self.name, stage, reason=reason)

    def audit(self, name: str | None = None) -> list[dict[str, Any]]:
        return self.promoter.audit.events(name or self.name)

    def predict(self, model: str, input: str | None = None, output: str | None = None,
                **options: Any) -> BatchResult:
        """Batch-score ``input`` with ``model`` (``churn@prod``); see `conveyor.batch.predict`."""
        from conveyor.batch.job import predict

        return predict(self, model, input, output, **options)

    def monitor(self, model: str | None = None, **options: Any) -> MonitorResult:
        """One monitoring run (drift, performance, fairness); see `conveyor.monitoring`."""
        from conveyor.monitoring.monitor import run_monitor

        return run_monitor(self, model, **options)
