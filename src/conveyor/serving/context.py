"""What serving needs from the rest of conveyor, handed in by the caller.

Serving never loads a project itself: the caller (the CLI, a test, later the composition
root) builds a :class:`ServingContext` from the loaded config, the environment's MLflow
client and artifact store, and passes it to :func:`~conveyor.serving.service.build_service`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from conveyor.core.errors import ConveyorError

if TYPE_CHECKING:
    from mlflow import MlflowClient

    from conveyor.core.config.loader import LoadedConfig
    from conveyor.core.config.schema import ProjectConfig
    from conveyor.stack.artifacts import ArtifactStore
    from conveyor.stack.locks import MoveLock

STATE_SUBDIR = ".conveyor/serving"
# More routes on the app of a built service: (the FastAPI app, the Service) → None. The
# composition root hands in the dashboard's this way (serving never imports it).
Extension = Callable[[Any, Any], None]


@dataclass(frozen=True)
class ServingContext:
    """One project in one environment, as serving sees it."""

    config: ProjectConfig
    # the registry: aliases, versions, model downloads; None in a `conveyor serve` worker,
    # whose models come from the supervisor (serving/feed.py) and which connects only for
    # a model that does not pickle (`connector`)
    client: MlflowClient | None
    artifacts: ArtifactStore  # traffic state, captures, feedback, audit log
    project_dir: Path  # the worker processes rebuild the context from it
    environment: str | None = None  # audit events name it
    move_lock: MoveLock | None = None  # traffic changes take it, like promotions (stack/locks.py)
    extensions: tuple[Extension, ...] = ()  # more routes on each worker's app (the dashboard)
    connector: Callable[[], MlflowClient] | None = None  # connects on first use (cached by the caller)

    @classmethod
    def of(
        cls, loaded: LoadedConfig, client: MlflowClient, artifacts: ArtifactStore, move_lock: MoveLock | None = None
    ) -> ServingContext:
        return cls(loaded.config, client, artifacts, loaded.project_dir, loaded.env_name, move_lock)

    def connect(self) -> MlflowClient:
        """The registry's client: the one given, else connected now through `connector`."""
        if self.client is not None:
            return self.client
        if self.connector is None:
            raise ConveyorError("this serving context has no registry client")
        return self.connector()

    @property
    def name(self) -> str:
        return self.config.name

    @property
    def state_dir(self) -> Path:
        """Local server state: the admin token `conveyor serve` writes for `traffic`/`rollout`."""
        return state_dir(self.project_dir)


def state_dir(project_dir: Path) -> Path:
    return project_dir / STATE_SUBDIR
