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

The batch is handled column by column: the events parsed in one pass, each input column
taken from the parsed objects at once and its types checked as a set, the outputs written
from one template per batch (:mod:`conveyor.streaming.outputs`). Only an event that fails a
check takes the path that looks at it alone and names its problem.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from operator import itemgetter
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np
import orjson

from conveyor.core.errors import RefusedRows
from conveyor.streaming.brokers import Batch, Event, Record, Records
from conveyor.streaming.outputs import OutputTemplate

if TYPE_CHECKING:
    from collections.abc import Sequence

    from conveyor.scoring import InputSchema, Scorer


@dataclass
class ScoredRows:
    """The scored events of a batch, column by column, as capture records them."""

    event_ids: list[str]
    columns: dict[str, list[Any]]  # the model's input columns
    labels: list[Any]
    scores: list[float] | None


@dataclass
class BatchOutcome:
    outputs: Records = field(default_factory=Records)
    dead_letters: Records = field(default_factory=Records)
    reasons: list[str] = field(default_factory=list)  # one per dead letter
    scored: ScoredRows | None = None
    latency_ms: float = 0.0


class _Check(NamedTuple):
    """One input field's check, read off the schema once per scorer."""

    name: str
    required: bool
    numeric: bool
    text: bool
    type: str


@dataclass
class _Rows:
    """The batch's events still in the running: their positions in the batch, their ids and
    the model's input columns (one value per event)."""

    where: list[int]
    ids: list[str]
    columns: dict[str, list[Any]]

    def keep(self, kept: Sequence[int]) -> _Rows:
        """The rows at these indexes (of this list)."""
        return _Rows([self.where[i] for i in kept], [self.ids[i] for i in kept], _take(self.columns, kept))


class _Predicted(NamedTuple):
    """What the model gave for the rows at these indexes (of the rows it was handed)."""

    kept: list[int]
    labels: np.ndarray
    proba: np.ndarray | None
    classes: np.ndarray | None
    scores: np.ndarray | None


class BatchScorer:
    """Scores micro-batches with whichever scorer it is handed (one per batch)."""

    def __init__(self, event_id_field: str = "event_id") -> None:
        self.event_id_field = event_id_field
        self._checks: tuple[InputSchema | None, tuple[_Check, ...], Any, Any] = (None, (), None, None)
        self._template: tuple[tuple[Any, ...], OutputTemplate | None] = ((), None)

    def score(self, events: Batch | Sequence[Event], scorer: Scorer, read_at: float) -> BatchOutcome:
        batch = Batch.of(events)
        outcome = BatchOutcome()
        meta = {"model": scorer.name, "version": scorer.version}
        checks, taken, taken_without_id = self._checks_of(scorer.schema)
        names = scorer.schema.names
        rows = self._taken(batch, (taken, taken_without_id), names, checks, outcome, meta)
        if rows is None:  # an event that is not a JSON object with every column: each looked at alone
            rows = self._one_at_a_time(batch, names, checks, outcome, meta)
        predicted = self._predict(batch, rows, scorer, outcome, meta)
        outcome.latency_ms = latency = round((time.perf_counter() - read_at) * 1000, 3)
        if predicted is None or not predicted.kept:
            return outcome
        if len(predicted.kept) < len(rows.ids):
            rows = rows.keep(predicted.kept)
        template = self._template_of(scorer, predicted.classes, batch)
        outcome.outputs = template.render(batch, rows.where, rows.ids, predicted.labels, predicted.scores,
                                          predicted.proba, latency)
        outcome.scored = ScoredRows(rows.ids, rows.columns, predicted.labels.tolist(),
                                    None if predicted.scores is None else predicted.scores.tolist())
        return outcome

    def _checks_of(self, schema: InputSchema) -> tuple[tuple[_Check, ...], Any, Any]:
        """The schema's checks, and what takes the input columns and the event id out of an
        object: one that needs the id field, one for events that may lack it (id None)."""
        if self._checks[0] is not schema:
            checks = tuple(_Check(f.name, f.required, f.numeric, f.text, f.type) for f in schema.fields)
            inputs, field = itemgetter(*schema.names, schema.names[0]), self.event_id_field

            def taken_without_id(row: dict[str, Any]) -> tuple[Any, ...]:
                return (*inputs(row)[:-1], row.get(field))

            self._checks = (schema, checks, itemgetter(*schema.names, field), taken_without_id)
        return self._checks[1], self._checks[2], self._checks[3]

    def _template_of(self, scorer: Scorer, classes: np.ndarray | None, batch: Batch) -> OutputTemplate:
        has_classes = classes is not None
        names = tuple(str(c) for c in classes.tolist()) if classes is not None else ()
        key = (scorer.name, scorer.version, has_classes, names, batch.source, batch.partitions is None)
        template = self._template[1]
        if self._template[0] != key or template is None:
            template = OutputTemplate(scorer.name, scorer.version, names if has_classes else None,
                                      batch.source, batch.partitions is not None)
            self._template = (key, template)
        return template

    # -- parsing and checking ---------------------------------------------------------------

    def _taken(
        self, batch: Batch, taken: tuple[Any, Any], names: list[str], checks: tuple[_Check, ...], outcome: BatchOutcome,
        meta: dict[str, str],
    ) -> _Rows | None:
        """The common case in one pass: every event a JSON object with every input column (and
        an id, or else read again without: the ids then come from where the events were read);
        each object is dropped as soon as its values are out (None: not every event is)."""
        if batch.problems:
            return None
        values = None
        for take in taken:
            try:
                values = list(map(take, map(orjson.loads, batch.values)))
                break
            except KeyError:  # an event without the id (or a column): the next getter, if any
                continue
            except (orjson.JSONDecodeError, TypeError, IndexError):
                return None
        if values is None:
            return None
        if not values:
            return _Rows([], [], {name: [] for name in names})
        *inputs, given = map(list, zip(*values, strict=True))
        ids: list[Any] = given
        if set(map(type, ids)) != {str}:
            ids = [batch.coordinates(i).event_id() if g is None else g if type(g) is str else str(g)
                   for i, g in enumerate(given)]
        rows = _Rows(list(range(len(values))), ids, dict(zip(names, inputs, strict=True)))
        return self._checked(batch, rows, checks, outcome, meta)

    def _one_at_a_time(
        self, batch: Batch, names: list[str], checks: tuple[_Check, ...], outcome: BatchOutcome,
        meta: dict[str, str],
    ) -> _Rows:
        """Each event parsed alone: the ones that are not JSON objects are dead letters, the
        others checked against the schema."""
        loads, where, objects, ids = orjson.loads, [], [], []
        for i, value in enumerate(batch.values):
            problem = batch.problems.get(i)
            if problem is not None:
                reason = "no_data_field" if problem.startswith("the entry has no field") else "poison"
                _dead(outcome, batch, i, reason, problem, None, meta)
                continue
            try:
                row = loads(value)
            except orjson.JSONDecodeError as exc:
                _dead(outcome, batch, i, "malformed_json", f"not JSON: {exc}", None, meta)
                continue
            if type(row) is not dict:
                _dead(outcome, batch, i, "not_an_object", f"a JSON {type(row).__name__}, not an object", None, meta)
                continue
            given = row.get(self.event_id_field)
            where.append(i)
            objects.append(row)
            ids.append(batch.coordinates(i).event_id() if given is None else str(given))
        columns = {name: [row.get(name) for row in objects] for name in names}
        suspects = {i for i, row in enumerate(objects) if _schema_problem(row, checks) is not None}
        rows = _Rows(where, ids, columns)
        return self._checked(batch, rows, checks, outcome, meta, suspects, objects)

    def _checked(
        self, batch: Batch, rows: _Rows, checks: tuple[_Check, ...], outcome: BatchOutcome, meta: dict[str, str],
        suspects: set[int] | None = None, objects: list[dict[str, Any]] | None = None,
    ) -> _Rows:
        """The events whose columns the model can take, checked column by column (a column
        holding a value of an unexpected type: its events get the check that names the problem)."""
        suspects = set() if suspects is None else suspects
        for check in checks:
            allowed = _NUMBER if check.numeric else _TEXT if check.text else None
            column = rows.columns.get(check.name)
            if allowed is None or column is None or set(map(type, column)) <= allowed:
                continue
            suspects.update(i for i, value in enumerate(column) if type(value) not in allowed)
        if not suspects:
            return rows
        kept = []
        for i in range(len(rows.ids)):
            if i in suspects:
                row = objects[i] if objects is not None else orjson.loads(batch.values[rows.where[i]])
                problem = _schema_problem(row, checks)
                if problem is not None:
                    _dead(outcome, batch, rows.where[i], "schema", problem, rows.ids[i], meta)
                    continue
            kept.append(i)
        return rows.keep(kept)

    # -- scoring ----------------------------------------------------------------------------

    def _predict(
        self, batch: Batch, rows: _Rows, scorer: Scorer, outcome: BatchOutcome, meta: dict[str, str],
    ) -> _Predicted | None:
        """The model's output for the rows it scores (indexes of ``rows``); the rows it
        refuses or fails on alone are dead letters."""
        count = len(rows.ids)
        if not count:
            return None
        try:
            prediction = scorer.predict(rows.columns)
        except RefusedRows as refused:
            by_row = {r.row: r.line().split(", ", 1)[-1] for r in refused.refusals}
            kept = [i for i in range(count) if i not in by_row]
            for i, what in by_row.items():
                if 0 <= i < count:
                    _dead(outcome, batch, rows.where[i], "refused", f"the model refuses {what}", rows.ids[i], meta)
            if len(kept) < count:
                rest = self._predict(batch, rows.keep(kept), scorer, outcome, meta)
                return None if rest is None else rest._replace(kept=[kept[i] for i in rest.kept])
            if count == 1:  # refused, though not by its position: still this event
                _dead(outcome, batch, rows.where[0], "refused", refused.message, rows.ids[0], meta)
                return None
            return self._one_by_one(batch, rows, scorer, outcome, meta)
        except Exception as exc:  # noqa: BLE001 - one bad row must not stop the batch: score alone
            if count == 1:
                _dead(outcome, batch, rows.where[0], "unscorable", f"{type(exc).__name__}: {exc}"[:500],
                      rows.ids[0], meta)
                return None
            return self._one_by_one(batch, rows, scorer, outcome, meta)
        proba, classes = prediction.proba, prediction.classes
        if proba is None or classes is None:
            return _Predicted(list(range(count)), np.asarray(prediction.labels), None, None, None)
        return _Predicted(list(range(count)), np.asarray(prediction.labels), np.asarray(proba),
                          np.asarray(classes), prediction.scores)

    def _one_by_one(
        self, batch: Batch, rows: _Rows, scorer: Scorer, outcome: BatchOutcome, meta: dict[str, str],
    ) -> _Predicted | None:
        """A batch the model failed on as a whole, scored event by event: only the events
        that fail alone become dead letters."""
        parts = [(i, p) for i in range(len(rows.ids))
                 if (p := self._predict(batch, rows.keep([i]), scorer, outcome, meta)) is not None]
        if not parts:
            return None

        def stacked(arrays: list[np.ndarray | None]) -> np.ndarray | None:
            present = [a for a in arrays if a is not None]
            return np.concatenate(present) if len(present) == len(arrays) else None

        labels = np.concatenate([p.labels for _, p in parts])
        return _Predicted([i for i, _ in parts], labels, stacked([p.proba for _, p in parts]), parts[0][1].classes,
                          stacked([p.scores for _, p in parts]))


def _take(columns: dict[str, list[Any]], kept: Sequence[int]) -> dict[str, list[Any]]:
    return {name: [column[i] for i in kept] for name, column in columns.items()}


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
    outcome: BatchOutcome, batch: Batch, i: int, reason: str, detail: str, event_id: str | None,
    meta: dict[str, str],
) -> None:
    body = {
        "reason": reason,
        "detail": detail,
        "event_id": event_id,
        **meta,
        "source": batch.coordinates(i).to_dict(),
        "payload": batch.values[i].decode(errors="replace"),
    }
    outcome.dead_letters.append(Record(orjson.dumps(body), None if batch.keys is None else batch.keys[i]))
    outcome.reasons.append(reason)


__all__ = ["BatchOutcome", "BatchScorer", "ScoredRows"]
