"""Ground-truth labels arriving on a feedback topic, stream or file (``{"event_id": ...,
"label": ...}``), written next to the captured predictions, where ``conveyor monitor`` joins
them by event id (the capture's request id)."""

from __future__ import annotations

import logging
from typing import Any

import orjson

from conveyor.data.capture import write_feedback
from conveyor.streaming.brokers import Broker, Delivery

log = logging.getLogger("conveyor.streaming")

LABEL_FIELD = "label"


class FeedbackJoiner:
    def __init__(self, broker: Broker, store: str, model: str, event_id_field: str = "event_id") -> None:
        self.broker = broker
        self.store = store
        self.model = model
        self.event_id_field = event_id_field
        self.labels = 0
        self.skipped = 0

    def poll(self, max_events: int = 1024) -> int:
        """Take what labels are there now (no waiting); their offsets are committed once written."""
        events = self.broker.read(max_events, 0.0)
        if not events:
            return 0
        items: list[dict[str, Any]] = []
        for event in events:
            try:
                body = orjson.loads(event.value)
                items.append({"request_id": str(body[self.event_id_field]), "row": None, "label": body[LABEL_FIELD]})
            except (orjson.JSONDecodeError, KeyError, TypeError):
                self.skipped += 1
                log.warning("feedback at %s is not {%r, %r}: skipped", event.coordinates.event_id(),
                            self.event_id_field, LABEL_FIELD)
        if items:
            write_feedback(self.store, self.model, items)
        self.broker.deliver(Delivery(events))
        self.labels += len(items)
        return len(items)

    def close(self) -> None:
        self.broker.drain(30)
        self.broker.close()
