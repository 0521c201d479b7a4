"""Kafka with confluent-kafka: one member of a consumer group, manual offset commits, an
idempotent producer.

At-least-once (the default) is pipelined: a batch's records are produced with delivery
callbacks and the loop goes on reading; the longest prefix of batches whose records are all
acknowledged has its offsets committed asynchronously. A record the broker failed to take
(after librdkafka's own retries) is produced again before its batch's offsets can be
committed. Exactly-once (``stream.exactly_once``): each batch is one transaction holding its
records and its input offsets (``send_offsets_to_transaction``); readers of the output use
``isolation.level=read_committed``.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from operator import methodcaller
from typing import TYPE_CHECKING, Any

from conveyor.core.errors import BrokerUnreachableError, UnknownStreamError
from conveyor.streaming.brokers import Batch, Broker, BrokerSettings, Delivery, Record, Records

if TYPE_CHECKING:
    from confluent_kafka import Consumer, KafkaError, Message, Producer, TopicPartition

log = logging.getLogger("conveyor.streaming")
# librdkafka's own log lines (a connection refused while it reconnects, ...) go here, not to
# stderr: the scorer reports what matters itself; configure this logger to see them
librdkafka_log = logging.getLogger("conveyor.streaming.librdkafka")
librdkafka_log.setLevel(logging.CRITICAL)
librdkafka_log.propagate = False

# records produced and not yet acknowledged before reading waits: librdkafka's own queue
# (queue.buffering.max.messages) holds as many; a lower bound stalls the loop on the
# acknowledgements' round trip while the broker could take more
MAX_IN_FLIGHT = 90_000  # (of its 100,000: a batch always finds room)
_BACKOFF_S = (0.1, 0.2, 0.5, 1.0, 2.0, 5.0)


@dataclass
class _InFlight:
    """One delivered batch: its offsets (next to read, per partition) and what is unacknowledged."""

    offsets: dict[tuple[str, int], int]
    remaining: int
    retry: list[tuple[str, Record]] = field(default_factory=list)

    def acked(self, error: KafkaError | None, message: Message) -> None:
        self.remaining -= 1
        if error is not None:
            log.warning("Kafka did not take a record for %s: %s; producing it again", message.topic(), error)
            self.retry.append((str(message.topic()), Record(message.value() or b"", message.key())))


class KafkaBroker(Broker):
    def __init__(self, settings: BrokerSettings) -> None:
        from confluent_kafka import Consumer, Producer

        self.settings = settings
        self.topic = settings.source.name
        common: dict[str, Any] = {"bootstrap.servers": settings.source.address, "client.id": settings.member,
                  "logger": librdkafka_log}
        producer: dict[str, Any] = {**common, "enable.idempotence": True, "acks": "all", "linger.ms": 2}
        if settings.exactly_once:
            producer["transactional.id"] = f"{settings.group}-{settings.member}"
        self.producer: Producer = Producer(producer)
        self.consumer: Consumer = Consumer({
            **common,
            "group.id": settings.group,
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
            "session.timeout.ms": settings.session_timeout_ms,
            "heartbeat.interval.ms": max(100, settings.session_timeout_ms // 5),
            "isolation.level": "read_committed" if settings.exactly_once else "read_uncommitted",
            # a fetch the broker holds open while the partition is empty answers within 10 ms
            # (the default 500 ms would be the event latency of a quiet topic)
            "fetch.wait.max.ms": 10,
        })
        self._in_flight: deque[_InFlight] = deque()
        self._assigned: set[tuple[str, int]] = set()
        self._check_topic()
        self.consumer.subscribe([self.topic], on_assign=self._on_assign, on_revoke=self._on_revoke)
        if settings.exactly_once:
            self.producer.init_transactions(30)

    def _check_topic(self) -> None:
        from confluent_kafka import KafkaException

        address = self.settings.source.address
        try:
            metadata = self.consumer.list_topics(timeout=10)
        except KafkaException as exc:
            raise BrokerUnreachableError(
                f"Kafka at {address} does not answer: {exc.args[0].str() if exc.args else exc}",
                hint="start the broker, or check the host and port of the stream URL",
            ) from None
        found = metadata.topics.get(self.topic)
        if found is None or found.error is not None:
            raise UnknownStreamError(
                f"Kafka topic {self.topic!r} does not exist on {address}",
                hint="create it (kafka-topics --create, or the AdminClient), or check the name",
            )

    @property
    def ready(self) -> bool:
        return bool(self._assigned)

    def _on_assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        self._assigned.update((p.topic, p.partition) for p in partitions)

    def _on_revoke(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        """Before partitions move to another member: what was delivered for them is committed."""
        self.producer.flush(30)
        self._settle(synchronous=True)
        self._assigned.difference_update((p.topic, p.partition) for p in partitions)

    # -- reading ----------------------------------------------------------------------------

    def read_batch(self, max_events: int, max_wait_s: float) -> Batch:
        self.producer.poll(0)
        self._settle()
        while len(self.producer) >= MAX_IN_FLIGHT:
            self.producer.poll(0.05)
            self._settle()
        messages = self.consumer.consume(max_events, max_wait_s)
        if any(map(_ERROR, messages)):
            for message in messages:
                error = message.error()
                if error is not None:
                    self._consume_error(error)
            messages = [m for m in messages if m.error() is None]
        partitions: list[int] = list(map(_PARTITION, messages))
        offsets: list[int] = list(map(_OFFSET, messages))
        keys: list[bytes | None] = list(map(_KEY, messages))
        values: list[bytes | None] = list(map(_VALUE, messages))
        if None in values:  # a tombstone: an empty payload (a dead letter: not JSON)
            values = [v or b"" for v in values]
        # the next offset to read per partition (a partition's messages come in order: the last wins)
        last = dict(zip(partitions, offsets, strict=True))
        position = {(self.topic, p): o + 1 for p, o in last.items()}
        return Batch(
            self.topic, values, offsets,  # type: ignore[arg-type]  # no None left in values
            partitions=partitions, keys=None if keys.count(None) == len(keys) else keys, position=position,
        )

    def _consume_error(self, error: KafkaError) -> None:
        from confluent_kafka import KafkaError

        if error.code() == KafkaError.UNKNOWN_TOPIC_OR_PART:
            raise UnknownStreamError(f"Kafka topic {self.topic!r} is gone from {self.settings.source.address}")
        if error.code() != KafkaError._PARTITION_EOF:
            log.warning("Kafka consumer: %s", error.str())

    # -- writing ----------------------------------------------------------------------------

    def deliver(self, delivery: Delivery) -> None:
        offsets = _next_offsets(delivery.events)
        if self.settings.exactly_once:
            self._transaction(delivery, offsets)
            return
        batch = _InFlight(offsets, delivery.records)
        self._in_flight.append(batch)
        self._produce(batch, self.settings.sink.name, Records.of(delivery.outputs))
        self._produce(batch, self.settings.dead_letters.name, Records.of(delivery.dead_letters))
        self.producer.poll(0)

    def _produce(self, batch: _InFlight, topic: str, records: Records) -> None:
        """The records with the batch's delivery callback, in one ``produce_batch`` call;
        those the local queue had no room for are produced one by one as it drains."""
        if not records.values:
            return
        keys = records.keys
        messages: list[dict[str, Any]] = [{"value": v} for v in records.values] if keys is None else [
            {"value": v} if k is None else {"value": v, "key": k} for v, k in zip(records.values, keys, strict=True)]
        queued = self.producer.produce_batch(topic, messages, on_delivery=batch.acked)
        if queued < len(messages):
            for message in messages:
                if "_error" in message:
                    self._produce_one(batch, topic, message["value"], message.get("key"))

    def _produce_one(self, batch: _InFlight, topic: str, value: bytes, key: bytes | None) -> None:
        while True:
            try:
                self.producer.produce(topic, value, key, on_delivery=batch.acked)
                return
            except BufferError:  # the local queue is full: serve callbacks, then again
                self.producer.poll(0.05)

    def _settle(self, synchronous: bool = False) -> None:
        """Commit the offsets of the longest prefix of fully acknowledged batches; records the
        broker refused are produced again first."""
        ready: dict[tuple[str, int], int] = {}
        while self._in_flight and self._in_flight[0].remaining == 0:
            head = self._in_flight[0]
            if head.retry:
                retry, head.retry = head.retry, []
                head.remaining += len(retry)
                for topic, record in retry:
                    self._produce_one(head, topic, record.value, record.key)
                break
            ready.update(head.offsets)
            self._in_flight.popleft()
        self._commit(ready, synchronous)

    def _commit(self, offsets: dict[tuple[str, int], int], synchronous: bool) -> None:
        from confluent_kafka import KafkaException, TopicPartition

        owned = [TopicPartition(t, p, o) for (t, p), o in offsets.items() if (t, p) in self._assigned]
        if not owned:
            return
        try:
            if synchronous:
                self.consumer.commit(offsets=owned, asynchronous=False)
            else:
                self.consumer.commit(offsets=owned, asynchronous=True)
        except KafkaException as exc:  # a rebalance took them: the new owner reads them again
            log.warning("Kafka offset commit failed (%s); those events will be read again", exc)

    def _transaction(self, delivery: Delivery, offsets: dict[tuple[str, int], int]) -> None:
        from confluent_kafka import KafkaException, TopicPartition

        attempt = 0
        while True:
            try:
                self.producer.begin_transaction()
                for topic, records in ((self.settings.sink.name, delivery.outputs),
                                       (self.settings.dead_letters.name, delivery.dead_letters)):
                    for record in records:
                        self.producer.produce(topic, record.value, record.key)
                self.producer.send_offsets_to_transaction(
                    [TopicPartition(t, p, o) for (t, p), o in offsets.items()],
                    self.consumer.consumer_group_metadata(), 30,
                )
                self.producer.commit_transaction(30)
                return
            except KafkaException as exc:
                error = exc.args[0]
                if error.fatal() or not (error.retriable() or error.txn_requires_abort()):
                    raise
                log.warning("Kafka transaction failed (%s); aborting and trying again", error.str())
                if error.txn_requires_abort():
                    self.producer.abort_transaction(30)
                time.sleep(_BACKOFF_S[min(attempt, len(_BACKOFF_S) - 1)])
                attempt += 1

    def drain(self, timeout_s: float) -> bool:
        deadline = time.monotonic() + timeout_s
        while self._in_flight and time.monotonic() < deadline:
            self.producer.flush(max(0.0, min(1.0, deadline - time.monotonic())))
            self._settle(synchronous=True)
        return not self._in_flight

    def lag(self) -> dict[str, int]:
        """High watermark minus committed offset per assigned partition; a partition whose
        watermark lies below its committed offset (a broker that reports it wrongly) is left
        out rather than reported wrong."""
        from confluent_kafka import TopicPartition

        partitions = [TopicPartition(t, p) for t, p in sorted(self._assigned)]
        if not partitions:
            return {}
        lags: dict[str, int] = {}
        for committed in self.consumer.committed(partitions, timeout=5):
            _, high = self.consumer.get_watermark_offsets(committed, timeout=5, cached=False)
            position = max(committed.offset, 0)
            if high >= position:
                lags[f"{committed.topic}[{committed.partition}]"] = int(high - position)
        return lags

    def close(self) -> None:
        self.producer.flush(10)
        self.consumer.close()


_ERROR, _VALUE, _KEY = methodcaller("error"), methodcaller("value"), methodcaller("key")
_PARTITION, _OFFSET = methodcaller("partition"), methodcaller("offset")


def _next_offsets(events: Sequence[Any]) -> dict[tuple[str, int], int]:
    """The offsets to commit once the events' outputs are acknowledged: per partition, the one
    after the last event (the position of a batch this broker read, else from the events)."""
    if isinstance(events, Batch) and events.position is not None:
        return dict(events.position)
    offsets: dict[tuple[str, int], int] = {}
    for event in events:
        c = event.coordinates
        offsets[(c.source, c.partition or 0)] = int(c.offset) + 1
    return offsets
