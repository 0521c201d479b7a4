"""Prediction capture for monitoring: sampled in the request path, written off it.

Rows go to a bounded in-memory queue; a background thread writes them in batches as
Parquet under the artifact store::

    <store>/captures/<model>/date=YYYY-MM-DD/<stamp>-<pid>-<id>.parquet          (served)
    <store>/captures/<model>/shadow/date=YYYY-MM-DD/<stamp>-<pid>-<id>.parquet   (shadow)
    <store>/captures/<model>/feedback/date=YYYY-MM-DD/<stamp>-<pid>-<id>.parquet (labels)

Columns: the model's input columns, ``__prediction__``, ``__score__`` (classifiers),
``timestamp`` (UTC), ``request_id``, ``row`` (index in the request), ``deployment``,
``version``, ``latency_ms``. When the queue is full, rows are dropped and counted.
"""

from __future__ import annotations

import io
import logging
import os
import random
import threading
import uuid
from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from conveyor.scoring import Columns

log = logging.getLogger("conveyor.serving")

CAPTURE_PREFIX = "captures"
PREDICTION = "__prediction__"
SCORE = "__score__"


@dataclass
class _Record:
    at: datetime
    request_id: str
    deployment: str
    version: str
    columns: Columns
    labels: list[Any]
    scores: list[float] | None
    latency_ms: float
    shadow: bool


def capture_root(store: str, model: str) -> str:
    return f"{store.rstrip('/')}/{CAPTURE_PREFIX}/{model}"


class CaptureWriter:
    """Bounded queue + writer thread. `offer` costs a random draw and a deque append."""

    def __init__(
        self,
        store: str,
        model: str,
        *,
        sample: float,
        flush_s: float = 2.0,
        max_rows: int = 100_000,
        on_written: Any = None,
        on_dropped: Any = None,
    ) -> None:
        self.root = capture_root(store, model)
        self.model = model
        self.sample = sample
        self.flush_s = flush_s
        self.max_rows = max_rows
        self.on_written = on_written or (lambda n: None)
        self.on_dropped = on_dropped or (lambda n: None)
        self.dropped = 0
        self.written = 0
        self._queue: deque[_Record] = deque()
        self._pending = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def wanted(self) -> bool:
        """Sampling decision for one request (made before any copying)."""
        return self.sample > 0 and (self.sample >= 1.0 or random.random() < self.sample)

    def offer(
        self, request_id: str, deployment: str, version: str, columns: Columns,
        labels: list[Any], scores: list[float] | None, latency_ms: float, shadow: bool = False,
    ) -> None:
        rows = len(labels)
        with self._lock:
            if self._pending + rows > self.max_rows:
                self.dropped += rows
                self.on_dropped(rows)
                return
            self._pending += rows
        self._queue.append(_Record(
            datetime.now(UTC), request_id, deployment, version, columns, labels, scores,
            latency_ms, shadow,
        ))

    def start(self) -> None:
        if self._thread is None and self.sample > 0:
            self._thread = threading.Thread(target=self._loop, name=f"capture-{self.model}", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        """Write what is queued, then stop (graceful shutdown loses nothing)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None
        self.flush()

    def _loop(self) -> None:
        while not self._stop.wait(self.flush_s):
            self.flush()

    def flush(self) -> int:
        records: list[_Record] = []
        while self._queue:
            records.append(self._queue.popleft())
        if not records:
            return 0
        rows = sum(len(r.labels) for r in records)
        with self._lock:
            self._pending -= rows
        groups: dict[tuple[bool, str], list[_Record]] = {}
        for record in records:
            groups.setdefault((record.shadow, record.at.strftime("%Y-%m-%d")), []).append(record)
        written = 0
        for (shadow, day), group in groups.items():
            try:
                written += self._write(group, shadow, day)
            except Exception as exc:  # noqa: BLE001 - a store outage must not stop serving
                lost = sum(len(r.labels) for r in group)
                self.dropped += lost
                self.on_dropped(lost)
                log.error("capture write failed, %d rows dropped: %s", lost, exc)
        self.written += written
        self.on_written(written)
        return written

    def _write(self, records: list[_Record], shadow: bool, day: str) -> int:
        import pyarrow as pa

        names: list[str] = []
        for record in records:
            for name in record.columns:
                if name not in names:
                    names.append(name)
        data: dict[str, list[Any]] = {name: [] for name in names}
        meta: dict[str, list[Any]] = {
            PREDICTION: [], SCORE: [], "timestamp": [], "request_id": [], "row": [],
            "deployment": [], "version": [], "latency_ms": [],
        }
        has_scores = False
        for r in records:
            n = len(r.labels)
            for name in names:
                values = r.columns.get(name)
                data[name].extend(values if values is not None else [None] * n)
            meta[PREDICTION].extend(r.labels)
            if r.scores is not None:
                has_scores = True
                meta[SCORE].extend(r.scores)
            else:
                meta[SCORE].extend([None] * n)
            meta["timestamp"].extend([r.at] * n)
            meta["request_id"].extend([r.request_id] * n)
            meta["row"].extend(range(n))
            meta["deployment"].extend([r.deployment] * n)
            meta["version"].extend([r.version] * n)
            meta["latency_ms"].extend([r.latency_ms] * n)
        if not has_scores:
            del meta[SCORE]
        arrays = {name: _array(values) for name, values in {**data, **meta}.items()}
        table = pa.table(arrays)
        folder = f"{self.root}/shadow" if shadow else self.root
        write_parquet(table, f"{folder}/date={day}")
        return table.num_rows


def _array(values: list[Any]) -> Any:
    import pyarrow as pa

    try:
        return pa.array(values)
    except (pa.ArrowInvalid, pa.ArrowTypeError):  # mixed types: keep them as text
        return pa.array([None if v is None else str(v) for v in values])


def write_parquet(table: Any, folder: str) -> str:
    """Write one new Parquet part under `folder` (local: temp name + rename, so readers
    never see a partial file)."""
    import fsspec
    import pyarrow.parquet as pq

    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")
    name = f"{stamp}-{os.getpid()}-{uuid.uuid4().hex[:8]}.parquet"
    fs, base = fsspec.core.url_to_fs(folder)
    fs.makedirs(base, exist_ok=True)
    buffer = io.BytesIO()
    pq.write_table(table, buffer)
    target = f"{base}/{name}"
    if "file" in (fs.protocol if isinstance(fs.protocol, tuple) else (fs.protocol,)):
        temp = f"{base}/.{name}.tmp"
        with fs.open(temp, "wb") as handle:
            handle.write(buffer.getvalue())
        fs.mv(temp, target)
    else:
        with fs.open(target, "wb") as handle:
            handle.write(buffer.getvalue())
    return target


def write_feedback(store: str, model: str, items: list[dict[str, Any]]) -> str:
    """Ground-truth labels by request id, next to the capture (one part per call)."""
    import pyarrow as pa

    now = datetime.now(UTC)
    table = pa.table({
        "request_id": pa.array([str(i["request_id"]) for i in items]),
        "row": pa.array([i.get("row") for i in items], type=pa.int64()),
        "label": _array([i["label"] for i in items]),
        "timestamp": pa.array([now] * len(items)),
    })
    return write_parquet(table, f"{capture_root(store, model)}/feedback/date={now:%Y-%m-%d}")


