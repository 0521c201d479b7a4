"""The output record of a scored event (the schema in :mod:`conveyor.streaming.score`),
written for a whole micro-batch from one template.

What is the same for every event of a batch (model, version, class names, latency, source)
is encoded once, into the template; what differs is encoded column by column (orjson over a
whole numpy column, then split at the commas a JSON number never holds) and put in with one
``%`` per event. The bytes are those ``orjson.dumps`` gives for the output object.
"""

from __future__ import annotations

from itertools import repeat
from typing import TYPE_CHECKING, Any

import numpy as np
import orjson

from conveyor.streaming.brokers import Batch, Records

if TYPE_CHECKING:
    from collections.abc import Iterable

_NUMPY = orjson.OPT_SERIALIZE_NUMPY
_NULL = b"null"


class OutputTemplate:
    """The outputs of one model version for events of one source."""

    def __init__(
        self, model: str, version: str, classes: tuple[str, ...] | None, source: str, partitioned: bool
    ) -> None:
        self.classes = classes
        self.partitioned = partitioned
        head = b'{"event_id":%b,"key":%b,"model":' + _constant(model) + b',"version":' + _constant(version)
        head += b',"prediction":%b'
        if classes is not None:
            head += b',"score":%b,"probabilities":{' + b",".join(_constant(c) + b":%b" for c in classes) + b"}"
        self.head = head + b',"latency_ms":'
        self.source = b',"source":{"source":' + _constant(source) + b',"partition":'
        self._forms: dict[tuple[bytes, bool], bytes] = {}

    def _form(self, latency_ms: float, partition: bytes, numbered: bool) -> bytes:
        """The template of a batch: its latency and (one partition for all) its partition put in."""
        tail = self._forms.get((partition, numbered))
        if tail is None:
            offset = b',"offset":"%d"}}' if numbered else b',"offset":%b}}'  # a Kafka offset is a number
            tail = self._forms[(partition, numbered)] = self.source + partition + offset
        return self.head + orjson.dumps(latency_ms) + tail

    def render(
        self, batch: Batch, where: list[int], event_ids: list[str], labels: np.ndarray,
        scores: np.ndarray | None, proba: np.ndarray | None, latency_ms: float,
    ) -> Records:
        """The outputs of the events at ``where`` (positions in ``batch``), in that order."""
        whole = len(where) == len(batch)  # where is then 0 … n-1: the batch's own columns serve
        keys = batch.keys if batch.keys is None or whole else [batch.keys[i] for i in where]
        offsets = batch.offsets if whole else [batch.offsets[i] for i in where]
        columns: list[Iterable[Any]] = [
            map(orjson.dumps, event_ids),
            repeat(_NULL) if keys is None else map(orjson.dumps, [None if k is None else k.decode(errors="replace")
                                                                  for k in keys]),
            json_values(labels),
        ]
        if self.classes is not None:
            assert proba is not None and scores is not None
            width = len(self.classes)
            flat = json_values(np.ascontiguousarray(proba).reshape(-1))
            columns.append(json_values(scores))
            columns.extend(flat[j::width] for j in range(width))
        partition = _NULL
        if self.partitioned:
            assert batch.partitions is not None
            partitions = batch.partitions if whole else [batch.partitions[i] for i in where]
            if partitions and partitions.count(partitions[0]) == len(partitions):
                partition = b"%d" % partitions[0]  # one partition for the whole batch: in the template
            else:
                partition = b"%d"
                columns.append(partitions)
        numbered = bool(offsets) and type(offsets[0]) is int
        columns.append(offsets if numbered else map(orjson.dumps, offsets))
        form = self._form(latency_ms, partition, numbered)
        return Records(list(map(form.__mod__, zip(*columns))), keys)


def json_values(values: np.ndarray) -> list[bytes]:
    """Each value of a 1-d array as JSON (what ``orjson.dumps(value)`` gives for its Python
    value): numbers and booleans encoded in one call, anything else one by one."""
    kind = values.dtype.kind
    if kind in "iub" or (kind == "f" and len(values)):
        if kind == "f" and values.dtype != np.float64:
            values = values.astype(np.float64)  # what .tolist() gives: float32 values as Python floats
        text = orjson.dumps(np.ascontiguousarray(values), option=_NUMPY)
        return text[1:-1].split(b",") if len(values) else []
    return list(map(orjson.dumps, values.tolist(), repeat(None), repeat(_NUMPY)))


def _constant(value: str) -> bytes:
    """A string as JSON, safe inside a ``%`` template."""
    return orjson.dumps(value).replace(b"%", b"%%")
