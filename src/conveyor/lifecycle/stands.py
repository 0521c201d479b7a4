"""Stands: the environments a model's stages live on, each with its own stores.

``stages: [{name: dev, env: mdp}, {name: int, env: sim}, prod]`` puts ``dev`` on the stand
``mdp``, ``int`` on ``sim`` and ``prod`` (a plain name) on the stand the command runs on.
A :class:`Stand` is one environment's registry, audit log, move lock and artifact store;
:class:`Stands` answers "which stand holds this stage", opening another stand (connecting
to its stores, which are probed first) only when a move needs it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from conveyor.core.errors import StoreUnreachableError
from conveyor.lifecycle.audit import AuditLog
from conveyor.lifecycle.registry import Registry
from conveyor.stack.artifacts import ArtifactStore
from conveyor.stack.locks import MoveLock
from conveyor.stack.resolve import Stack

if TYPE_CHECKING:
    from mlflow import MlflowClient


@dataclass(frozen=True)
class Stand:
    """One stand's stores and what moves models on it."""

    name: str | None  # its `environments` entry; None: the default stack (no --env)
    stack: Stack
    registry: Registry
    audit: AuditLog
    lock: MoveLock

    @property
    def client(self) -> MlflowClient:
        return self.registry.client

    @property
    def artifacts(self) -> ArtifactStore:
        return self.audit.store

    @property
    def label(self) -> str:
        """How messages name the stand."""
        return repr(self.name) if self.name is not None else "'default'"

    def same_as(self, other: Stand) -> bool:
        return self.stack.same_stand(other.stack)


StandOpener = Callable[[str], Stand]


class Stands:
    """Which stand each stage lives on; stands other than the current one opened on demand."""

    def __init__(self, current: Stand, stage_envs: Mapping[str, str | None], open_stand: StandOpener) -> None:
        self.current = current
        self.stage_envs = dict(stage_envs)
        self._open = open_stand
        self._opened: dict[str, Stand] = {}

    def env_of(self, stage: str) -> str | None:
        """The environment a stage is mapped to (None: the current stand)."""
        env = self.stage_envs.get(stage)
        return None if env is None or env == self.current.name else env

    def of_stage(self, stage: str) -> Stand:
        """The stand holding ``stage`` (its stores reachable, else StoreUnreachableError
        naming the stand and the stage)."""
        return self.of_env(self.env_of(stage), f"stage {stage!r}")

    def of_env(self, env: str | None, what: str) -> Stand:
        """The stand of environment ``env`` (None or the current one: the current stand);
        ``what`` says in an unreachable stand's error what needed it."""
        if env is None or env == self.current.name:
            return self.current
        if env not in self._opened:
            try:
                self._opened[env] = self._open(env)
            except StoreUnreachableError as exc:
                raise StoreUnreachableError(
                    f"stand {env!r} ({what}) cannot be reached: {exc.message}",
                    hint=f"check environments.{env} in conveyor.yaml and that its stores are up, "
                    "then run the command again; nothing was written to that stand",
                ) from None
        return self._opened[env]
