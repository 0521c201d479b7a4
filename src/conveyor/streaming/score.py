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
from itertools import repeat
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
    rows: list[dict[str, Any]]
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
    """The batch's events still in the running: their positions in the batch, parsed objects and ids."""

    where: list[int]
    rows: list[dict[str, Any]]
    ids: list[str]

    def keep(self, kept: Sequence[int]) -> _Rows:
        """The rows at these indexes (of this list)."""
        return _Rows([self.where[i] for i in kept], [self.rows[i] for i in kept], [self.ids[i] for i in kept])


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
        self._checks: tuple[InputSchema | None, tuple[_Check, ...]] = (None, ())
        self._template: tuple[tuple[Any, ...], OutputTemplate | None] = ((), None)

    def score(self, events: Batch | Sequence[Event], scorer: Scorer, read_at: float) -> BatchOutcome:
        batch = Batch.of(events)
        outcome = BatchOutcome()
        meta = {"model": scorer.name, "version": scorer.version}
        rows = self._parsed(batch, outcome, meta)
        checks = self._checks_of(scorer.schema)
        rows, columns = self._columns(batch, rows, checks, scorer.schema.names, outcome, meta)
        predicted = self._predict(batch, rows, columns, scorer, outcome, meta)
        outcome.latency_ms = latency = round((time.perf_counter() - read_at) * 1000, 3)
        if predicted is None or not predicted.kept:
            return outcome
        if len(predicted.kept) < len(rows.ids):
            rows = rows.keep(predicted.kept)
        template = self._template_of(scorer, predicted.classes, batch)
        outcome.outputs = template.render(batch, rows.where, rows.ids, predicted.labels, predicted.scores,
                                          predicted.proba, latency)
        labels = predicted.labels.tolist()
        outcome.scored = ScoredRows(rows.ids, rows.rows, labels,
                                    None if predicted.scores is None else predicted.scores.tolist())
        return outcome

    def _checks_of(self, schema: InputSchema) -> tuple[_Check, ...]:
        if self._checks[0] is not schema:
            self._checks = (schema, tuple(_Check(f.name, f.required, f.numeric, f.text, f.type) for f in schema.fields))
        return self._checks[1]

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

    def _parsed(self, batch: Batch, outcome: BatchOutcome, meta: dict[str, str]) -> _Rows:
        """The events that are JSON objects, with their ids; the others are dead letters."""
        values, loads = batch.values, orjson.loads
        where: list[int] = list(range(len(values)))
        if batch.problems:
            for i, problem in sorted(batch.problems.items()):
                reason = "no_data_field" if problem.startswith("the entry has no field") else "poison"
                _dead(outcome, batch, i, reason, problem, None, meta)
            where = [i for i in where if i not in batch.problems]
            values = [values[i] for i in where]
        try:
            rows: list[Any] = list(map(loads, values))
        except orjson.JSONDecodeError:
            rows, kept = [], []
            for i, value in zip(where, values, strict=True):
                try:
                    rows.append(loads(value))
                    kept.append(i)
                except orjson.JSONDecodeError as exc:
                    _dead(outcome, batch, i, "malformed_json", f"not JSON: {exc}", None, meta)
            where = kept
        if rows and set(map(type, rows)) != {dict}:
            objects, kept = [], []
            for i, row in zip(where, rows, strict=True):
                if type(row) is dict:
                    objects.append(row)
                    kept.append(i)
                else:
                    _dead(outcome, batch, i, "not_an_object", f"a JSON {type(row).__name__}, not an object", None, meta)
            rows, where = objects, kept
        given: list[Any] = list(map(dict.get, rows, repeat(self.event_id_field)))
        if given and set(map(type, given)) != {str}:
            given = [batch.coordinates(i).event_id() if g is None else g if type(g) is str else str(g)
                     for i, g in zip(where, given, strict=True)]
        return _Rows(where, rows, given)

    def _columns(
        self, batch: Batch, rows: _Rows, checks: tuple[_Check, ...], names: list[str], outcome: BatchOutcome,
        meta: dict[str, str],
    ) -> tuple[_Rows, dict[str, list[Any]]]:
        """The model's input columns of the events that fit its schema; a column holding a
        value of another type (or missing) sends its events to the check that names the problem."""
        if not rows.rows or not names:
            return rows, {name: [None] * len(rows.rows) for name in names}
        try:
            taken = itemgetter(*names)
            columns = dict(zip(names, map(list, zip(*map(taken, rows.rows), strict=True)), strict=True)) \
                if len(names) > 1 else {names[0]: list(map(taken, rows.rows))}
        except KeyError:  # a column missing somewhere: each event as it is
            columns = {name: list(map(dict.get, rows.rows, repeat(name))) for name in names}
            suspects = {i for i, row in enumerate(rows.rows) if any(name not in row for name in names)}
        else:
            suspects = set()
        for check in checks:
            allowed = _NUMBER if check.numeric else _TEXT if check.text else None
            column = columns.get(check.name)
            if allowed is None or column is None or set(map(type, column)) <= allowed:
                continue
            suspects.update(i for i, value in enumerate(column) if type(value) not in allowed)
        if not suspects:
            return rows, columns
        kept = []
        for i in range(len(rows.rows)):
            problem = _schema_problem(rows.rows[i], checks) if i in suspects else None
            if problem is None:
                kept.append(i)
            else:
                _dead(outcome, batch, rows.where[i], "schema", problem, rows.ids[i], meta)
        return rows.keep(kept), {name: [column[i] for i in kept] for name, column in columns.items()}

    # -- scoring ----------------------------------------------------------------------------

    def _predict(
        self, batch: Batch, rows: _Rows, columns: dict[str, list[Any]], scorer: Scorer, outcome: BatchOutcome,
        meta: dict[str, str],
    ) -> _Predicted | None:
        """The model's output for the rows it scores (indexes of ``rows``); the rows it
        refuses or fails on alone are dead letters."""
        if not rows.rows:
            return None
        try:
            prediction = scorer.predict(columns)
        except RefusedRows as refused:
            by_row = {r.row: r.line().split(", ", 1)[-1] for r in refused.refusals}
            kept = [i for i in range(len(rows.rows)) if i not in by_row]
            for i, what in by_row.items():
                if 0 <= i < len(rows.rows):
                    _dead(outcome, batch, rows.where[i], "refused", f"the model refuses {what}", rows.ids[i], meta)
            if len(kept) < len(rows.rows):
                rest = self._predict(batch, rows.keep(kept), _take(columns, kept), scorer, outcome, meta)
                return None if rest is None else rest._replace(kept=[kept[i] for i in rest.kept])
            if len(rows.rows) == 1:  # refused, though not by its position: still this event
                _dead(outcome, batch, rows.where[0], "refused", refused.message, rows.ids[0], meta)
                return None
            return self._one_by_one(batch, rows, columns, scorer, outcome, meta)
        except Exception as exc:  # noqa: BLE001 - one bad row must not stop the batch: score alone
            if len(rows.rows) == 1:
                _dead(outcome, batch, rows.where[0], "unscorable", f"{type(exc).__name__}: {exc}"[:500],
                      rows.ids[0], meta)
                return None
            return self._one_by_one(batch, rows, columns, scorer, outcome, meta)
        proba, classes = prediction.proba, prediction.classes
        if proba is None or classes is None:
            return _Predicted(list(range(len(rows.rows))), np.asarray(prediction.labels), None, None, None)
        return _Predicted(list(range(len(rows.rows))), np.asarray(prediction.labels), np.asarray(proba),
                          np.asarray(classes), prediction.scores)

    def _one_by_one(
        self, batch: Batch, rows: _Rows, columns: dict[str, list[Any]], scorer: Scorer, outcome: BatchOutcome,
        meta: dict[str, str],
    ) -> _Predicted | None:
        """A batch the model failed on as a whole, scored event by event: only the events
        that fail alone become dead letters."""
        parts = [(i, p) for i in range(len(rows.rows))
                 if (p := self._predict(batch, rows.keep([i]), _take(columns, [i]), scorer, outcome, meta)) is not None]
        if not parts:
            return None
        def stacked(arrays: list[np.ndarray | None]) -> np.ndarray | None:
            present = [a for a in arrays if a is not None]
            return np.concatenate(present) if len(present) == len(arrays) else None

        labels = np.concatenate([p.labels for _, p in parts])
        return _Predicted([i for i, _ in parts], labels, stacked([p.proba for _, p in parts]), parts[0][1].classes,
                          stacked([p.scores for _, p in parts]))


def _take(columns: dict[str, list[Any]], kept: list[int]) -> dict[str, list[Any]]:
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
