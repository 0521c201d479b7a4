"""Prediction capture for monitoring: sampled in the request path, written off it.

Rows go to a bounded in-memory queue; a background thread writes them in batches as
Parquet parts under the artifact store, in the layout of :mod:`conveyor.core.capture`
(served and shadow predictions; feedback labels are written by
:func:`conveyor.data.capture.write_feedback`). When the queue is full, rows are dropped and
counted.
"""

from __future__ import annotations

import logging
import random
import threading
from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from conveyor.core import capture as layout
from conveyor.data.capture import column, write_part
from conveyor.scoring import Columns

log = logging.getLogger("conveyor.serving")


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
        self.store = store
        self.root = layout.model_root(store, model)
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
        meta: dict[str, list[Any]] = {name: [] for name in layout.METADATA}
        has_scores = False
        for r in records:
            n = len(r.labels)
            for name in names:
                values = r.columns.get(name)
                data[name].extend(values if values is not None else [None] * n)
            meta[layout.PREDICTION].extend(r.labels)
            if r.scores is not None:
                has_scores = True
                meta[layout.SCORE].extend(r.scores)
            else:
                meta[layout.SCORE].extend([None] * n)
            meta[layout.TIMESTAMP].extend([r.at] * n)
            meta[layout.REQUEST_ID].extend([r.request_id] * n)
            meta[layout.ROW].extend(range(n))
            meta[layout.DEPLOYMENT].extend([r.deployment] * n)
            meta[layout.VERSION].extend([r.version] * n)
            meta[layout.LATENCY_MS].extend([r.latency_ms] * n)
        if not has_scores:
            del meta[layout.SCORE]
        table = pa.table({name: column(values) for name, values in {**data, **meta}.items()})
        folder = (layout.shadow_folder if shadow else layout.served_folder)(self.store, self.model, day)
        write_part(table, folder)
        return int(table.num_rows)
