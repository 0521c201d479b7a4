"""The learner loop: read a mini-batch → the step (guards, predict, validate, learn) → every
N events or T seconds a checkpoint, which is also when the events since the last one and
their dead letters are delivered (the broker commits the inputs once the dead letters are
acknowledged) → watch the promoted checkpoint, roll it back when it falls behind."""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from conveyor.core.errors import LearnerBusyError
from conveyor.online.checkpoint import CheckpointResult, CheckpointState
from conveyor.online.learner import Learner
from conveyor.online.offsets import Offsets
from conveyor.streaming.brokers import Delivery

if TYPE_CHECKING:
    from collections.abc import Callable

    from conveyor.lifecycle.context import LifecycleContext
    from conveyor.online.checkpoint import Checkpoints
    from conveyor.online.lease import LearnerLease
    from conveyor.online.metrics import OnlineMetrics
    from conveyor.online.step import LearnStep, StepOutcome
    from conveyor.stack.tracking import RunLog
    from conveyor.streaming.brokers import Broker, Event, Record

log = logging.getLogger("conveyor.online")

DRAIN_S = 60.0


@dataclass(frozen=True)
class LoopOptions:
    max_batch: int = 256
    max_wait_s: float = 0.02
    idle_exit_s: float | None = None
    every_events: int | None = 50_000
    every_s: float | None = 600.0
    log_every_events: int = 10_000
    checkpoint_on_stop: bool = True  # False: stop as a crash would (tests of the restart)


@dataclass
class LearnSummary:
    events: int = 0
    learned: int = 0
    predicted: int = 0
    dead_letters: int = 0
    reasons: dict[str, int] = field(default_factory=dict)
    skipped: int = 0  # replayed events at or before the resumed checkpoint's offsets
    resumed_from: str | None = None
    checkpoints: list[dict[str, Any]] = field(default_factory=list)
    rollbacks: list[dict[str, Any]] = field(default_factory=list)
    drifts: list[dict[str, Any]] = field(default_factory=list)
    prequential: dict[str, float] = field(default_factory=dict)
    duration_s: float = 0.0
    committed: bool = True

    def to_dict(self) -> dict[str, Any]:
        rate = round(self.learned / self.duration_s) if self.duration_s > 0 else None
        return {**{k: v for k, v in self.__dict__.items() if k != "duration_s"},
                "duration_s": round(self.duration_s, 3), "updates_per_s": rate}


@dataclass
class LoopParts:
    """What the loop drives besides the step (all built by run.py)."""

    context: LifecycleContext
    broker: Broker
    checkpoints: Checkpoints
    metrics: OnlineMetrics
    learner_run: RunLog
    offsets: Offsets
    labels: Broker | None = None
    lease: LearnerLease | None = None
    clock: Callable[[], float] = time.monotonic


class OnlineLoop:
    def __init__(self, step: LearnStep, parts: LoopParts, options: LoopOptions) -> None:
        self.step = step
        self.parts = parts
        self.options = options
        self.summary = LearnSummary()
        self._held: list[Event] = []
        self._held_labels: list[Event] = []
        self._dead: list[Record] = []
        self._counts: Counter[str] = Counter()
        self._since_checkpoint = 0

    def run(self, stop: threading.Event) -> LearnSummary:
        parts, options, summary = self.parts, self.options, self.summary
        clock = parts.clock
        started = last_event = last_checkpoint = clock()
        next_log = options.log_every_events
        try:
            while not stop.is_set():
                if parts.lease is not None and parts.lease.lost:
                    raise LearnerBusyError(
                        f"the learner lease of {parts.context.name!r} was taken over by another process",
                        hint="this learner stalled past its lease; the other one goes on from the last checkpoint",
                    )
                events = parts.broker.read(options.max_batch, options.max_wait_s)
                self._held.extend(events)
                if parts.labels is not None:
                    labels = parts.labels.read(options.max_batch, 0.0)
                    self._held_labels.extend(labels)
                    events = events + labels
                now = clock()
                if events:
                    last_event = now
                    self._process(parts.offsets.fresh(events), now)
                elif parts.broker.exhausted or (options.idle_exit_s is not None and now - last_event >= options.idle_exit_s):
                    break
                elif not parts.broker.ready:
                    last_event = now
                if summary.events >= next_log:
                    self._log_metrics()
                    next_log = summary.events + options.log_every_events
                if self._due(now, last_checkpoint):
                    self.checkpoint()
                    last_checkpoint = clock()
            if options.checkpoint_on_stop and self._since_checkpoint:
                self.checkpoint()
        finally:
            summary.skipped = parts.offsets.skipped
            summary.prequential = self.step.parts.prequential.summary()
            summary.committed = parts.broker.drain(DRAIN_S)
            summary.duration_s = clock() - started
        return summary

    def health(self) -> dict[str, Any]:
        """/healthz: learning (the lease held), and where it stands."""
        lease, summary = self.parts.lease, self.summary
        last = summary.checkpoints[-1] if summary.checkpoints else None
        return {"ok": lease is None or not lease.lost, "model": self.parts.context.name, "events": summary.events,
                "learned": summary.learned, "dead_letters": summary.dead_letters,
                "checkpoint": None if last is None else {"version": last["version"], "gate": last["gate"],
                                                         "alias": last["alias"]}}

    def _due(self, now: float, last: float) -> bool:
        if not self._since_checkpoint:
            return False
        every_events, every_s = self.options.every_events, self.options.every_s
        return bool((every_events is not None and self._since_checkpoint >= every_events)
                    or (every_s is not None and now - last >= every_s))

    def _process(self, events: list[Event], now: float) -> None:
        if not events:
            return
        outcome = self.step.process(events, now)
        self._account(len(events), outcome)
        watch = self.step.parts.watch
        if watch is not None:
            reason = watch.verdict()
            if reason is not None:
                self._roll_back(reason)

    def _account(self, read: int, outcome: StepOutcome) -> None:
        s, m, model = self.summary, self.parts.metrics, self.parts.metrics.model
        s.events += read
        s.learned += outcome.learned
        s.predicted += outcome.predicted
        s.dead_letters += len(outcome.dead_letters)
        self._since_checkpoint += read
        self._dead.extend(outcome.dead_letters)
        for reason, count in outcome.reasons.items():
            s.reasons[reason] = s.reasons.get(reason, 0) + count
            self._counts[reason] += count
            m.rejected.labels(model, reason).inc(count)
        m.events.labels(model).inc(read)
        m.learned.labels(model).inc(outcome.learned)
        m.waiting.labels(model).set(len(self.step.parts.pending))
        prequential = self.step.parts.prequential
        if prequential.seen:
            if prequential.task == "classification":
                m.accuracy.labels(model).set(prequential.correct / prequential.seen)
            elif prequential.task == "regression":
                m.mae.labels(model).set(prequential.abs_error / prequential.seen)

    def _log_metrics(self) -> None:
        window = self.step.parts.prequential.window_metrics()
        for name, value in window.items():
            self.parts.metrics.window.labels(self.parts.metrics.model, name).set(value)
        from mlflow.entities import Metric

        now, step = int(time.time() * 1000), self.summary.events
        values = {**{f"prequential.{k}": v for k, v in window.items()}, "online.learned": self.summary.learned,
                  **{f"dead_letters.{k}": v for k, v in self._counts.items()}}
        try:
            self.parts.learner_run.client.log_batch(
                self.parts.learner_run.run_id, metrics=[Metric(k, float(v), now, step) for k, v in values.items()])
        except Exception as exc:  # noqa: BLE001 - a tracking hiccup must not stop learning
            log.warning("logging the prequential metrics failed: %s", exc)

    # -- checkpoints and rollback -----------------------------------------------------------

    def checkpoint(self) -> CheckpointResult:
        parts, step = self.parts, self.step
        state = CheckpointState(step.events, step.parts.learner.n_seen_, dict(parts.offsets.last),
                                step.parts.prequential.window_metrics(), dict(self._counts))
        result = parts.checkpoints.save(step.parts.learner, state)
        parts.broker.deliver(Delivery(self._held, [], self._dead))
        if parts.labels is not None:
            parts.labels.deliver(Delivery(self._held_labels))
        self._held, self._held_labels, self._dead = [], [], []
        self._since_checkpoint = 0
        parts.metrics.checkpoints.labels(parts.metrics.model, result.verdict.status).inc()
        self.summary.checkpoints.append(result.to_dict())
        log.info("checkpoint v%s at %d events: gate %s%s%s", result.version, result.events, result.verdict.status,
                 f", {result.alias}" if result.alias else "",
                 f" → {', '.join(result.promoted)}" if result.promoted else "")
        if result.refused is not None:
            log.warning("checkpoint v%s: %s", result.version, result.refused)
        if result.alias is not None:
            self._watch(result)
        self._log_metrics()
        return result

    def _watch(self, result: CheckpointResult) -> None:
        watch = self.step.parts.watch
        if watch is None:
            return
        from conveyor.scoring import OnlineScorer, RegisteredVersion

        cfg = self.parts.context.config
        scorer = OnlineScorer(Learner.from_bytes(result.state), self.parts.checkpoints.scorer_of(result.version).schema,
                              RegisteredVersion(cfg.name, result.version, result.run_id))
        previous = None
        if result.replaced is not None:
            try:
                previous = (result.replaced, self.parts.checkpoints.scorer_of(result.replaced))
            except Exception as exc:  # noqa: BLE001 - a predecessor that cannot load: watch against the holdout
                log.warning("v%s cannot be loaded to watch against (%s)", result.replaced, exc)
        reference = result.metrics.get("accuracy" if cfg.task == "classification" else "mae")
        watch.start(result.version, scorer, previous, reference)

    def _roll_back(self, reason: str) -> None:
        watch = self.step.parts.watch
        assert watch is not None and watch.promoted is not None
        context, cfg = self.parts.context, self.parts.context.config
        stage = cfg.stages[0]
        previous = watch.previous
        try:
            move = context.promoter.rollback(cfg.name, stage, reason=f"online: {reason}")
        except Exception as exc:  # noqa: BLE001 - no history to roll back to, the lock busy: keep going
            log.warning("automatic rollback of %s@%s failed: %s", cfg.name, stage, exc)
            watch.stop()
            return
        log.warning("rolled %s@%s back from v%s to v%s: %s", cfg.name, stage, move.from_version, move.to_version, reason)
        self.parts.metrics.rollbacks.labels(cfg.name).inc()
        self.summary.rollbacks.append({"stage": stage, "from": move.from_version, "to": move.to_version,
                                       "reason": reason, "events": self.summary.events})
        if previous is not None and previous.version == move.to_version and previous.scorer.flavor == "online":
            # learning goes on from the state the stage went back to, not from the bad update
            self.step.parts.learner = Learner.from_bytes(previous.scorer.estimator.to_bytes())
        watch.stop()
