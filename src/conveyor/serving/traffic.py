"""The live traffic weights of an endpoint, shared by every worker (and replica).

`conveyor serve` writes the config's weights at start; `conveyor traffic` (through the
admin endpoint) rewrites them; each worker's poller reads them back. One small JSON
object in the artifact store: ``<store>/serving/<model>/traffic.json``.

The object also keeps the config weights it descends from (``config``), so a replica that
starts with the same config keeps the live weights, and a changed config replaces them.

Changes (`change`, `seed`) read, decide and write under the model's move lock, the same
lock promotions and rollbacks take (:mod:`conveyor.stack.locks`): two concurrent changes
take turns, and each audit event's ``weights_before`` is what the change replaced.
"""

from __future__ import annotations

import json
import logging
import math
import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from conveyor.lifecycle.audit import AuditEvent, AuditLog
from conveyor.serving.errors import InvalidInput
from conveyor.stack.locks import LeaseMoveLock, MoveLock

SERVING_PREFIX = "serving"
VERSION_NAME = re.compile(r"^v(\d+)$")

log = logging.getLogger("conveyor.serving")


@dataclass(frozen=True)
class TrafficState:
    weights: dict[str, float]
    updated: float = field(default_factory=time.time)
    by: str | None = None
    config: dict[str, float] | None = None  # the config weights these descend from

    def to_dict(self) -> dict[str, Any]:
        return {"weights": self.weights, "updated": self.updated, "by": self.by, "config": self.config}


@dataclass(frozen=True)
class TrafficEvent(AuditEvent):
    """An audit event for a live weight change: the weights before and after."""

    weights_before: dict[str, float] | None = None
    weights_after: dict[str, float] = field(default_factory=dict)


def traffic_event(
    model: str,
    before: dict[str, float] | None,
    after: dict[str, float],
    who: str,
    environment: str | None = None,
) -> TrafficEvent:
    """`who` names the caller's token (never the token itself)."""
    changed = sorted(n for n in {*(before or {}), *after} if (before or {}).get(n, 0.0) != after.get(n, 0.0))
    reason = f"traffic {format_weights(before) if before else 'none'} → {format_weights(after)}"
    return TrafficEvent(
        action="traffic", model=model, stage=",".join(changed) or "-", from_version=None, to_version=None,
        reason=reason, environment=environment, who=who, weights_before=before, weights_after=after,
    )


def format_weights(weights: dict[str, float]) -> str:
    """{"prod": 90.0, "staging": 10.0} → `prod=90 staging=10`."""
    return " ".join(f"{name}={weight:g}" for name, weight in weights.items())


def parse_weights(items: list[str]) -> dict[str, float]:
    """`prod=90 staging=10` → {"prod": 90.0, "staging": 10.0}."""
    weights: dict[str, float] = {}
    for item in items:
        name, sep, value = item.partition("=")
        try:
            weight = float(value)
        except ValueError:
            weight = -1.0
        if not sep or not name or not 0 <= weight < math.inf:
            raise InvalidInput(f"{item!r} is not DEPLOYMENT=WEIGHT (e.g. prod=90)")
        weights[name.strip()] = weight
    check_weights(weights)
    return weights


def check_weights(weights: dict[str, float]) -> None:
    """Weights the router can draw from: finite, >= 0, one positive, and a finite sum (it
    draws in [0, total)). InvalidInput (422 / exit 2) otherwise."""
    for name, weight in weights.items():
        if not 0 <= weight < math.inf:
            raise InvalidInput(f"weight of {name!r} must be a number >= 0", field=name)
    if sum(weights.values()) <= 0:
        raise InvalidInput("give at least one positive weight, e.g. prod=90 staging=10")
    check_total(weights)


def check_total(weights: dict[str, float]) -> None:
    """The router draws in [0, total): the sum must be finite."""
    if not math.isfinite(sum(weights.values())):
        raise InvalidInput(
            f"traffic weights {weights} are too large", hint="weights are relative: use percentages, e.g. 90 and 10"
        )


class DeferredMoveLock(MoveLock):
    """The stack's move lock, built when a change first takes it: a serving worker that
    never changes traffic never opens it (nor imports what opening it needs)."""

    def __init__(self, build: Callable[[], MoveLock]) -> None:
        super().__init__()
        self._build = build

    @cached_property
    def lock(self) -> MoveLock:
        return self._build()

    @contextmanager
    def hold(self, model: str) -> Iterator[None]:
        with self.lock.hold(model):
            yield


class TrafficStore:
    def __init__(self, artifact_store: str, model: str, lock: MoveLock | None = None) -> None:
        self.path = f"{artifact_store.rstrip('/')}/{SERVING_PREFIX}/{model}/traffic.json"
        self.model = model
        self.lock = lock or LeaseMoveLock(artifact_store)

    def change(
        self, weights: dict[str, float], who: str, audit: AuditLog | None = None, environment: str | None = None
    ) -> TrafficEvent:
        """Set the live weights (keeping the config they descend from) and append the audit
        event, in one step under the move lock; returns the event."""
        with self.lock.hold(self.model):
            before = self.read()
            self.write(TrafficState(weights, by=who, config=before.config if before else None))
            log.info("traffic changed", extra={"model": self.model, "weights": weights, "by": who})
            event = traffic_event(self.model, before.weights if before else None, weights, who, environment)
            if audit is not None:
                try:
                    audit.append(event)
                except Exception as exc:  # noqa: BLE001 - the change is made: keep the record in the logs
                    log.error("audit event not written: %s", exc, extra={"event": event.to_dict()})
            return event

    def read(self) -> TrafficState | None:
        import fsspec

        fs, path = fsspec.core.url_to_fs(self.path)
        if not fs.exists(path):
            return None
        with fs.open(path, "r") as handle:
            raw = json.load(handle)
        config = raw.get("config")
        return TrafficState(
            _floats(raw["weights"]), raw.get("updated", 0.0), raw.get("by"),
            None if config is None else _floats(config),
        )

    def seed(self, config: dict[str, float]) -> TrafficState:
        """At start: write the config's weights unless the live ones descend from the same
        config (another replica, or a restart, must not undo `conveyor traffic`)."""
        with self.lock.hold(self.model):
            return self._seed(config)

    def _seed(self, config: dict[str, float]) -> TrafficState:
        current = self.read()
        if current is not None and current.config == config:
            if current.weights != config:
                log.info(
                    "keeping the live traffic %s (set by %s); the config's weights (%s) are unchanged",
                    format_weights(current.weights), current.by or "unknown", format_weights(config),
                )
            return current
        state = TrafficState(dict(config), by="config", config=dict(config))
        self.write(state)
        if current is not None and current.weights != config:
            log.warning(
                "the config's traffic weights changed (%s → %s): they replace the live traffic %s (set by %s)",
                format_weights(current.config) if current.config is not None else "unknown",
                format_weights(config), format_weights(current.weights), current.by or "unknown",
            )
        return state

    def write(self, state: TrafficState) -> None:
        import fsspec

        fs, path = fsspec.core.url_to_fs(self.path)
        fs.makedirs(path.rsplit("/", 1)[0], exist_ok=True)
        text = json.dumps(state.to_dict(), sort_keys=True)
        if "file" in (fs.protocol if isinstance(fs.protocol, tuple) else (fs.protocol,)):
            temp = f"{path}.{time.time_ns()}.tmp"
            with fs.open(temp, "w") as handle:
                handle.write(text)
            fs.mv(temp, path)  # atomic on a local disk: readers see old or new
        else:
            with fs.open(path, "w") as handle:
                handle.write(text)


def _floats(weights: dict[str, Any]) -> dict[str, float]:
    return {str(name): float(weight) for name, weight in weights.items()}
