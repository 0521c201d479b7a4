"""The broker contract every stream transport implements (Kafka, Redis Streams, files).

A broker is one member of a consumer group: it reads events, writes scored events and dead
letters, and commits an input only once every output it gave is acknowledged by the broker::

    read(max_events, max_wait_s) -> [Event]     at most max_events, waiting at most max_wait_s
    deliver(Delivery)                           outputs + dead letters out; the inputs committed
                                                once all of them are acknowledged (maybe later)
    drain(timeout_s) -> bool                    everything delivered is acknowledged and committed
    lag() -> {partition or stream: events}      events not yet consumed by the group
    close()

``tests/streaming/test_contract.py`` runs every implementation through the same checks.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field

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


@dataclass
class Delivery:
    """One micro-batch's outcome: its inputs are committed once every record is acknowledged."""

    events: list[Event]
    outputs: list[Record] = field(default_factory=list)
    dead_letters: list[Record] = field(default_factory=list)

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
    def read(self, max_events: int, max_wait_s: float) -> list[Event]:
        """The next events, at most ``max_events``, waiting at most ``max_wait_s`` for the first."""

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
