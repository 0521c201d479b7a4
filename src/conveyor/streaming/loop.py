"""The scoring loop: read a micro-batch → score it with the current version → deliver its
outputs and dead letters (the broker commits the inputs once they are acknowledged) →
capture a sample for monitoring. A stop request ends it after the batch in hand, with
everything delivered committed."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from conveyor.streaming.brokers import Broker, Delivery
from conveyor.streaming.score import BatchOutcome, BatchScorer

if TYPE_CHECKING:
    from conveyor.data.capture_writer import CaptureWriter
    from conveyor.scoring import Scorer
    from conveyor.streaming.feedback import FeedbackJoiner
    from conveyor.streaming.metrics import StreamMetrics
    from conveyor.streaming.swap import ModelFollower

log = logging.getLogger("conveyor.streaming")

DRAIN_S = 60.0  # how long a stopping scorer waits for outstanding acknowledgements


@dataclass(frozen=True)
class LoopOptions:
    max_batch: int = 256
    max_wait_s: float = 0.005
    idle_exit_s: float | None = None  # end after this long without an event (None: run on)
    lag_every_s: float = 5.0
    event_id_field: str = "event_id"
    feedback_every_s: float = 0.5


@dataclass
class StreamSummary:
    """What one scorer process did, for its result line."""

    events: int = 0
    scored: int = 0
    dead_letters: int = 0
    batches: int = 0
    versions: dict[str, int] = field(default_factory=dict)  # version -> events scored
    reasons: dict[str, int] = field(default_factory=dict)  # dead-letter reason -> events
    duration_s: float = 0.0
    committed: bool = True  # everything delivered was acknowledged and committed at the end

    def to_dict(self) -> dict[str, Any]:
        rate = round(self.events / self.duration_s) if self.duration_s > 0 else None
        return {"events": self.events, "scored": self.scored, "dead_letters": self.dead_letters,
                "batches": self.batches, "versions": self.versions, "dead_letter_reasons": self.reasons,
                "duration_s": round(self.duration_s, 3), "events_per_s": rate, "committed": self.committed}


class StreamScorer:
    def __init__(
        self, broker: Broker, follower: ModelFollower, options: LoopOptions,
        metrics: StreamMetrics, capture: CaptureWriter | None = None, feedback: FeedbackJoiner | None = None,
    ) -> None:
        self.broker = broker
        self.follower = follower
        self.options = options
        self.metrics = metrics
        self.capture = capture
        self.feedback = feedback
        self.batcher = BatchScorer(options.event_id_field)
        self.summary = StreamSummary()
        self.running = False
        self.last_batch_at: float | None = None

    def health(self) -> dict[str, Any]:
        scorer = self.follower.current
        return {"ok": self.running, "model": scorer.name, "version": scorer.version,
                "events": self.summary.events, "last_batch_at": self.last_batch_at}

    def run(self, stop: threading.Event) -> StreamSummary:
        options, broker = self.options, self.broker
        started = last_event = next_lag = next_feedback = time.monotonic()
        self.running = True
        try:
            while not stop.is_set():
                events = broker.read_batch(options.max_batch, options.max_wait_s)
                now = time.monotonic()
                if now >= next_lag:
                    self._report_lag(now, started)
                    next_lag = now + options.lag_every_s
                if self.feedback is not None and now >= next_feedback:
                    self.feedback.poll()
                    next_feedback = now + options.feedback_every_s
                if not events:
                    if not broker.ready:
                        last_event = now  # waiting for the group to assign partitions is not idling
                    if broker.exhausted or (options.idle_exit_s is not None and now - last_event >= options.idle_exit_s):
                        break
                    continue
                last_event = now
                scorer = self.follower.current  # one version for the whole batch
                outcome = self.batcher.score(events, scorer, time.perf_counter())
                broker.deliver(Delivery(events, outcome.outputs, outcome.dead_letters))
                self._account(len(events), scorer, outcome)
        finally:
            self.running = False
            self.summary.committed = broker.drain(DRAIN_S)
            self.summary.duration_s = time.monotonic() - started
        return self.summary

    def _account(self, read: int, scorer: Scorer, outcome: BatchOutcome) -> None:
        s, m, model = self.summary, self.metrics, self.metrics.model
        s.events += read
        s.batches += 1
        s.scored += len(outcome.outputs)
        s.dead_letters += len(outcome.dead_letters)
        s.versions[scorer.version] = s.versions.get(scorer.version, 0) + len(outcome.outputs)
        for reason in outcome.reasons:
            s.reasons[reason] = s.reasons.get(reason, 0) + 1
            m.dead_letters.labels(model, reason).inc()
        m.events.labels(model).inc(read)
        m.scored.labels(model, scorer.version).inc(len(outcome.outputs))
        m.batch_size.labels(model).observe(read)
        m.latency.labels(model).observe(outcome.latency_ms / 1000)
        self.last_batch_at = time.time()
        if self.capture is not None and outcome.scored is not None:
            self._capture(scorer, outcome)

    def _capture(self, scorer: Scorer, outcome: BatchOutcome) -> None:
        """The sampled events of the batch, as one capture record (one row per event)."""
        capture, scored = self.capture, outcome.scored
        assert capture is not None and scored is not None
        picked = capture.sampled(len(scored.event_ids))
        if not picked:
            return
        columns = {name: [values[i] for i in picked] for name, values in scored.columns.items()}
        scores = None if scored.scores is None else [scored.scores[i] for i in picked]
        capture.offer_events([scored.event_ids[i] for i in picked], "stream", scorer.version, columns,
                             [scored.labels[i] for i in picked], scores, outcome.latency_ms)

    def _report_lag(self, now: float, started: float) -> None:
        elapsed = now - started
        if elapsed > 0:
            self.metrics.rate.labels(self.metrics.model).set(self.summary.events / elapsed)
        try:
            self.metrics.set_lag(self.broker.lag())
        except Exception as exc:  # noqa: BLE001 - lag is reporting only: never stop scoring for it
            log.debug("lag not available: %s", exc)
