"""One micro-batch of events scored by one model version: JSON parsed, checked against the
model's input schema, scored in one call through the scoring core, each event turned into
an output record or a dead letter.

Output (one JSON object per event; the value of a Kafka message, the ``data`` field of a
Redis entry, one line of a file)::

    {"event_id": "...", "key": "..." | null, "model": "churn", "version": "3",
     "prediction": 1, "score": 0.83, "probabilities": {"0": 0.17, "1": 0.83},
     "latency_ms": 1.2, "source": {"source": "churn-features", "partition": 0, "offset": "41"}}

``score`` (P(class 1) for binary, else the top probability) and ``probabilities`` only for
classifiers that give probabilities. A dead letter::

    {"reason": "malformed_json" | "not_an_object" | "schema" | "refused" | "unscorable" |
               "poison" | "no_data_field",
     "detail": "...", "event_id": "..." | null, "model": "churn", "version": "3",
     "source": {...}, "payload": "<the event as received>"}
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NamedTuple

import orjson

from conveyor.core.errors import RefusedRows
from conveyor.streaming.brokers import Event, Record

if TYPE_CHECKING:
    from conveyor.scoring import InputSchema, Scorer


class Scored(NamedTuple):
    """One scored event, as capture records it (a tuple: one is made per event)."""

    event_id: str
    row: dict[str, Any]
    prediction: Any
    score: float | None


@dataclass
class BatchOutcome:
    outputs: list[Record] = field(default_factory=list)
    dead_letters: list[Record] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)  # one per dead letter
    scored: list[Scored] = field(default_factory=list)
    latency_ms: float = 0.0


class _Parsed(NamedTuple):
    event: Event
    row: dict[str, Any]
    event_id: str


class _Check(NamedTuple):
    """One input field's check, read off the schema once per scorer."""

    name: str
    required: bool
    numeric: bool
    text: bool
    type: str


class BatchScorer:
    """Scores micro-batches with whichever scorer it is handed (one per batch)."""

    def __init__(self, event_id_field: str = "event_id") -> None:
        self.event_id_field = event_id_field
        self._checks: tuple[InputSchema | None, tuple[_Check, ...]] = (None, ())

    def score(self, events: list[Event], scorer: Scorer, read_at: float) -> BatchOutcome:
        outcome = BatchOutcome()
        meta = {"model": scorer.name, "version": scorer.version}
        parsed = self._checked(self._parsed(events, outcome, meta), self._checks_of(scorer.schema), outcome, meta)
        results = self._predict(parsed, scorer, outcome, meta)
        outcome.latency_ms = latency = round((time.perf_counter() - read_at) * 1000, 3)
        name, version = scorer.name, scorer.version
        dumps, outputs, scored = orjson.dumps, outcome.outputs, outcome.scored
        for item, (prediction, score, probabilities) in results:
            event = item.event
            key = event.key
            c = event.coordinates
            body: dict[str, Any] = {
                "event_id": item.event_id,
                "key": None if key is None else key.decode(errors="replace"),
                "model": name,
                "version": version,
                "prediction": prediction,
            }
            if probabilities is not None:
                body["score"] = score
                body["probabilities"] = probabilities
            body["latency_ms"] = latency
            body["source"] = {"source": c.source, "partition": c.partition, "offset": c.offset}
            outputs.append(Record(dumps(body), key))
            scored.append(Scored(item.event_id, item.row, prediction, score))
        return outcome

    def _checks_of(self, schema: InputSchema) -> tuple[_Check, ...]:
        if self._checks[0] is not schema:
            self._checks = (schema, tuple(_Check(f.name, f.required, f.numeric, f.text, f.type) for f in schema.fields))
        return self._checks[1]

    # -- parsing and checking ---------------------------------------------------------------

    def _parsed(self, events: list[Event], outcome: BatchOutcome, meta: dict[str, str]) -> list[_Parsed]:
        """The events that are JSON objects, with their ids; the others are dead letters."""
        loads, field, parsed = orjson.loads, self.event_id_field, []
        for event in events:
            if event.problem is not None:
                reason = "no_data_field" if event.problem.startswith("the entry has no field") else "poison"
                _dead(outcome, event, reason, event.problem, None, meta)
                continue
            try:
                row = loads(event.value)
            except orjson.JSONDecodeError as exc:
                _dead(outcome, event, "malformed_json", f"not JSON: {exc}", None, meta)
                continue
            if type(row) is not dict:
                _dead(outcome, event, "not_an_object", f"a JSON {type(row).__name__}, not an object", None, meta)
                continue
            given = row.get(field)
            parsed.append(_Parsed(event, row, event.coordinates.event_id() if given is None else str(given)))
        return parsed

    def _checked(
        self, parsed: list[_Parsed], checks: tuple[_Check, ...], outcome: BatchOutcome, meta: dict[str, str]
    ) -> list[_Parsed]:
        """The events whose columns the model can take, checked column by column (a value of
        an unexpected type sends its event to the slow path that names the problem)."""
        suspects: set[int] = set()
        for check in checks:
            allowed = _NUMBER if check.numeric else _TEXT if check.text else None
            if allowed is None:
                continue
            name = check.name
            suspects.update(i for i, item in enumerate(parsed) if type(item.row.get(name, _MISSING)) not in allowed)
        if not suspects:
            return parsed
        kept = []
        for i, item in enumerate(parsed):
            problem = _schema_problem(item.row, checks) if i in suspects else None
            if problem is None:
                kept.append(item)
            else:
                _dead(outcome, item.event, "schema", problem, item.event_id, meta)
        return kept

    # -- scoring ----------------------------------------------------------------------------

    def _predict(
        self, parsed: list[_Parsed], scorer: Scorer, outcome: BatchOutcome, meta: dict[str, str]
    ) -> list[tuple[_Parsed, tuple[Any, float | None, dict[str, float] | None]]]:
        if not parsed:
            return []
        names = scorer.schema.names
        columns = {name: [item.row.get(name) for item in parsed] for name in names}
        try:
            prediction = scorer.predict(columns)
        except RefusedRows as refused:
            by_row = {r.row: r.line().split(", ", 1)[-1] for r in refused.refusals}
            kept = []
            for i, item in enumerate(parsed):
                if i in by_row:
                    _dead(outcome, item.event, "refused", f"the model refuses {by_row[i]}", item.event_id, meta)
                else:
                    kept.append(item)
            if len(kept) < len(parsed):
                return self._predict(kept, scorer, outcome, meta)
            if len(parsed) == 1:  # refused, though not by its position: still this event
                _dead(outcome, parsed[0].event, "refused", refused.message, parsed[0].event_id, meta)
                return []
            return self._one_by_one(parsed, scorer, outcome, meta)
        except Exception as exc:  # noqa: BLE001 - one bad row must not stop the batch: score alone
            if len(parsed) == 1:
                _dead(outcome, parsed[0].event, "unscorable", f"{type(exc).__name__}: {exc}"[:500],
                      parsed[0].event_id, meta)
                return []
            return self._one_by_one(parsed, scorer, outcome, meta)
        labels = prediction.labels.tolist()
        if prediction.proba is None or prediction.classes is None:
            return [(item, (label, None, None)) for item, label in zip(parsed, labels, strict=True)]
        classes = [str(c) for c in prediction.classes.tolist()]
        scores = prediction.scores
        score_list = scores.tolist() if scores is not None else [None] * len(labels)
        return [
            (item, (label, score, dict(zip(classes, probs, strict=True))))
            for item, label, score, probs in zip(parsed, labels, score_list, prediction.proba.tolist(), strict=True)
        ]


    def _one_by_one(
        self, parsed: list[_Parsed], scorer: Scorer, outcome: BatchOutcome, meta: dict[str, str]
    ) -> list[tuple[_Parsed, tuple[Any, float | None, dict[str, float] | None]]]:
        """A batch the model failed on as a whole, scored event by event: only the events
        that fail alone become dead letters."""
        return [pair for item in parsed for pair in self._predict([item], scorer, outcome, meta)]


def _schema_problem(row: dict[str, Any], checks: tuple[_Check, ...]) -> str | None:
    """What is wrong with one event's columns for this model (None: nothing)."""
    for f in checks:
        value = row.get(f.name, _MISSING)
        if value is None:
            continue  # the model decides: an imputer takes it, else it refuses the row
        kind = type(value)
        if f.numeric and (kind is float or kind is int):
            continue
        if f.text and kind is str:
            continue
        if value is _MISSING:
            if f.required:
                return f"missing column {f.name!r}"
            continue
        if f.numeric and (isinstance(value, bool) or not isinstance(value, int | float)):
            return f"column {f.name!r} must be a number ({f.type}), got {type(value).__name__} {value!r:.50}"
        if f.text and not isinstance(value, str):
            return f"column {f.name!r} must be a string, got {type(value).__name__} {value!r:.50}"
    return None


_MISSING = object()
_NUMBER = frozenset({int, float, type(None)})  # None: the model decides (an imputer, else it refuses)
_TEXT = frozenset({str, type(None)})


def _dead(
    outcome: BatchOutcome, event: Event, reason: str, detail: str, event_id: str | None, meta: dict[str, str]
) -> None:
    body = {
        "reason": reason,
        "detail": detail,
        "event_id": event_id,
        **meta,
        "source": event.coordinates.to_dict(),
        "payload": event.value.decode(errors="replace"),
    }
    outcome.dead_letters.append(Record(orjson.dumps(body), event.key))
    outcome.reasons.append(reason)
