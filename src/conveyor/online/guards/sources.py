"""Per-source limits, so that one source cannot steer the model: a rate limit (a token bucket
per source: ``rate`` events per second, ``burst`` at once; ``rate_limited``) and a cap on any
source's share of the recent updates (``source_share``): over the last ``window`` accepted
events a source may hold at most ``max(max_share, 1/n)`` of them, ``n`` the sources active
in that window and batch (with fewer sources than ``1/max_share`` each may have an equal
part). The source of an event is a field of it or the message key (see the step).

Both work on integer codes of the sources (one dictionary look-up per event, then numpy):
within a batch a source's events are taken in order, the first ones up to its room.
"""

from __future__ import annotations

import numpy as np

from conveyor.online.guards.base import Guard, GuardBatch, Rejected
from conveyor.online.validation import Ring


class SourceCodes:
    """Source names as small integers, stable for the process (a batch's looked up once: its
    check and its accepted rows read the same codes)."""

    def __init__(self) -> None:
        self.codes: dict[str, int] = {}
        self._batch: tuple[list[str], np.ndarray] | None = None

    def __call__(self, sources: list[str], rows: np.ndarray) -> np.ndarray:
        if self._batch is None or self._batch[0] is not sources:
            self._batch = (sources, self._lookup(sources))
        picked: np.ndarray = self._batch[1][rows]
        return picked

    def _lookup(self, sources: list[str]) -> np.ndarray:
        codes = self.codes
        try:
            return np.fromiter(map(codes.__getitem__, sources), dtype=np.int64, count=len(sources))
        except KeyError:
            for name in sources:
                codes.setdefault(name, len(codes))
            return np.fromiter(map(codes.__getitem__, sources), dtype=np.int64, count=len(sources))


def ranks(codes: np.ndarray) -> np.ndarray:
    """Each event's position among the batch's events of its source (0 for the first)."""
    order = np.argsort(codes, kind="stable")
    ordered = codes[order]
    starts = np.searchsorted(ordered, ordered, side="left")
    out = np.empty(len(codes), dtype=np.int64)
    out[order] = np.arange(len(codes)) - starts
    return out


class RateLimitGuard(Guard):
    name = "rate_limit"

    def __init__(self, rate: float, burst: float | None = None) -> None:
        self.rate = rate
        self.burst = burst if burst is not None else rate
        self._codes = SourceCodes()
        self._tokens = np.zeros(0)
        self._at = np.zeros(0)

    def check(self, batch: GuardBatch, alive: np.ndarray) -> list[Rejected]:
        rows = np.flatnonzero(alive)
        codes = self._codes(batch.sources, rows)
        known = len(self._codes.codes)
        if known > len(self._tokens):  # new sources start with a full bucket
            grow = known - len(self._tokens)
            self._tokens = np.concatenate([self._tokens, np.full(grow, self.burst)])
            self._at = np.concatenate([self._at, np.full(grow, batch.now)])
        tokens = np.minimum(self.burst, self._tokens + (batch.now - self._at) * self.rate)
        allowed = np.floor(tokens).astype(np.int64)
        over = ranks(codes) >= allowed[codes]
        used = np.bincount(codes[~over], minlength=known)
        self._tokens = tokens - used
        self._at = np.full(known, batch.now)
        if not over.any():
            return []
        rejected = rows[over]
        detail = f"the source sends more than {self.rate:g} events/s (burst {self.burst:g})"
        return [Rejected(rejected, "rate_limited", [f"{detail}: {batch.sources[i]!r}" for i in rejected.tolist()])]


class SourceShareGuard(Guard):
    name = "source_share"

    def __init__(self, max_share: float, window: int = 5000) -> None:
        self.max_share = max_share
        self.window = window
        self._codes = SourceCodes()
        self._recent = Ring(window, dtype=np.int64)

    def check(self, batch: GuardBatch, alive: np.ndarray) -> list[Rejected]:
        rows = np.flatnonzero(alive)
        if not len(rows):
            return []
        codes = self._codes(batch.sources, rows)
        known = len(self._codes.codes)
        counts = np.bincount(self._recent.values(), minlength=known)
        batch_counts = np.bincount(codes, minlength=known)
        active = int(np.count_nonzero(counts + batch_counts))
        share = max(self.max_share, 1.0 / active)
        filled = self._recent.filled
        total = min(self.window, filled + len(rows))
        # the batch pushes the oldest updates out of a full window: each source keeps its share of those left
        kept = counts * (max(0, self.window - len(rows)) / filled) if filled + len(rows) > self.window else counts
        limit = max(1, int(share * total))
        room = np.maximum(0, np.floor(limit - kept)).astype(np.int64)
        over = ranks(codes) >= room[codes]
        if not over.any():
            return []
        rejected = rows[over]
        detail = f"the source holds more than {share:.0%} of the last {self.window} updates"
        return [Rejected(rejected, "source_share", [f"{detail}: {batch.sources[i]!r}" for i in rejected.tolist()])]

    def accepted(self, batch: GuardBatch, alive: np.ndarray) -> None:
        rows = np.flatnonzero(alive)
        if len(rows):
            self._recent.extend(self._codes(batch.sources, rows))
