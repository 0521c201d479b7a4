"""An endpoint (one registered model) and its deployments (stage aliases or versions).

Each deployment holds the loaded model it serves and its own batcher. New versions are
loaded and warmed off the request path, then swapped in with one reference assignment;
the batcher reads the reference once per batch, so every request sees one whole model.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from conveyor.core.errors import NoRoute
from conveyor.serving.batcher import Batcher
from conveyor.serving.errors import InvalidInput, NotFound, NotReady
from conveyor.serving.router import Router
from conveyor.serving.traffic import VERSION_NAME, TrafficState, check_total

if TYPE_CHECKING:
    from conveyor.core.config.schema import ServeSpec
    from conveyor.scoring import Scorer
    from conveyor.serving.metrics import Metrics

log = logging.getLogger("conveyor.serving")

Loader = Callable[[str, str], "Scorer"]  # (model name, version) -> loaded model (warmed here);
# NotReady from a loader: not loadable yet, tried again at the next poll (not a failure)


@dataclass
class Deployment:
    name: str
    stage: str | None
    version: str | None
    batcher: Batcher
    model: Scorer | None = None
    wanted: str | None = None  # the version it should serve (None: its stage is empty)
    error: str | None = None
    failed_version: str | None = None  # do not retry a version that failed to load

    @property
    def ready(self) -> bool:
        return self.model is not None

    def status(self, weight: float) -> dict[str, Any]:
        if self.model is not None and self.model.version == self.wanted:
            state = "ready"
        elif self.wanted is None:
            state = "empty" if self.model is None else "ready (stage empty)"
        elif self.failed_version == self.wanted:
            state = "failed" if self.model is None else "ready (new version failed)"
        else:
            state = "loading" if self.model is None else "ready (swapping)"
        return {
            "deployment": self.name,
            "target": f"stage {self.stage}" if self.stage else f"version {self.version}",
            "version": self.model.version if self.model else None,
            "wanted": self.wanted,
            "state": state,
            "weight": weight,
            "queued": self.batcher.depth,
            "error": self.error,
        }


@dataclass
class Endpoint:
    """Everything the request path needs for one model, all swappable by reference."""

    name: str
    spec: ServeSpec
    stages: list[str]
    metrics: Metrics
    seed: int | None = None
    deployments: dict[str, Deployment] = field(default_factory=dict)
    weights: dict[str, float] = field(default_factory=dict)
    router: Router = field(default_factory=lambda: Router({}))
    shadow_router: Router = field(default_factory=lambda: Router({"shadow": 1.0}))
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _started: bool = False  # every deployment was loaded (or failed to load) once

    # --- building ---------------------------------------------------------------------

    def deployment(self, name: str) -> Deployment:
        existing = self.deployments.get(name)
        if existing is not None:
            return existing
        stage, version = self._target(name)
        limits, batching = self.spec.limits, self.spec.batching
        holder: dict[str, Deployment] = {}
        batch_rows = self.metrics.batch_rows.labels(self.name, name)
        batcher = Batcher(
            lambda: holder["d"].model,
            max_batch=batching.max_batch,
            max_wait_ms=batching.max_wait_ms,
            max_queue=limits.queue,
            timeout_s=limits.timeout_s,
            retry_after=limits.retry_after_s,
            on_batch=batch_rows.observe,
            on_expired=self.metrics.shed.labels(self.name, "queue_time").inc,
            name=name,
        )
        dep = Deployment(name, stage, version, batcher, wanted=version)
        holder["d"] = dep
        self.deployments = {**self.deployments, name: dep}  # copy-on-write: readers never lock
        return dep

    def known_name(self, name: str) -> bool:
        return (
            name in self.deployments or name in self.spec.deployments or name in self.stages
            or bool(VERSION_NAME.match(name))
        )

    def _target(self, name: str) -> tuple[str | None, str | None]:
        spec = self.spec.deployments.get(name)
        if spec is not None:
            return spec.stage, spec.version
        if name in self.stages:
            return name, None
        match = VERSION_NAME.match(name)
        if match:
            return None, match.group(1)
        raise InvalidInput(
            f"unknown deployment {name!r}",
            hint=f"use a stage {self.stages}, a version like v3, or declare it in serve.deployments",
        )

    def initial_weights(self, aliases: dict[str, str]) -> dict[str, float]:
        """The config's weights; with none, all traffic to the highest stage that has a version."""
        if self.spec.traffic:
            return dict(self.spec.traffic)
        for stage in reversed(self.stages):
            if stage in aliases:
                return {stage: 100.0}
        return {self.stages[-1]: 100.0}

    def ensure_all(self, weights: dict[str, float]) -> None:
        """Every stage, every configured deployment, every weighted one, and the shadow."""
        names = [*self.stages, *self.spec.deployments, *weights]
        if self.spec.shadow is not None:
            names.append(self.spec.shadow.deployment)
        for name in dict.fromkeys(names):
            self.deployment(name)

    # --- request path -----------------------------------------------------------------

    def route(self, key: str | None, override: str | None) -> Deployment:
        if override:
            dep = self.deployments.get(override)
            if dep is None:
                raise NotFound(
                    f"model {self.name!r} has no deployment {override!r}",
                    hint=f"deployments: {sorted(self.deployments)}",
                )
            if dep.model is None:
                raise NotReady(f"deployment {override!r} has no model loaded")
            return dep
        try:
            return self.deployments[self.router.choose(key)]
        except NoRoute:
            raise NotReady(
                f"no deployment of {self.name!r} is ready", retry_after=self.spec.limits.retry_after_s or 1
            ) from None

    def primary(self) -> Deployment | None:
        """The loaded deployment with the most weight (its signature describes the endpoint)."""
        loaded = [d for d in self.deployments.values() if d.model is not None]
        return max(loaded, key=lambda d: self.weights.get(d.name, 0.0)) if loaded else None

    def serving_version(self, version: str) -> Deployment:
        """A deployment that serves this version now (OIP `/versions/{v}/infer`)."""
        for dep in self.deployments.values():
            if dep.model is not None and dep.model.version == version:
                return dep
        raise NotFound(f"no deployment of {self.name!r} serves version {version} now")

    def shadow_for(self, primary: Deployment) -> Deployment | None:
        shadow = self.spec.shadow
        if shadow is None or shadow.deployment == primary.name:
            return None
        dep = self.deployments.get(shadow.deployment)
        if dep is None or dep.model is None or not self.shadow_router.sample(shadow.share):
            return None
        return dep

    # --- changes (poller thread or admin endpoint) ---------------------------------------

    def set_weights(self, weights: dict[str, float]) -> None:
        for name in weights:
            if not self.known_name(name):
                self._target(name)  # raises InvalidInput with a hint
        check_total(weights)
        with self._lock:
            self.ensure_all(weights)
            self.weights = dict(weights)
            self._reroute()
        for name in self.deployments:
            self.metrics.weight.labels(self.name, name).set(self.weights.get(name, 0.0))

    def _reroute(self) -> None:
        """Only loaded deployments take weighted traffic."""
        deployments = self.deployments
        ready = {n: w for n, w in self.weights.items() if n in deployments and deployments[n].ready}
        self.router = Router(ready, seed=self.seed)
        if self.seed is not None:
            self.shadow_router = Router({"shadow": 1.0}, seed=self.seed + 1)

    def sync(self, aliases: dict[str, str], loader: Loader) -> bool:
        """Load what moved (slow, this thread), swap it in (instant). True if anything changed."""
        changed = False
        for dep in list(self.deployments.values()):
            wanted = aliases.get(dep.stage) if dep.stage else dep.version
            dep.wanted = wanted
            if wanted is None:
                continue  # an emptied stage keeps serving what it had
            if dep.model is not None and dep.model.version == wanted:
                continue
            if dep.failed_version == wanted:
                continue
            started = time.perf_counter()
            try:
                # deployments on the same version share one loaded model (memory, start time)
                model = next(
                    (d.model for d in self.deployments.values() if d.model is not None and d.model.version == wanted),
                    None,
                ) or _warmed(loader(self.name, wanted))
            except NotReady as exc:  # not loadable yet (not published by the supervisor): next poll
                log.debug("deployment %s: %s", dep.name, exc)
                continue
            except Exception as exc:  # noqa: BLE001 - keep serving what is loaded
                dep.failed_version = wanted
                dep.error = f"v{wanted} failed to load: {type(exc).__name__}: {str(exc)[:200]}"
                log.error("deployment %s: %s", dep.name, dep.error)
                continue
            previous = dep.model.version if dep.model else None
            dep.model = model  # the swap
            dep.error = None
            changed = True
            self.metrics.swaps.labels(self.name, dep.name).inc()
            self.metrics.version.labels(self.name, dep.name).set(float(wanted) if wanted.isdigit() else 0)
            log.info(
                "deployment %s of %s now serves v%s (was %s), loaded in %.1fs",
                dep.name, self.name, wanted, f"v{previous}" if previous else "nothing",
                time.perf_counter() - started,
            )
        if changed:
            with self._lock:
                self._reroute()
        return changed

    @property
    def ready(self) -> bool:
        """Weighted traffic has somewhere to go and, at start, every deployment that has a
        version to serve has a model loaded (or failed to load it, which /readyz reports).
        A deployment added later (a canary) loads in the background: every worker of every
        replica sees it at once, and none of them leaves the load balancer for it."""
        if self.router.empty:
            return False
        if not self._started:
            for dep in self.deployments.values():
                if dep.wanted is not None and dep.model is None and dep.failed_version != dep.wanted:
                    return False
            self._started = True
        return True

    @property
    def loading(self) -> bool:
        """Whether some deployment still loads the version it should serve (none failed it)."""
        return any(
            dep.wanted is not None and dep.model is None and dep.failed_version != dep.wanted
            for dep in self.deployments.values()
        )

    def status(self) -> dict[str, Any]:
        return {
            "model": self.name,
            "ready": self.ready,
            "weights": self.weights,
            "shadow": self.spec.shadow.model_dump() if self.spec.shadow else None,
            "deployments": [d.status(self.weights.get(n, 0.0)) for n, d in sorted(self.deployments.items())],
        }

    def apply_traffic(self, state: TrafficState | None) -> None:
        if state is not None and state.weights != self.weights:
            self.set_weights(state.weights)


def _warmed(model: Scorer) -> Scorer:
    """A model scores its logged input example before it takes traffic (or is not served)."""
    model.warm()
    return model
