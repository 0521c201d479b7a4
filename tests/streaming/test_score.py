"""One micro-batch: parsing, the schema check, refused rows, the output and dead-letter shapes."""

from __future__ import annotations

import time

import numpy as np
import orjson
import pandas as pd
import pytest
from sklearn.linear_model import LinearRegression, LogisticRegression

from conveyor.scoring import InputField, InputSchema, RegisteredVersion, from_estimator
from conveyor.streaming import BatchScorer, Coordinates, Event

SCHEMA = InputSchema((InputField("x", "double"), InputField("y", "double")))
SOURCE = RegisteredVersion("m", "7")


@pytest.fixture(scope="module")
def classifier():
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(200, 2)), columns=["x", "y"])
    return from_estimator(LogisticRegression().fit(X, (X["x"] > 0).astype(int)), SCHEMA, SOURCE)


def _events(*values: bytes) -> list[Event]:
    return [Event(v, Coordinates("topic", 0, str(i)), key=f"k{i}".encode()) for i, v in enumerate(values)]


def test_outputs_carry_key_id_version_prediction_and_probabilities(classifier) -> None:
    events = _events(b'{"x": 2.0, "y": 0.0, "event_id": "a"}', b'{"x": -2.0, "y": 1}')
    outcome = BatchScorer().score(events, classifier, time.perf_counter())
    first, second = (orjson.loads(r.value) for r in outcome.outputs)
    assert (first["event_id"], first["key"], first["model"], first["version"]) == ("a", "k0", "m", "7")
    assert first["prediction"] == 1 and second["prediction"] == 0
    assert first["score"] == first["probabilities"]["1"] > 0.5
    assert second["event_id"] == "topic:0:1"  # derived from the coordinates
    assert second["source"] == {"source": "topic", "partition": 0, "offset": "1"}
    assert outcome.outputs[0].key == b"k0"


def test_regression_outputs_have_no_probabilities() -> None:
    X = pd.DataFrame({"x": [0.0, 1.0], "y": [0.0, 1.0]})
    model = from_estimator(LinearRegression().fit(X, [0.0, 2.0]), SCHEMA, SOURCE)
    (out,) = BatchScorer().score(_events(b'{"x": 1, "y": 1}'), model, time.perf_counter()).outputs
    body = orjson.loads(out.value)
    assert body["prediction"] == pytest.approx(2.0) and "probabilities" not in body and "score" not in body


@pytest.mark.parametrize(("value", "reason", "detail"), [
    (b"{oops", "malformed_json", "not JSON"),
    (b'"text"', "not_an_object", "a JSON str, not an object"),
    (b'{"x": 1}', "schema", "missing column 'y'"),
    (b'{"x": true, "y": 1}', "schema", "column 'x' must be a number (double), got bool"),
    (b'{"x": "1", "y": 1}', "schema", "column 'x' must be a number (double), got str"),
])
def test_bad_events_become_dead_letters_and_the_rest_is_scored(classifier, value, reason, detail) -> None:
    events = _events(b'{"x": 1, "y": 1}', value, b'{"x": -1, "y": 1}')
    outcome = BatchScorer().score(events, classifier, time.perf_counter())
    assert len(outcome.outputs) == 2 and outcome.reasons == [reason]
    letter = orjson.loads(outcome.dead_letters[0].value)
    assert letter["reason"] == reason and detail in letter["detail"]
    assert letter["payload"] == value.decode() and letter["source"]["offset"] == "1"
    assert (letter["model"], letter["version"]) == ("m", "7")


def test_rows_the_model_refuses_are_dead_letters(classifier) -> None:
    events = _events(b'{"x": 1, "y": 1}', b'{"x": null, "y": 1}', b'{"x": -1, "y": 1}')
    outcome = BatchScorer().score(events, classifier, time.perf_counter())
    assert [orjson.loads(o.value)["source"]["offset"] for o in outcome.outputs] == ["0", "2"]
    (letter,) = (orjson.loads(d.value) for d in outcome.dead_letters)
    assert letter["reason"] == "refused" and "the model refuses x:" in letter["detail"]


def test_a_poison_event_is_not_scored(classifier) -> None:
    event = Event(b'{"x": 1, "y": 1}', Coordinates("s", None, "1-0"), deliveries=9, problem="poison: delivered 9 times")
    outcome = BatchScorer().score([event], classifier, time.perf_counter())
    assert outcome.outputs == [] and outcome.reasons == ["poison"]


@pytest.mark.parametrize(("value", "reason"), [
    (b'{"x": true, "y": 1, "event_id": "b"}', "schema"),
    (b'{"x": "1", "y": 1, "event_id": "b"}', "schema"),
    (b'{"x": null, "y": 1, "event_id": "b"}', "refused"),
    (b'{"y": 1, "event_id": "b"}', "schema"),
    (b'["x", "y", "event_id"]', "not_an_object"),
])
def test_a_bad_event_among_events_with_ids_and_every_column(classifier, value, reason) -> None:
    events = _events(b'{"x": 1, "y": 1, "event_id": "a"}', value, b'{"x": -1, "y": 1, "event_id": 7}')
    outcome = BatchScorer().score(events, classifier, time.perf_counter())
    assert [orjson.loads(o.value)["event_id"] for o in outcome.outputs] == ["a", "7"]
    assert outcome.reasons == [reason]
    assert outcome.scored is not None and outcome.scored.event_ids == ["a", "7"]
    assert outcome.scored.columns == {"x": [1, -1], "y": [1, 1]}


def test_events_with_ids_and_every_column_score_as_one_at_a_time(classifier) -> None:
    values = [orjson.dumps({"x": float(i % 7) - 3, "y": i / 10, "event_id": f"e{i}"}) for i in range(300)]
    together = BatchScorer().score(_events(*values), classifier, time.perf_counter())
    alone = [BatchScorer().score(_events(v), classifier, time.perf_counter()).outputs[0] for v in values]

    def body(value: bytes) -> tuple[dict, list[float]]:
        out = orjson.loads(value)
        del out["latency_ms"], out["source"], out["key"]
        return out, [out.pop("score"), *out.pop("probabilities").values()]

    # The numbers to the last few bits: a matrix product over 300 rows may sum in another
    # order than over one row (BLAS kernels block by size), as the estimator's own does.
    batched, single = zip(*map(body, (r.value for r in together.outputs)), strict=True), \
        zip(*map(body, (r.value for r in alone)), strict=True)
    (fields, numbers), (fields_alone, numbers_alone) = batched, single
    assert fields == fields_alone
    assert np.allclose(numbers, numbers_alone, rtol=1e-12, atol=0)


def test_events_without_ids_take_the_column_path_with_ids_from_where_they_were_read(classifier, monkeypatch) -> None:
    values = [orjson.dumps({"x": float(i % 7) - 3, "y": i / 10}) for i in range(50)]
    values[7] = orjson.dumps({"x": 1.0, "y": 0.5, "event_id": "given"})
    alone = [BatchScorer().score(_events(v), classifier, time.perf_counter()).outputs[0] for v in values]

    def one_at_a_time(*args: object, **kwargs: object) -> None:
        raise AssertionError("every event is a JSON object with every column: no event is looked at alone")

    monkeypatch.setattr(BatchScorer, "_one_at_a_time", one_at_a_time)
    outcome = BatchScorer().score(_events(*values), classifier, time.perf_counter())
    ids = [orjson.loads(o.value)["event_id"] for o in outcome.outputs]
    assert ids == [Coordinates("topic", 0, str(i)).event_id() if i != 7 else "given" for i in range(50)]
    assert outcome.scored is not None and outcome.scored.event_ids == ids
    assert [orjson.loads(o.value)["prediction"] for o in outcome.outputs] == [
        orjson.loads(o.value)["prediction"] for o in alone]
