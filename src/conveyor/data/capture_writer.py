"""Prediction capture for monitoring: sampled on the scoring path (the endpoint's requests,
the stream scorer's micro-batches), written off it.

Rows go to a bounded in-memory queue; a background thread writes them in batches as
Parquet parts under the artifact store, in the layout of :mod:`conveyor.core.capture`
(served and shadow predictions; feedback labels are written by
:func:`conveyor.data.capture.write_feedback`). When the queue is full, rows are dropped and
counted.

One request never costs another its rows: values the signature check lets through are
already what the capture can hold (integers in float columns arrive as floats, integers
past int64 in integer columns are refused with a 422), and a batch whose table still
cannot be built is written request by request, so only a request that cannot be written
even alone is dropped. A part that fails to write (a store outage) is counted in
``conveyor_capture_write_failures`` and retried with the next flushes, up to
:data:`WRITE_ATTEMPTS` times, before its rows are dropped and counted.
"""

from __future__ import annotations

import logging
import random
import threading
from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np

from conveyor.core import capture as layout
from conveyor.data.capture import column, import_arrow_alone, write_part

log = logging.getLogger("conveyor.capture")

Columns = dict[str, list[Any]]  # {column name: values}, one request's or one batch's rows

WRITE_ATTEMPTS = 3  # a part is written at most this many times (one per flush) before its rows are dropped


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
    attempts: int = 0  # failed writes so far
    request_ids: list[str] | None = None  # rows that are requests of their own (stream events): one id each


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
        on_write_failed: Any = None,
    ) -> None:
        self.store = store
        self.root = layout.model_root(store, model)
        self.model = model
        self.sample = sample
        self.flush_s = flush_s
        self.max_rows = max_rows
        self.on_written = on_written or (lambda n: None)
        self.on_dropped = on_dropped or (lambda n: None)
        self.on_write_failed = on_write_failed or (lambda: None)
        self.dropped = 0
        self.written = 0
        self.write_failures = 0
        self._rng = np.random.default_rng()
        self._queue: deque[_Record] = deque()
        self._retry: list[_Record] = []  # records of parts that failed to write, for the next flush
        self._pending = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def wanted(self) -> bool:
        """Sampling decision for one request (made before any copying)."""
        return self.sample > 0 and (self.sample >= 1.0 or random.random() < self.sample)

    def sampled(self, rows: int) -> list[int]:
        """Which of ``rows`` rows (requests of one row each, e.g. stream events) to capture:
        one draw for all of them."""
        if self.sample <= 0 or rows <= 0:
            return []
        if self.sample >= 1.0:
            return list(range(rows))
        picked: list[int] = np.flatnonzero(self._rng.random(rows) < self.sample).tolist()
        return picked

    def offer_events(
        self, request_ids: list[str], deployment: str, version: str, columns: Columns,
        labels: list[Any], scores: list[float] | None, latency_ms: float,
    ) -> None:
        """Rows that are one request each (row 0 of request ``request_ids[i]``), as one record."""
        self._offer(_Record(datetime.now(UTC), "", deployment, version, columns, labels, scores, latency_ms,
                            False, request_ids=request_ids))

    def offer(
        self, request_id: str, deployment: str, version: str, columns: Columns,
        labels: list[Any], scores: list[float] | None, latency_ms: float, shadow: bool = False,
    ) -> None:
        self._offer(_Record(
            datetime.now(UTC), request_id, deployment, version, columns, labels, scores,
            latency_ms, shadow,
        ))

    def _offer(self, record: _Record) -> None:
        rows = len(record.labels)
        with self._lock:
            if self._pending + rows > self.max_rows:
                self.dropped += rows
                self.on_dropped(rows)
                return
            self._pending += rows
        self._queue.append(record)

    def start(self) -> None:
        if self._thread is None and self.sample > 0:
            import_arrow_alone()  # now, not by the first write while scoring runs; without pandas
            self._thread = threading.Thread(target=self._loop, name=f"capture-{self.model}", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        """Write what is queued, then stop (graceful shutdown loses nothing)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None
        self.flush()
        while self._retry:  # a store that failed a write gets its remaining attempts now
            self.flush()

    def _loop(self) -> None:
        while not self._stop.wait(self.flush_s):
            self.flush()

    def flush(self) -> int:
        """Write what is queued (and what failed to write before); returns the rows written."""
        records, self._retry = self._retry, []
        while self._queue:
            records.append(self._queue.popleft())
        if not records:
            return 0
        groups: dict[tuple[bool, str], list[_Record]] = {}
        for record in records:
            groups.setdefault((record.shadow, record.at.strftime("%Y-%m-%d")), []).append(record)
        written = 0
        for (shadow, day), group in groups.items():
            folder = (layout.shadow_folder if shadow else layout.served_folder)(self.store, self.model, day)
            for table, members in self._tables(group):
                written += self._write(table, members, folder)
        done = sum(len(r.labels) for r in records) - sum(len(r.labels) for r in self._retry)
        with self._lock:
            self._pending -= done
        self.written += written
        self.on_written(written)
        return written

    def _tables(self, records: list[_Record]) -> list[tuple[Any, list[_Record]]]:
        """One table for the group; if a value breaks it, one table per request (a request
        that cannot be written even alone is dropped and counted, alone)."""
        try:
            return [(_table(records), records)]
        except Exception as exc:  # noqa: BLE001 - isolate the request, keep the others
            log.warning("capture batch of %d requests cannot be written together (%s): "
                        "writing request by request", len(records), _short(exc))
        out = []
        for record in records:
            try:
                out.append((_table([record]), [record]))
            except Exception as exc:  # noqa: BLE001
                self._drop(len(record.labels))
                log.error("capture of request %s dropped (%d rows): %s",
                          record.request_id or ", ".join(record.request_ids or [])[:200], len(record.labels),
                          _short(exc))
        return out

    def _write(self, table: Any, records: list[_Record], folder: str) -> int:
        """Write one part; on failure count it and keep the records for the next flush."""
        try:
            write_part(table, folder)
        except Exception as exc:  # noqa: BLE001 - a store outage must not stop serving
            self.write_failures += 1
            self.on_write_failed()
            rows = sum(len(r.labels) for r in records)
            for record in records:
                record.attempts += 1
            retry = [r for r in records if r.attempts < WRITE_ATTEMPTS]
            lost = rows - sum(len(r.labels) for r in retry)
            self._retry.extend(retry)
            if lost:
                self._drop(lost)
            log.error("capture write failed (%d rows; %d kept for a retry, %d dropped after %d attempts): %s",
                      rows, rows - lost, lost, WRITE_ATTEMPTS, _short(exc))
            return 0
        return int(table.num_rows)

    def _drop(self, rows: int) -> None:
        self.dropped += rows
        self.on_dropped(rows)


def _table(records: list[_Record]) -> Any:
    """The capture rows of these requests as one Arrow table (inputs, then metadata)."""
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
        if r.request_ids is None:
            meta[layout.REQUEST_ID].extend([r.request_id] * n)
            meta[layout.ROW].extend(range(n))
        else:
            meta[layout.REQUEST_ID].extend(r.request_ids)
            meta[layout.ROW].extend([0] * n)
        meta[layout.DEPLOYMENT].extend([r.deployment] * n)
        meta[layout.VERSION].extend([r.version] * n)
        meta[layout.LATENCY_MS].extend([r.latency_ms] * n)
    if not has_scores:
        del meta[layout.SCORE]
    return pa.table({name: column(values) for name, values in {**data, **meta}.items()})


def _short(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {str(exc)[:200]}"
