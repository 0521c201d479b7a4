"""A Batch and a Records are the sequences of Events and Records they hold, column by column."""

from __future__ import annotations

import pytest

from conveyor.streaming import Batch, Coordinates, Event, Record, Records


def test_a_batch_of_events_gives_the_same_events_back() -> None:
    events = [
        Event(b"a", Coordinates("t", 1, "5"), b"k", 12.0),
        Event(b"b", Coordinates("t", 0, "9"), None, None, deliveries=3, problem="poison: delivered 3 times"),
    ]
    batch = Batch.of(events)
    assert len(batch) == 2 and batch.values == [b"a", b"b"] and batch.partitions == [1, 0]
    assert batch.events() == events and list(batch) == events and batch[-1] == events[1] and batch[0:1] == events[:1]
    assert batch.problems == {1: "poison: delivered 3 times"}
    assert Batch.of(batch) is batch
    with pytest.raises(IndexError):
        batch[2]


def test_a_batch_without_keys_or_partitions() -> None:
    batch = Batch("s", [b"x"], ["1-0"])
    assert batch[0] == Event(b"x", Coordinates("s", None, "1-0"))
    assert batch.coordinates(0).event_id() == "s:1-0"


def test_records_hold_keys_only_where_one_is_given() -> None:
    records = Records([b"a"])
    records.append(Record(b"b"))
    assert records.keys is None
    records.append(Record(b"c", b"k"))
    assert records.keys == [None, None, b"k"]
    assert records == [Record(b"a"), Record(b"b"), Record(b"c", b"k")] and records != [Record(b"a")]
    assert Records.of(list(records)).values == [b"a", b"b", b"c"]
    assert Records.of([Record(b"x")]).keys is None
