"""The `conveyor serve` supervisor's side of model loading: one poller for all the workers.

It polls the registry and the shared traffic weights, loads and warms what the deployments
need and publishes it to the workers' feed (:mod:`conveyor.serving.feed`). The first poll
runs before any worker starts, so a worker's first poll finds the models ready to unpickle.
An admin change in a worker (new weights, a reload) pokes it with SIGUSR1.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import TYPE_CHECKING

from conveyor.serving.deployments import Endpoint
from conveyor.serving.feed import FeedWriter
from conveyor.serving.metrics import Metrics
from conveyor.serving.poller import Poller
from conveyor.serving.service import registry_source
from conveyor.serving.traffic import TrafficStore

if TYPE_CHECKING:
    from types import FrameType

    from conveyor.serving.context import ServingContext

POKE_SIGNAL = signal.SIGUSR1


class Supervisor:
    def __init__(self, context: ServingContext, folder: Path, poll_s: float | None = None) -> None:
        config = context.config
        self.endpoint = Endpoint(config.name, config.serve, list(config.stages), Metrics())
        source = registry_source(context, TrafficStore(context.artifacts.root, config.name, context.move_lock))
        self.feed = FeedWriter(folder)
        self.poller = Poller(
            self.endpoint, source.aliases, self.feed.loading(source.loader), source.traffic,
            poll_s or config.serve.poll_s, on_synced=self._publish,
        )

    def start(self) -> None:
        """Load what the deployments serve now (before the workers start), then follow the
        registry in a thread; SIGUSR1 polls at once (call from the main thread)."""
        self.poller.poll_once()
        self.poller.start()
        signal.signal(POKE_SIGNAL, self._poked)

    def stop(self) -> None:
        self.poller.stop()

    def _publish(self, aliases: dict[str, str]) -> None:
        self.feed.publish(aliases, self.endpoint.weights)

    def _poked(self, signum: int, frame: FrameType | None) -> None:
        self.poller.poke()


def poke(pid: int) -> None:
    """Ask the supervisor `pid` to poll now (from a worker, after an admin change)."""
    try:
        os.kill(pid, POKE_SIGNAL)
    except OSError:  # it is gone (the server stops): nothing to poll for
        pass
