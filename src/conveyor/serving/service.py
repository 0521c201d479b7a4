"""What the app serves: endpoints by model name and the machinery they share, built from a
:class:`~conveyor.serving.context.ServingContext`; started and stopped with the app."""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from starlette.concurrency import run_in_threadpool

from conveyor.data.capture_writer import CaptureWriter
from conveyor.serving.admission import Admission
from conveyor.serving.auth import Authenticator, Credential
from conveyor.serving.deployments import Endpoint, Loader
from conveyor.serving.errors import NotFound
from conveyor.serving.metrics import Metrics
from conveyor.serving.poller import AliasReader, Poller, TrafficReader
from conveyor.serving.traffic import TrafficState, TrafficStore

if TYPE_CHECKING:
    from conveyor.lifecycle.audit import AuditLog
    from conveyor.lifecycle.registry import Registry
    from conveyor.serving.context import ServingContext

log = logging.getLogger("conveyor.serving")

STARTUP_WAIT_S = 120.0
SHADOW_DRAIN_S = 5.0


@dataclass
class Service:
    """Endpoints by model name, plus the shared machinery."""

    endpoints: dict[str, Endpoint]
    pollers: dict[str, Poller]
    captures: dict[str, CaptureWriter]
    traffic: dict[str, TrafficStore]
    auth: Authenticator
    metrics: Metrics
    admission: Admission  # the in-flight limit of this worker
    artifact_store: str
    environment: str | None = None
    audit: AuditLog | None = None  # traffic changes are audited like stage moves
    started: float = field(default_factory=time.time)
    tasks: set[asyncio.Task[Any]] = field(default_factory=set)  # mirrored shadow requests

    def endpoint(self, name: str, *, caller: str | None = None) -> Endpoint:
        """The endpoint of a served model, or 404. The 404 names the served models only to
        an authenticated `caller` (a token's name): an anonymous one learns nothing."""
        endpoint = self.endpoints.get(name)
        if endpoint is None:
            hint = f"models: {sorted(self.endpoints)}" if caller is not None else None
            raise NotFound(f"no model named {name!r} is served here", hint=hint)
        return endpoint

    @property
    def default_model(self) -> str:
        """The model MLflow's clients reach at `/invocations`."""
        return next(iter(self.endpoints))

    @property
    def ready(self) -> bool:
        return all(e.ready for e in self.endpoints.values())

    async def start(self, timeout_s: float = STARTUP_WAIT_S) -> None:
        """Start capture and polling, then wait for the first load (see `_first_load`)."""
        for name, capture in self.captures.items():
            if capture.sample > 0 or self.endpoints[name].spec.shadow is not None:
                capture.start()
        for poller in self.pollers.values():
            poller.start()
        await self._first_load(timeout_s)  # until then this worker accepts no connection
        # Everything loaded so far (libraries, models) lives for the whole process: keep it
        # out of the collector's full passes, which otherwise stall requests for tens of ms.
        gc.freeze()
        log.info("serving %s (pid %d)", sorted(self.endpoints), os.getpid())

    async def stop(self) -> None:
        for poller in self.pollers.values():
            poller.stop()
        if self.tasks:  # let mirrored shadow requests finish briefly
            await asyncio.wait(list(self.tasks), timeout=SHADOW_DRAIN_S)
        for endpoint in self.endpoints.values():
            for dep in endpoint.deployments.values():
                await dep.batcher.stop()
        for capture in self.captures.values():
            await run_in_threadpool(capture.stop)
        log.info("stopped (pid %d)", os.getpid())

    async def _first_load(self, timeout_s: float) -> None:
        """Wait until every poller has polled once and no deployment is still loading (loaded
        or failed), so that with several workers on one socket no request reaches a worker
        that has nothing loaded yet. Past the timeout the worker serves anyway (503 until
        loaded)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            polled = all(p.polls or p.failures for p in self.pollers.values())
            if polled and not any(e.loading for e in self.endpoints.values()):
                return
            await asyncio.sleep(0.05)
        log.warning("models still loading after %.0fs: serving, /readyz reports what is missing", timeout_s)


@dataclass(frozen=True)
class ModelSource:
    """Where a poller finds what to serve: the aliases, a loader and the live weights."""

    aliases: AliasReader
    loader: Loader
    traffic: TrafficReader | None = None  # None: the shared traffic store itself
    poke: Callable[[], None] | None = None  # an admin change asks the source to look now


def registry_source(context: ServingContext, traffic: TrafficStore) -> ModelSource:
    """The registry and the traffic store themselves (in-process serving, the supervisor)."""
    from conveyor.lifecycle.registry import Registry
    from conveyor.scoring import load_version

    client = context.connect()
    fallback = context.config.features.inputs
    return ModelSource(
        Registry(client).model_aliases,
        lambda model, version: load_version(client, model, version, fallback),
        traffic,
    )


def build_service(
    context: ServingContext,
    *,
    seed: int | None = None,
    seed_traffic: bool = True,
    extra_credentials: list[Credential] | None = None,
    poll_s: float | None = None,
    source: ModelSource | None = None,
) -> Service:
    """Wire the serve config to the registry (or another `source`) and the artifact store.

    `seed_traffic`: write the config's weights to the shared traffic state (see
    `seed_weights`); `conveyor serve` does it once in the parent, not in every worker.
    `source`: where models come from; by default the registry through the context's client
    (`conveyor serve` workers get the supervisor's feed, :mod:`conveyor.serving.feed`).
    """
    from conveyor.lifecycle.audit import AuditLog

    config = context.config
    spec = config.serve
    metrics = Metrics()
    store = context.artifacts.root
    name = config.name
    endpoint = Endpoint(name, spec, list(config.stages), metrics, seed=seed)
    traffic = TrafficStore(store, name, context.move_lock)
    if source is None:
        source = registry_source(context, traffic)
    if seed_traffic:
        from conveyor.lifecycle.registry import Registry

        seed_weights(Registry(context.connect()), endpoint, traffic)
    capture = CaptureWriter(
        store, name, sample=spec.capture.sample, flush_s=spec.capture.flush_s,
        max_rows=spec.capture.max_rows,
        on_written=metrics.captured.labels(name).inc, on_dropped=metrics.capture_dropped.labels(name).inc,
        on_write_failed=metrics.capture_write_failures.labels(name).inc,
    )
    poller = Poller(endpoint, source.aliases, source.loader, source.traffic or traffic, poll_s or spec.poll_s,
                    on_poke=source.poke)
    return Service(
        endpoints={name: endpoint},
        pollers={name: poller},
        captures={name: capture},
        traffic={name: traffic},
        auth=Authenticator.from_config(spec.auth, extra_credentials),
        metrics=metrics,
        artifact_store=store,
        admission=Admission(spec.limits.max_in_flight, spec.limits.retry_after_s),
        environment=context.environment,
        audit=AuditLog(context.artifacts),
    )


def seed_weights(registry: Registry, endpoint: Endpoint, traffic: TrafficStore) -> TrafficState | None:
    """The config's weights at start, unless the live weights descend from the same config
    (`TrafficStore.seed`). None: the registry is down and the live weights are kept."""
    try:
        aliases = registry.model_aliases(endpoint.name)
    except Exception as exc:  # noqa: BLE001 - the poller retries; serve what it can
        log.error("registry unreachable at start: %s", exc)
        if not endpoint.spec.traffic and traffic.read() is not None:
            return None  # the default weights depend on the aliases: keep the live ones
        aliases = {}
    return traffic.seed(endpoint.initial_weights(aliases))
