"""Prometheus metrics: requests, errors, latency and batch sizes per deployment.

With several worker processes (``PROMETHEUS_MULTIPROC_DIR`` set by `conveyor serve`),
every worker writes its own files and ``/metrics`` adds them up.
"""

from __future__ import annotations

import os
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

LATENCY_BUCKETS = (
    0.001, 0.0025, 0.005, 0.0075, 0.01, 0.015, 0.02, 0.03, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3,
    0.5, 0.75, 1.0, 2.0, 5.0, 10.0,
)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512)
CONTENT_TYPE = CONTENT_TYPE_LATEST


def multiprocess() -> bool:
    return bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))


class Metrics:
    """One set per app; label children are cached so the request path does no lookups."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter(
            "conveyor_requests", "Prediction requests by outcome.",
            ["model", "deployment", "code"], registry=r,
        )
        self.latency = Histogram(
            "conveyor_request_latency_seconds", "Prediction latency in the server.",
            ["model", "deployment"], buckets=LATENCY_BUCKETS, registry=r,
        )
        self.batch_rows = Histogram(
            "conveyor_batch_rows", "Rows per model call.", ["model", "deployment"],
            buckets=BATCH_BUCKETS, registry=r,
        )
        self.shadow = Counter(
            "conveyor_shadow_requests", "Mirrored requests by outcome.",
            ["model", "deployment", "outcome"], registry=r,
        )
        self.captured = Counter("conveyor_capture_rows", "Captured rows written.", ["model"], registry=r)
        self.capture_dropped = Counter(
            "conveyor_capture_dropped_rows", "Captured rows dropped (queue full or write failed).",
            ["model"], registry=r,
        )
        self.capture_write_failures = Counter(
            "conveyor_capture_write_failures", "Capture part writes that failed (their rows are retried).",
            ["model"], registry=r,
        )
        self.shed = Counter(
            "conveyor_shed_requests", "Prediction requests shed with 503 (in-flight limit or queue time).",
            ["model", "reason"], registry=r,
        )
        self.swaps = Counter(
            "conveyor_model_swaps", "Model versions swapped in.", ["model", "deployment"], registry=r
        )
        self.registry_errors = Counter(
            "conveyor_registry_errors", "Failed registry polls (serving goes on).", ["model"], registry=r
        )
        self.version = Gauge(
            "conveyor_deployment_version", "Version each deployment serves.",
            ["model", "deployment"], registry=r, multiprocess_mode="max",
        )
        self.weight = Gauge(
            "conveyor_deployment_weight", "Traffic weight of each deployment.",
            ["model", "deployment"], registry=r, multiprocess_mode="max",
        )
        self._children: dict[tuple[str, ...], Any] = {}

    def request(self, model: str, deployment: str, code: int, seconds: float | None) -> None:
        key = (model, deployment, str(code))
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = self.requests.labels(*key)
        child.inc()
        if seconds is not None:
            lkey = (model, deployment)
            hist = self._children.get(lkey)
            if hist is None:
                hist = self._children[lkey] = self.latency.labels(*lkey)
            hist.observe(seconds)

    def shed_request(self, model: str, reason: str) -> None:
        key = ("shed", model, reason)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = self.shed.labels(model, reason)
        child.inc()

    def render(self) -> bytes:
        if multiprocess():
            from prometheus_client import multiprocess as mp

            registry = CollectorRegistry()
            mp.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]  # prometheus-client leaves it unannotated
            return generate_latest(registry)
        return generate_latest(self.registry)
