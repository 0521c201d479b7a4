"""The batch template writes, byte for byte, what orjson.dumps gives for each output object."""

from __future__ import annotations

from typing import Any

import numpy as np
import orjson
import pytest

from conveyor.streaming.brokers import Batch
from conveyor.streaming.outputs import OutputTemplate, json_values


def _expected(batch: Batch, where: list[int], ids: list[str], model: str, version: str, labels: list[Any],
              proba: list[list[float]] | None, classes: list[str] | None, latency: float) -> list[bytes]:
    out = []
    for n, i in enumerate(where):
        key = None if batch.keys is None else batch.keys[i]
        body: dict[str, Any] = {"event_id": ids[n], "key": None if key is None else key.decode(errors="replace"),
                                "model": model, "version": version, "prediction": labels[n]}
        if proba is not None and classes is not None:
            row = proba[n]
            body["score"] = row[1] if len(row) == 2 else max(row)
            body["probabilities"] = dict(zip(classes, row, strict=True))
        body["latency_ms"] = latency
        c = batch.coordinates(i)
        body["source"] = {"source": c.source, "partition": c.partition, "offset": c.offset}
        out.append(orjson.dumps(body))
    return out


@pytest.mark.parametrize("partitioned", [True, False])
@pytest.mark.parametrize("keyed", [True, False])
@pytest.mark.parametrize("labels", [np.array([1, 0, 1, 1]), np.array(["yes", 'n"o,', "yes", "ü"], dtype=object),
                                    np.array([True, False, True, False])])
def test_classifier_outputs_equal_orjson(partitioned: bool, keyed: bool, labels: np.ndarray) -> None:
    rng = np.random.default_rng(3)
    proba = rng.random((4, 2))
    proba[2] = [1e-300, 1.0]
    proba[3] = [0.1, 0.9]
    proba /= proba.sum(axis=1, keepdims=True)
    batch = Batch('t"o%pic', [b"{}"] * 5, ["10", "11", "12", "13", "14"],
                  partitions=[0, 1, 0, 2, 1] if partitioned else None,
                  keys=[b"k0", None, "ké".encode(), b"\xff", b"k4"] if keyed else None)
    where = [0, 2, 3, 4]
    ids = ["a", 'b"%s\\', "c\n", "d"]
    template = OutputTemplate("m%d", "7", ("0", "1"), batch.source, partitioned)
    scores = proba[:, 1]
    got = template.render(batch, where, ids, labels, scores, proba, 1.25).values
    expected = _expected(batch, where, ids, "m%d", "7", labels.tolist(), proba.tolist(), ["0", "1"], 1.25)
    assert got == expected


def test_float32_probabilities_and_three_classes() -> None:
    proba = np.array([[0.2, 0.3, 0.5], [0.7, 0.2, 0.1]], dtype=np.float32)
    batch = Batch("s", [b"{}", b"{}"], ["1-0", "2-0"])
    template = OutputTemplate("m", "1", ("a", "b", "c"), "s", False)
    got = template.render(batch, [0, 1], ["x", "y"], np.array(["c", "a"]), proba.max(axis=1), proba, 0.5).values
    assert got == _expected(batch, [0, 1], ["x", "y"], "m", "1", ["c", "a"], proba.tolist(), ["a", "b", "c"], 0.5)


def test_regression_outputs_have_no_probabilities() -> None:
    batch = Batch("s", [b"{}"], ["1"])
    values = np.array([2.5e-17])
    got = OutputTemplate("m", "1", None, "s", False).render(batch, [0], ["x"], values, None, None, 0.1).values
    assert got == _expected(batch, [0], ["x"], "m", "1", values.tolist(), None, None, 0.1)


def test_json_values_is_orjson_of_each_value() -> None:
    for values in (np.array([1.5, np.nan, -0.0, 1e300, 5e-324]), np.array([3, -2], dtype=np.int8),
                   np.array([], dtype=np.float64), np.array([], dtype=np.int64), np.array([None, "a"], dtype=object)):
        assert json_values(values) == [orjson.dumps(v) for v in values.tolist()]


@pytest.mark.parametrize("partitions", [[3, 3, 3], [3, 0, 3]])
def test_kafka_offsets_and_one_partition_for_the_batch(partitions: list[int]) -> None:
    batch = Batch("t", [b"{}"] * 3, [7, 8, 9], partitions=partitions)
    proba = np.array([[0.25, 0.75], [0.5, 0.5], [1.0, 0.0]])
    template = OutputTemplate("m", "2", ("0", "1"), "t", True)
    for latency in (0.5, 2.0):  # the template's cache of forms serves the next batch too
        got = template.render(batch, [0, 1, 2], ["a", "b", "c"], np.array([1, 0, 0]), proba[:, 1], proba, latency)
        assert got.values == _expected(batch, [0, 1, 2], ["a", "b", "c"], "m", "2", [1, 0, 0], proba.tolist(),
                                       ["0", "1"], latency)
