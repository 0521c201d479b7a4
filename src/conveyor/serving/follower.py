"""The registry side of `conveyor serve`: the one process that holds the MLflow client.

`conveyor serve`'s supervisor starts it as ``conveyor serve-follow`` (a hidden command):
it reads the aliases and the shared traffic weights, loads and warms what the deployments
need (through `scoring.load_version`) and publishes it to the workers' feed
(:mod:`conveyor.serving.feed`), then follows the registry every `serve.poll_s` (SIGUSR1:
poll now). With ``linger_s`` it exits once that long has passed since it started or was
last poked — the supervisor starts it again when the embedded SQLite store changes, so no
process holds MLflow while the registry is quiet; without, it follows until the supervisor
stops it. The first run seeds the shared traffic weights from the config (``seed``), as
in-process serving does at start.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

from conveyor.serving.deployments import Endpoint
from conveyor.serving.feed import FeedWriter
from conveyor.serving.metrics import Metrics
from conveyor.serving.poller import Poller
from conveyor.serving.service import registry_source, seed_weights
from conveyor.serving.traffic import TrafficStore

if TYPE_CHECKING:
    from types import FrameType

    from conveyor.serving.context import ServingContext

POKE_SIGNAL = signal.SIGUSR1


def follow(
    context: ServingContext, feed: Path, *, linger_s: float | None, seed: bool, poll_s: float | None = None
) -> None:
    """Sync the feed with the registry, then follow it until `linger_s` passed since the
    start or the last poke (None: until SIGTERM), or the supervisor is gone."""
    from conveyor.lifecycle.registry import Registry

    config = context.config
    endpoint = Endpoint(config.name, config.serve, list(config.stages), Metrics())
    traffic = TrafficStore(context.artifacts.root, config.name, context.move_lock)
    if seed:
        seed_weights(Registry(context.connect()), endpoint, traffic)
    source = registry_source(context, traffic)
    writer = FeedWriter(feed)
    poller = Poller(endpoint, source.aliases, writer.loading(source.loader), traffic,
                    poll_s or config.serve.poll_s, on_synced=writer.publish)
    stopped = threading.Event()
    poked = [time.monotonic()]

    def on_signal(signum: int, frame: FrameType | None) -> None:
        if signum == POKE_SIGNAL:
            poked[0] = time.monotonic()
            poller.poke()
        else:
            stopped.set()

    for signum in (POKE_SIGNAL, signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, on_signal)
    poller.poll_once()
    parent = os.getppid()
    poller.start()
    while not stopped.wait(min(1.0, poller.interval_s)):
        if os.getppid() != parent:  # the supervisor is gone: nothing reads the feed
            break
        if linger_s is not None and time.monotonic() - poked[0] > linger_s:
            break
    poller.stop()
