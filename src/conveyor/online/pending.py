"""Late labels: an event that comes without its label is predicted at once (before anything
learns from it) and held, by event id, until its label arrives — on the same stream as
``{event_id, <target>}`` without features, or on ``online.labels``. Held events wait at most
``max_wait_s`` and at most ``max_events`` of them at once (the oldest give way); one whose
label never comes is dropped and counted (``label_timeout``)."""

from __future__ import annotations

from collections import OrderedDict
from typing import Any, NamedTuple


class Held(NamedTuple):
    row: dict[str, Any]  # the event's features
    prediction: Any
    proba: Any  # its probabilities row (None: none)
    source: str
    at: float


class PendingLabels:
    def __init__(self, max_wait_s: float, max_events: int) -> None:
        self.max_wait_s = max_wait_s
        self.max_events = max_events
        self._held: OrderedDict[str, Held] = OrderedDict()
        self.timeouts = 0
        self.joined = 0
        self.unmatched = 0

    def __len__(self) -> int:
        return len(self._held)

    def hold(self, event_id: str, held: Held) -> None:
        if self.max_events == 0 or self.max_wait_s == 0:
            self.timeouts += 1
            return
        self._held[event_id] = held
        self._held.move_to_end(event_id)
        while len(self._held) > self.max_events:
            self._held.popitem(last=False)
            self.timeouts += 1

    def join(self, event_id: str) -> Held | None:
        """The held event the label belongs to (None: unknown, expired or joined before)."""
        held = self._held.pop(event_id, None)
        if held is None:
            self.unmatched += 1
        else:
            self.joined += 1
        return held

    def expire(self, now: float) -> int:
        """Drop the events held longer than ``max_wait_s``; how many."""
        dropped = 0
        limit = now - self.max_wait_s
        while self._held:
            first = next(iter(self._held.values()))
            if first.at > limit:
                break
            self._held.popitem(last=False)
            dropped += 1
        self.timeouts += dropped
        return dropped
