"""Every broker keeps the contract of streaming/brokers.py: what is delivered is committed
(a new member of the group does not read it again); what was read and never delivered is
read again."""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from conveyor.streaming import (
    Broker,
    BrokerSettings,
    Delivery,
    Event,
    Record,
    open_broker,
    parse_location,
)
from tests.streaming.conftest import event, produce, xadd_all


@pytest.fixture(params=["file", "redis", "kafka"])
def make_broker(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[[], Broker]]:
    """Opens a member of one group on a source holding events e0 … e19."""
    kind = request.param
    values = [event(i) for i in range(20)]
    if kind == "file":
        (tmp_path / "in.jsonl").write_bytes(b"\n".join(values) + b"\n")
        source = parse_location(f"file://{tmp_path / 'in.jsonl'}")
        sink, dead = parse_location(f"file://{tmp_path / 'out.jsonl'}"), parse_location(f"file://{tmp_path / 'd.jsonl'}")
    elif kind == "redis":
        prefix = request.getfixturevalue("redis_prefix")
        xadd_all(f"{prefix}-in", values)
        source = parse_location(f"redis://127.0.0.1:6379/{prefix}-in")
        sink, dead = source.sibling(f"{prefix}-out"), source.sibling(f"{prefix}-dead")
    else:
        kafka, topics = request.getfixturevalue("kafka"), request.getfixturevalue("topics")
        topic = topics("in")
        produce(kafka, topic, values)
        source = parse_location(f"kafka://{kafka}/{topic}")
        sink, dead = source.sibling(topics("out")), source.sibling(topics("dead"))
    group = f"contract-{uuid.uuid4().hex[:6]}"
    opened: list[Broker] = []

    def make() -> Broker:
        broker = open_broker(BrokerSettings(source, sink, dead, group=group, member="member",
                                            session_timeout_ms=3000))
        opened.append(broker)
        return broker

    yield make
    for broker in opened:
        with contextlib.suppress(Exception):  # closed by the test already
            broker.close()


def _read(broker: Broker, count: int, timeout: float = 60.0) -> list[Event]:
    events: list[Event] = []
    deadline = time.monotonic() + timeout
    while len(events) < count and time.monotonic() < deadline and not broker.exhausted:
        events += broker.read(count - len(events), 0.2)
    return events


def _ids(events: list[Event]) -> list[str]:
    import orjson

    return [orjson.loads(e.value)["event_id"] for e in events]


def test_delivered_events_are_committed_and_the_rest_read_again(make_broker: Callable[[], Any]) -> None:
    first = make_broker()
    taken = _read(first, 10)
    assert sorted(_ids(taken)) == sorted(f"e{i}" for i in range(10))
    first.deliver(Delivery(taken, outputs=[Record(b"{}", e.key) for e in taken]))
    assert first.drain(30)
    first.close()
    second = make_broker()
    rest = _read(second, 10)
    assert sorted(_ids(rest)) == sorted(f"e{i}" for i in range(10, 20))
    second.close()  # read, never delivered
    third = make_broker()
    again = _read(third, 10)
    assert sorted(_ids(again)) == sorted(f"e{i}" for i in range(10, 20))
