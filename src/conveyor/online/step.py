"""One mini-batch through the learner: parse → schema → guards → predict (before learning)
→ progressive validation → learn → drift. Broker-free, so the loop, the tests and the
benchmark run the same code.

An event is a JSON object with the features, optionally its ``event_id``, the label (the
config's ``target``) and a source field; one with the label and no features is a late label
for a held event. Rejected events become dead letters::

    {"reason": "malformed_json" | "not_an_object" | "poison" | "schema" | "no_label" |
               "unknown_class" | "label_type" | "label_out_of_range" | "outlier" |
               "rate_limited" | "source_share" | "label_unmatched",
     "detail": "...", "event_id": "...", "model": "churn", "version": "learner",
     "source": {...}, "payload": "<the event as received>"}
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from itertools import repeat
from operator import attrgetter, itemgetter
from typing import TYPE_CHECKING, Any

import numpy as np
import orjson

from conveyor.online.guards import GuardBatch, GuardChain, SchemaCheck
from conveyor.online.learner import take_rows as _take
from conveyor.online.pending import Held, PendingLabels

if TYPE_CHECKING:
    from conveyor.online.drift import DriftWatch
    from conveyor.online.holdout import Holdout
    from conveyor.online.learner import Learner
    from conveyor.online.validation import Prequential
    from conveyor.online.watch import LiveWatch
    from conveyor.streaming.brokers import Event, Record

ERROR_SIGNAL = "prequential_error"


@dataclass(frozen=True)
class StepSettings:
    model: str
    numeric: list[str]
    categorical: list[str]
    target: str
    event_id_field: str = "event_id"
    source_field: str | None = None  # None: the message key
    sources_needed: bool = False  # a source guard is on
    unlabelled: str = "wait"  # wait | dead_letter
    drift_features: tuple[str, ...] = ()


@dataclass
class StepOutcome:
    dead_letters: list[Record] = field(default_factory=list)
    reasons: Counter[str] = field(default_factory=Counter)
    learned: int = 0
    predicted: int = 0
    judged_ids: list[str] = field(default_factory=list)  # labelled events judged, in order
    errors: np.ndarray = field(default_factory=lambda: np.zeros(0))  # their prequential error


@dataclass
class StepParts:
    """What one step works with (the loop owns them, a checkpoint reads them)."""

    learner: Learner
    guards: GuardChain
    prequential: Prequential
    pending: PendingLabels
    holdout: Holdout | None = None
    drift: DriftWatch | None = None
    watch: LiveWatch | None = None


class LearnStep:
    def __init__(self, settings: StepSettings, parts: StepParts) -> None:
        self.settings = settings
        self.parts = parts
        self.schema = SchemaCheck(settings.numeric, settings.categorical)
        self.features = [*settings.numeric, *settings.categorical]
        self.events = 0

    def process(self, events: list[Event], now: float) -> StepOutcome:
        out = StepOutcome()
        self.events += len(events)
        rows, kept, labels_only = self._parsed(events, out)
        late = self._late(labels_only, out)
        X, problems = self.schema.columns(rows)
        if problems:
            for i, problem in sorted(problems.items()):
                self._dead(out, kept[i][0], "schema", problem, kept[i][1])
            kept = [item for i, item in enumerate(kept) if i not in problems]
            rows = [row for i, row in enumerate(rows) if i not in problems]
        target = self.settings.target
        labels = _field(rows, target)
        if self.settings.unlabelled == "dead_letter" and None in labels:
            X, rows, kept, labels = self._no_label(X, rows, kept, labels, out)
        if rows:
            self._learn_batch(X, rows, kept, labels, now, out)
        if late is not None:
            self._learn_late(*late, out=out)
        self.parts.pending.expire(now)
        return out

    # -- parsing ----------------------------------------------------------------------------

    def _parsed(self, events: list[Event], out: StepOutcome) -> tuple[list[dict[str, Any]], list[tuple[Event, str]], list[tuple[Event, str, Any]]]:
        """Feature rows with their events and ids, and the label-only events (late labels)."""
        loads, id_field, target = orjson.loads, self.settings.event_id_field, self.settings.target
        try:  # the usual batch: all JSON objects, no broker problem, one pass each
            if set(map(_PROBLEM, events)) != _NONE:  # one C-level pass each, no generator
                raise ValueError
            rows = list(map(loads, map(_VALUE, events)))
            if set(map(type, rows)) != _DICT:  # one C-level pass
                raise ValueError
        except ValueError:  # orjson's decode error is one
            return self._parsed_one_by_one(events, out)
        ids = _field(rows, id_field)
        if not set(map(type, ids)) <= _STR:  # an id missing or not a string: the broker's, or as text
            ids = [given if type(given) is str else event.coordinates.event_id() if given is None else str(given)
                   for given, event in zip(ids, events, strict=True)]
        first = self.features[0]
        if all(map(dict.__contains__, rows, repeat(first))):
            return rows, list(zip(events, ids, strict=True)), []
        kept_rows, kept, labels_only = [], [], []
        for row, event, event_id in zip(rows, events, ids, strict=True):
            if first not in row and target in row and not any(name in row for name in self.features):
                labels_only.append((event, event_id, row[target]))
            else:
                kept_rows.append(row)
                kept.append((event, event_id))
        return kept_rows, kept, labels_only

    def _parsed_one_by_one(self, events: list[Event], out: StepOutcome) -> tuple[list[dict[str, Any]], list[tuple[Event, str]], list[tuple[Event, str, Any]]]:
        loads = orjson.loads
        good: list[Event] = []
        for event in events:
            if event.problem is not None:
                self._dead(out, event, "poison", event.problem, None)
                continue
            try:
                row = loads(event.value)
            except orjson.JSONDecodeError as exc:
                self._dead(out, event, "malformed_json", f"not JSON: {exc}", None)
                continue
            if type(row) is not dict:
                self._dead(out, event, "not_an_object", f"a JSON {type(row).__name__}, not an object", None)
                continue
            good.append(event)
        return self._parsed(good, out) if good else ([], [], [])

    def _no_label(self, X: dict[str, Any], rows: list[dict[str, Any]], kept: list[tuple[Event, str]],
                  labels: list[Any], out: StepOutcome) -> tuple[dict[str, Any], list[dict[str, Any]], list[tuple[Event, str]], list[Any]]:
        has = np.asarray([label is not None for label in labels])
        for i in np.flatnonzero(~has).tolist():
            self._dead(out, kept[i][0], "no_label", f"no {self.settings.target!r} (online.unlabelled: dead_letter)", kept[i][1])
        return (_take(X, np.flatnonzero(has)), [r for r, h in zip(rows, has, strict=True) if h],
                [k for k, h in zip(kept, has, strict=True) if h], [label for label in labels if label is not None])

    # -- one batch of feature events ----------------------------------------------------------

    def _learn_batch(self, X: dict[str, Any], rows: list[dict[str, Any]], kept: list[tuple[Event, str]],
                     labels: list[Any], now: float, out: StepOutcome) -> None:
        parts = self.parts
        sources = self._sources(rows, kept)
        verdicts = parts.guards.run(GuardBatch(X, labels, sources, now))
        alive = verdicts.alive
        for i, (reason, detail) in sorted(verdicts.reasons.items()):
            self._dead(out, kept[i][0], reason, detail, kept[i][1])
        if not alive.any():
            return
        if not alive.all():
            index = np.flatnonzero(alive)
            X = _take(X, index)
            rows = [rows[i] for i in index.tolist()]
            kept = [kept[i] for i in index.tolist()]
            labels = [labels[i] for i in index.tolist()]
            sources = [sources[i] for i in index.tolist()]
        learner = parts.learner
        predicted, proba = learner.predict_with_proba(X)
        out.predicted += len(predicted)
        labelled = np.ones(len(labels), dtype=bool) if None not in labels else \
            np.fromiter((label is not None for label in labels), dtype=bool, count=len(labels))
        if not labelled.all():
            self._hold(rows, kept, labels, sources, predicted, proba, labelled, now)
        if not labelled.any() or not learner.supervised:
            if not learner.supervised:
                learner.learn_rows(X, None, None)
                out.learned += len(labels)
            return
        rows_learned: np.ndarray | None = None  # the labelled rows of X (None: all)
        if labelled.all():
            Xl, ids, truth = X, [k[1] for k in kept], _typed(labels, learner.task)
            pl, probal = predicted, proba
        else:
            rows_learned = np.flatnonzero(labelled)
            Xl, ids = _take(X, rows_learned), [kept[i][1] for i in rows_learned.tolist()]
            truth = _typed([labels[i] for i in rows_learned.tolist()], learner.task)
            pl, probal = predicted[rows_learned], None if proba is None else proba[rows_learned]
        errors = parts.prequential.add(truth, pl, probal)
        out.judged_ids.extend(ids)
        out.errors = errors
        if parts.watch is not None:
            parts.watch.observe(Xl, truth)
        learn_y = truth
        if parts.holdout is not None and parts.holdout.streaming:
            held_out = parts.holdout.chosen(ids)
            if held_out.any():
                parts.holdout.add(_take(Xl, np.flatnonzero(held_out)), truth[held_out])
                rest = np.flatnonzero(~held_out)
                rows_learned, learn_y = (rest if rows_learned is None else rows_learned[rest]), truth[rest]
        if len(learn_y):
            learner.learn_rows(X, rows_learned, learn_y)  # X as predicted: the learner may reuse its encoding
            out.learned += len(learn_y)
        if parts.drift is not None:
            signals = {ERROR_SIGNAL: errors}
            for name in self.settings.drift_features:
                signals[name] = np.asarray(Xl[name], dtype=np.float64)
            parts.drift.update(signals, self.events)

    def _sources(self, rows: list[dict[str, Any]], kept: list[tuple[Event, str]]) -> list[str]:
        if not self.settings.sources_needed:
            return ["-"] * len(rows)
        name = self.settings.source_field
        if name is not None:
            values = _field(rows, name)
            return values if set(map(type, values)) <= _STR else ["-" if v is None else str(v) for v in values]
        return ["-" if event.key is None else event.key.decode(errors="replace") for event, _ in kept]

    def _hold(self, rows: list[dict[str, Any]], kept: list[tuple[Event, str]], labels: list[Any], sources: list[str],
              predicted: np.ndarray, proba: np.ndarray | None, labelled: np.ndarray, now: float) -> None:
        pending, features = self.parts.pending, self.features
        for i in np.flatnonzero(~labelled).tolist():
            row = {name: rows[i][name] for name in features}
            pending.hold(kept[i][1], Held(row, predicted[i], None if proba is None else proba[i], sources[i], now))

    # -- late labels --------------------------------------------------------------------------

    def _late(self, labels_only: list[tuple[Event, str, Any]], out: StepOutcome) -> tuple[list[Held], list[Any], list[str]] | None:
        if not labels_only:
            return None
        joined: list[Held] = []
        truth: list[Any] = []
        ids: list[str] = []
        for event, event_id, label in labels_only:
            held = self.parts.pending.join(event_id)
            if held is None:
                self._dead(out, event, "label_unmatched", "no held event with this id (never seen, expired or "
                           "labelled before)", event_id)
                continue
            joined.append(held)
            truth.append(label)
            ids.append(event_id)
        return (joined, truth, ids) if joined else None

    def _learn_late(self, held: list[Held], truth: list[Any], ids: list[str], *, out: StepOutcome) -> None:
        """Labelled at last: judged by the prediction made when the event came, then learned."""
        parts, learner = self.parts, self.parts.learner
        X: dict[str, Any] = {name: [h.row[name] for h in held] for name in self.features}
        for name in self.settings.numeric:
            X[name] = np.asarray(X[name], dtype=np.float64)
        verdicts = parts.guards.run(GuardBatch(X, truth, [h.source for h in held], held[-1].at))
        if not verdicts.alive.any():
            return
        index = np.flatnonzero(verdicts.alive)
        X = _take(X, index)
        y = _typed(np.asarray([truth[i] for i in index.tolist()], dtype=object), learner.task)
        predicted = np.asarray([held[i].prediction for i in index.tolist()], dtype=object)
        probas = [held[i].proba for i in index.tolist()]
        proba = None if any(p is None for p in probas) else np.vstack(probas)
        errors = parts.prequential.add(y, _typed(predicted, learner.task), proba)
        out.judged_ids.extend(ids[i] for i in index.tolist())
        out.errors = np.concatenate([out.errors, errors])
        learner.learn(X, y)
        out.learned += len(y)

    # -- dead letters ------------------------------------------------------------------------

    def _dead(self, out: StepOutcome, event: Event, reason: str, detail: str, event_id: str | None) -> None:
        from conveyor.streaming.brokers import Record

        body = {
            "reason": reason, "detail": detail, "event_id": event_id, "model": self.settings.model,
            "version": "learner", "source": event.coordinates.to_dict(),
            "payload": event.value.decode(errors="replace"),
        }
        out.dead_letters.append(Record(orjson.dumps(body), event.key))
        out.reasons[reason] += 1


_STR = frozenset({str})
_DICT = {dict}
_NONE = {None}
_PROBLEM, _VALUE = attrgetter("problem"), attrgetter("value")


def _field(rows: list[dict[str, Any]], name: str) -> list[Any]:
    """Each row's ``name`` (None where a row lacks it), in one C-level pass when all have it."""
    try:
        return list(map(itemgetter(name), rows))
    except KeyError:
        return [row.get(name) for row in rows]


def _typed(values: list[Any] | np.ndarray, task: str) -> np.ndarray:
    """Regression labels as floats; class labels in numpy's own type for them (the guards let
    through only known classes, so the batch's labels are of one kind)."""
    if task == "regression":
        return np.asarray(values, dtype=np.float64)
    return np.asarray(values if isinstance(values, list) else values.tolist())
