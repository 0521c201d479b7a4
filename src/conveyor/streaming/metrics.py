"""Prometheus metrics of one stream scorer process, and /metrics + /healthz on a small port
(:class:`MetricsServer` serves any process's metrics: the online learner's too)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol

import orjson
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from conveyor.core.errors import PortInUseError

_BATCH_SIZES = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 4096)
_LATENCIES_S = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


class StreamMetrics:
    def __init__(self, model: str) -> None:
        self.model = model
        self.registry = CollectorRegistry()
        r = self.registry
        self.events = Counter("conveyor_stream_events", "Events read", ["model"], registry=r)
        self.scored = Counter("conveyor_stream_scored", "Events scored, by version", ["model", "version"], registry=r)
        self.dead_letters = Counter("conveyor_stream_dead_letters", "Events sent to the dead letters, by reason",
                                    ["model", "reason"], registry=r)
        self.errors = Counter("conveyor_stream_errors", "Scoring loop errors (retried)", ["model"], registry=r)
        self.batch_size = Histogram("conveyor_stream_batch_size", "Events per micro-batch", ["model"],
                                    buckets=_BATCH_SIZES, registry=r)
        self.latency = Histogram("conveyor_stream_latency_seconds", "Read to scored, per micro-batch", ["model"],
                                 buckets=_LATENCIES_S, registry=r)
        self.lag = Gauge("conveyor_stream_lag", "Events not yet consumed, per partition or stream",
                         ["model", "partition"], registry=r)
        self.version = Gauge("conveyor_stream_version", "The version scoring now", ["model"], registry=r)
        self.swaps = Counter("conveyor_stream_swaps", "Model versions swapped in", ["model"], registry=r)
        self.rate = Gauge("conveyor_stream_events_per_second", "Events read per second (last interval)",
                          ["model"], registry=r)

    def set_lag(self, lags: dict[str, int]) -> None:
        for partition, value in lags.items():
            self.lag.labels(self.model, partition).set(value)

    def text(self) -> bytes:
        return generate_latest(self.registry)


class Exposition(Protocol):
    """What /metrics serves: a registry's text exposition."""

    def text(self) -> bytes: ...


class MetricsServer:
    """/metrics and /healthz on ``host:port`` in a daemon thread (port 0: any free one);
    ``hint`` says where to choose another port when it is taken."""

    def __init__(self, metrics: Exposition, health: Callable[[], dict[str, Any]], host: str, port: int,
                 hint: str = "pick another stream.metrics_port (or --metrics-port)") -> None:
        handler = _handler(metrics, health)
        try:
            self.server = ThreadingHTTPServer((host, port), handler)
        except OSError as exc:
            raise PortInUseError(f"cannot listen on {host}:{port} for /metrics: {exc.strerror}",
                                 hint=hint) from None
        self.server.daemon_threads = True
        self.port = int(self.server.server_address[1])
        self._thread = threading.Thread(target=self.server.serve_forever, name="conveyor-metrics", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _handler(metrics: Exposition, health: Callable[[], dict[str, Any]]) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path == "/metrics":
                self._send(200, metrics.text(), CONTENT_TYPE_LATEST)
            elif self.path == "/healthz":
                state = health()
                self._send(200 if state.get("ok") else 503, orjson.dumps(state), "application/json")
            else:
                self._send(404, b"not found\n", "text/plain")

        def _send(self, status: int, body: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            return

    return Handler
