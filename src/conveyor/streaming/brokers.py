"""The broker contract every stream transport implements (Kafka, Redis Streams, files).

A broker is one member of a consumer group: it reads events, writes scored events and dead
letters, and commits an input only once every output it gave is acknowledged by the broker::

    read_batch(max_events, max_wait_s) -> Batch at most max_events, waiting at most max_wait_s
    read(max_events, max_wait_s) -> [Event]     the same, one object per event
    deliver(Delivery)                           outputs + dead letters out; the inputs committed
                                                once all of them are acknowledged (maybe later)
    drain(timeout_s) -> bool                    everything delivered is acknowledged and committed
    lag() -> {partition or stream: events}      events not yet consumed by the group
    close()

A :class:`Batch` holds one read column by column (values, keys, offsets, ...) and a
:class:`Records` the outgoing messages the same way: the scoring path makes no Python object
per event (at a few hundred thousand events a second, one costs as much as the broker's own
work). Both are also sequences of :class:`Event` / :class:`Record`, made when asked for, so
code that handles events one by one (and a ``Delivery`` built from a list of them) works alike.

``tests/streaming/test_contract.py`` runs every implementation through the same checks.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, overload

from conveyor.streaming.locations import StreamLocation


@dataclass(frozen=True, slots=True)
class Coordinates:
    """Where an event lies in its source: topic/stream/file, partition (Kafka), offset (a
    Kafka offset, a Redis entry id, a file's line number)."""

    source: str
    partition: int | None
    offset: str

    def event_id(self) -> str:
        """The id of an event that carries none: stable across replays."""
        if self.partition is None:
            return f"{self.source}:{self.offset}"
        return f"{self.source}:{self.partition}:{self.offset}"

    def to_dict(self) -> dict[str, str | int | None]:
        return {"source": self.source, "partition": self.partition, "offset": self.offset}


@dataclass(slots=True)
class Event:
    """One input event as the broker gave it."""

    value: bytes
    coordinates: Coordinates
    key: bytes | None = None
    produced_ms: float | None = None  # when the broker received it (epoch ms), if it says
    deliveries: int = 1  # how many times the group has been given it (Redis counts them)
    problem: str | None = None  # the broker's reason it cannot be scored (no data field, poison)


@dataclass(slots=True)
class Record:
    """One outgoing message: a scored event or a dead letter."""

    value: bytes
    key: bytes | None = None


class Batch(Sequence[Event]):
    """One read from one source, column by column; ``batch[i]`` is the :class:`Event`."""

    __slots__ = ("deliveries", "keys", "offsets", "partitions", "position", "problems", "produced_ms",
                 "source", "values")

    def __init__(
        self, source: str, values: list[bytes], offsets: list[str] | list[int], *,
        partitions: list[int] | None = None,
        keys: list[bytes | None] | None = None,
        produced_ms: list[float | None] | None = None,
        deliveries: list[int] | None = None,
        problems: dict[int, str] | None = None,
        position: Any = None,
    ) -> None:
        self.source = source
        self.values = values
        self.offsets = offsets  # a Kafka offset (int), a Redis entry id, a file's line number
        self.partitions = partitions  # Kafka; None: the source has none
        self.keys = keys  # None: no event has a key
        self.produced_ms = produced_ms  # when the broker received each (epoch ms), where it says
        self.deliveries = deliveries  # None: each given once
        self.problems = problems or {}  # position in the batch -> the broker's reason it cannot be scored
        self.position = position  # what the broker needs to commit the batch, in its own form

    @classmethod
    def of(cls, events: Sequence[Event]) -> Batch:
        """The events (of one source) as a batch."""
        if isinstance(events, Batch):
            return events
        if not events:
            return cls("", [], [])
        first = events[0].coordinates
        return cls(
            first.source, [e.value for e in events], [e.coordinates.offset for e in events],
            partitions=None if first.partition is None else [e.coordinates.partition or 0 for e in events],
            keys=[e.key for e in events] if any(e.key is not None for e in events) else None,
            produced_ms=[e.produced_ms for e in events],
            deliveries=[e.deliveries for e in events],
            problems={i: e.problem for i, e in enumerate(events) if e.problem is not None},
        )

    def __len__(self) -> int:
        return len(self.values)

    @overload
    def __getitem__(self, index: int) -> Event: ...
    @overload
    def __getitem__(self, index: slice) -> list[Event]: ...
    def __getitem__(self, index: int | slice) -> Event | list[Event]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        i = range(len(self))[index]
        return Event(
            self.values[i], self.coordinates(i), None if self.keys is None else self.keys[i],
            None if self.produced_ms is None else self.produced_ms[i],
            1 if self.deliveries is None else self.deliveries[i], self.problems.get(i),
        )

    def __iter__(self) -> Iterator[Event]:
        return (self[i] for i in range(len(self)))

    def coordinates(self, i: int) -> Coordinates:
        return Coordinates(self.source, None if self.partitions is None else self.partitions[i], str(self.offsets[i]))

    def events(self) -> list[Event]:
        return list(self)


class Records(Sequence[Record]):
    """Outgoing messages column by column; ``records[i]`` is the :class:`Record`."""

    __slots__ = ("keys", "values")

    def __init__(self, values: list[bytes] | None = None, keys: list[bytes | None] | None = None) -> None:
        self.values = [] if values is None else values
        self.keys = keys  # None: no record has a key

    @classmethod
    def of(cls, records: Sequence[Record]) -> Records:
        if isinstance(records, Records):
            return records
        keys = [r.key for r in records]
        return cls([r.value for r in records], keys if any(k is not None for k in keys) else None)

    def append(self, record: Record) -> None:
        if record.key is not None and self.keys is None:
            self.keys = [None] * len(self.values)
        self.values.append(record.value)
        if self.keys is not None:
            self.keys.append(record.key)

    def __len__(self) -> int:
        return len(self.values)

    @overload
    def __getitem__(self, index: int) -> Record: ...
    @overload
    def __getitem__(self, index: slice) -> list[Record]: ...
    def __getitem__(self, index: int | slice) -> Record | list[Record]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        return Record(self.values[index], None if self.keys is None else self.keys[index])

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Sequence):
            return list(self) == list(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]


@dataclass
class Delivery:
    """One micro-batch's outcome: its inputs are committed once every record is acknowledged.
    Lists of events and records work as well as a :class:`Batch` and :class:`Records`."""

    events: Sequence[Event]
    outputs: Sequence[Record] = field(default_factory=list)
    dead_letters: Sequence[Record] = field(default_factory=list)

    @property
    def records(self) -> int:
        return len(self.outputs) + len(self.dead_letters)


class Broker(ABC):
    """One consumer-group member on one source, with its sink and dead-letter destination."""

    #: a finite source (a file) has ended: nothing more will be read
    exhausted: bool = False

    @property
    def ready(self) -> bool:
        """Whether the group has given this member something to read (Kafka: partitions
        assigned); until then an idle exit does not count the wait."""
        return True

    @abstractmethod
    def read_batch(self, max_events: int, max_wait_s: float) -> Batch:
        """The next events, at most ``max_events``, waiting at most ``max_wait_s`` for the first."""

    def read(self, max_events: int, max_wait_s: float) -> list[Event]:
        """:meth:`read_batch`, one :class:`Event` per event."""
        return self.read_batch(max_events, max_wait_s).events()

    @abstractmethod
    def deliver(self, delivery: Delivery) -> None:
        """Send the delivery's records; commit its events once the broker acknowledged all of
        them (in the order deliveries were made). Never commits an event whose output is lost."""

    @abstractmethod
    def drain(self, timeout_s: float) -> bool:
        """Wait until everything delivered is acknowledged and committed; False on timeout."""

    def lag(self) -> dict[str, int]:
        """Events of the source the group has not consumed yet, per partition or stream (only
        what the broker reports reliably; empty when it cannot say)."""
        return {}

    @abstractmethod
    def close(self) -> None:
        """Leave the group and release the connections (after :meth:`drain`)."""


@dataclass(frozen=True)
class BrokerSettings:
    """What opening a broker needs: where to read and write, as which group member."""

    source: StreamLocation
    sink: StreamLocation
    dead_letters: StreamLocation
    group: str
    member: str  # this process's name in the group (Kafka client.id, Redis consumer)
    field: str = "data"  # Redis: the entry field holding the JSON
    max_deliveries: int = 5  # Redis: past this many deliveries an entry is a dead letter
    claim_idle_ms: int = 30_000  # Redis: pending this long with another consumer: claimed
    session_timeout_ms: int = 10_000  # Kafka: the group's session timeout
    exactly_once: bool = False  # Kafka: transactions
    follow: bool = False  # file: wait for more lines at the end instead of ending
