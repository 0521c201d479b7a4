"""Watch the registry and the shared traffic weights; load and swap off the request path.

One daemon thread per process that serves. In-process (tests, the demo) it reads the
registry and the traffic store itself; under `conveyor serve` the supervisor's poller does
that and publishes what it loaded (`on_synced`, :mod:`conveyor.serving.feed`), and each
worker's poller reads the published state. A registry or store outage is logged and
counted, and the server goes on serving what it has loaded.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Protocol

from conveyor.serving.deployments import Endpoint, Loader
from conveyor.serving.traffic import TrafficState

log = logging.getLogger("conveyor.serving")

AliasReader = Callable[[str], dict[str, str]]
Synced = Callable[[dict[str, str]], None]  # after a poll's loads and swaps: the aliases it read


class TrafficReader(Protocol):
    def read(self) -> TrafficState | None: ...


class Poller:
    def __init__(
        self,
        endpoint: Endpoint,
        aliases: AliasReader,
        loader: Loader,
        traffic: TrafficReader,
        interval_s: float,
        *,
        on_synced: Synced | None = None,
        on_poke: Callable[[], None] | None = None,
    ) -> None:
        self.endpoint = endpoint
        self.aliases = aliases
        self.loader = loader
        self.traffic = traffic
        self.interval_s = interval_s
        self.on_synced = on_synced
        self.on_poke = on_poke
        self.polls = 0
        self.failures = 0
        self.last_error: str | None = None
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._known_aliases: dict[str, str] = {}

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name=f"poller-{self.endpoint.name}", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def poke(self) -> None:
        """Poll now (after an admin change) instead of at the next interval."""
        if self.on_poke is not None:
            self.on_poke()  # the supervisor too, where it polls the registry for this worker
        self._wake.set()

    def poll_once(self) -> None:
        endpoint = self.endpoint
        try:
            state = self.traffic.read()
            endpoint.apply_traffic(state)
        except Exception as exc:  # noqa: BLE001
            self._failed("traffic store", exc)
        try:
            aliases = self.aliases(endpoint.name)
            self._known_aliases = aliases
        except Exception as exc:  # noqa: BLE001 - registry down: keep what is loaded
            self._failed("registry", exc)
            endpoint.metrics.registry_errors.labels(endpoint.name).inc()
            aliases = self._known_aliases
            if not aliases:
                return
        if not endpoint.weights:  # no shared weights yet: the config's
            endpoint.set_weights(endpoint.initial_weights(aliases))
        endpoint.sync(aliases, self.loader)
        self.polls += 1
        if self.on_synced is not None:
            self.on_synced(aliases)

    def _failed(self, what: str, exc: Exception) -> None:
        self.failures += 1
        message = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"[:300]
        if message != self.last_error:
            log.error("%s poll failed (serving continues with what is loaded): %s", what, message)
        self.last_error = message

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.poll_once()
            except Exception:
                log.exception("poll failed")
            self._wake.wait(self.interval_s)
            self._wake.clear()
