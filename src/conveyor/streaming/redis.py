"""Redis Streams: one consumer of a consumer group (XREADGROUP), outputs and the XACK of their
inputs in one MULTI/EXEC pipeline, entries a stopped consumer left pending claimed back
(XAUTOCLAIM) once idle for ``claim_idle_ms``, and an entry given out ``max_deliveries`` times
handed to the dead letters instead of being scored again.

A pipeline that fails (the server went away) is sent again with backoff until it goes
through; nothing is acknowledged before its outputs are in the sink stream.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any, TypeVar

import orjson

from conveyor.core.errors import BrokerUnreachableError, UnknownStreamError
from conveyor.streaming.brokers import Batch, Broker, BrokerSettings, Delivery, Records

log = logging.getLogger("conveyor.streaming")

T = TypeVar("T")

KEY_FIELD = b"key"
_BACKOFF_S = (0.1, 0.2, 0.5, 1.0, 2.0, 5.0)


class RedisBroker(Broker):
    def __init__(self, settings: BrokerSettings) -> None:
        import redis

        self.settings = settings
        self.stream = settings.source.name
        self.field = settings.field.encode()
        self.group = settings.group
        self.member = settings.member
        host, _, port = settings.source.address.partition(":")
        # redis-py types every reply as a union of all its shapes: the replies are read as Any
        self.client: Any = redis.Redis(
            host=host, port=int(port or 6379), db=settings.source.db, protocol=2,
            socket_connect_timeout=5, socket_timeout=30, health_check_interval=10,
        )
        self._claim_cursor = "0-0"
        self._next_claim = 0.0
        self._history: str | None = "0"  # this consumer's own pending entries come first
        self._connect()

    def _connect(self) -> None:
        import redis

        try:
            self.client.ping()
            exists = self.client.exists(self.stream)
        except redis.RedisError as exc:
            raise BrokerUnreachableError(
                f"Redis at {self.settings.source.address} does not answer: {exc}",
                hint="start it, or check the host and port of the stream URL",
            ) from None
        if not exists:
            raise UnknownStreamError(
                f"Redis stream {self.stream!r} does not exist on {self.settings.source.address}",
                hint=f"produce to it first, or create it: XGROUP CREATE {self.stream} {self.group} 0 MKSTREAM",
            )
        try:
            self.client.xgroup_create(self.stream, self.group, id="0")
        except redis.ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    # -- reading ----------------------------------------------------------------------------

    def read_batch(self, max_events: int, max_wait_s: float) -> Batch:
        if self._history is not None:
            own = self._retrying(lambda: self._own_pending(max_events))
            if own:
                return own
        if time.monotonic() >= self._next_claim:
            claimed = self._retrying(lambda: self._claim(max_events))
            if claimed:
                return claimed
        block = int(max_wait_s * 1000)
        reply = self._retrying(lambda: self.client.xreadgroup(
            self.group, self.member, {self.stream: ">"}, count=max_events, block=block if block > 0 else None,
        ))
        return self._batch(reply[0][1] if reply else [], None)

    def _own_pending(self, max_events: int) -> Batch | None:
        """Entries this consumer (same name, restarted) was given and never acknowledged."""
        reply = self.client.xreadgroup(self.group, self.member, {self.stream: self._history}, count=max_events)
        entries = [(i, f) for i, f in (reply[0][1] if reply else []) if f]
        if not entries:
            self._history = None
            return None
        self._history = entries[-1][0].decode()
        return self._with_counts(entries)

    def _with_counts(self, entries: list[tuple[bytes, dict[bytes, bytes]]]) -> Batch:
        first, last = entries[0][0], entries[-1][0]
        pending = self.client.xpending_range(
            self.stream, self.group, min=first, max=last, count=len(entries) * 2, consumername=self.member,
        )
        counts = {p["message_id"]: int(p["times_delivered"]) for p in pending}
        return self._batch(entries, [counts.get(entry_id, 2) for entry_id, _ in entries])

    def _claim(self, max_events: int) -> Batch | None:
        """Entries idle past claim_idle_ms in another consumer's hands (it stopped), with how
        often each was delivered; the cursor walks the pending list across calls."""
        cursor, entries, *_ = self.client.xautoclaim(
            self.stream, self.group, self.member, self.settings.claim_idle_ms, self._claim_cursor, count=max_events,
        )
        self._claim_cursor = cursor.decode() if isinstance(cursor, bytes) else str(cursor)
        if self._claim_cursor == "0-0":  # walked the whole list: look again after an idle time
            self._next_claim = time.monotonic() + self.settings.claim_idle_ms / 2000
        entries = [(i, f) for i, f in entries if f]  # trimmed away meanwhile
        if not entries:
            return None
        log.info("claimed %d entries of %s left pending by a stopped consumer", len(entries), self.stream)
        return self._with_counts(entries)

    def _batch(self, entries: list[tuple[bytes, dict[bytes, bytes]]], deliveries: list[int] | None) -> Batch:
        """Entries as a batch; one without the data field, or given out too often, carries
        its problem (the scorer makes it a dead letter)."""
        ids = [entry_id for entry_id, _ in entries]
        offsets = [i.decode() for i in ids]
        field = self.field
        values: list[bytes | None] = [fields.get(field) for _, fields in entries]
        keys: list[bytes | None] = [fields.get(KEY_FIELD) for _, fields in entries]
        problems: dict[int, str] = {}
        if None in values:
            for i, value in enumerate(values):
                if value is None:
                    values[i] = orjson.dumps({k.decode(errors="replace"): v.decode(errors="replace")
                                              for k, v in entries[i][1].items()})
                    problems[i] = f"the entry has no field {self.settings.field!r}"
        limit = self.settings.max_deliveries
        if deliveries is not None:
            for i, count in enumerate(deliveries):
                if count > limit and i not in problems:
                    problems[i] = f"poison: delivered {count} times (stream.max_deliveries = {limit})"
        return Batch(
            self.stream, values, offsets,  # type: ignore[arg-type]  # no None is left in values
            keys=None if keys.count(None) == len(keys) else keys,
            produced_ms=[float(o.split("-", 1)[0]) for o in offsets],
            deliveries=deliveries, problems=problems, position=ids,
        )

    # -- writing ----------------------------------------------------------------------------

    def deliver(self, delivery: Delivery) -> None:
        sink, dead, field = self.settings.sink.name, self.settings.dead_letters.name, self.field
        events = delivery.events
        ids = events.position if isinstance(events, Batch) and events.position is not None else [
            e.coordinates.offset for e in events]
        outputs, dead_letters = Records.of(delivery.outputs), Records.of(delivery.dead_letters)

        def send() -> Any:
            pipe = self.client.pipeline(transaction=True)
            command = pipe.execute_command
            for stream, records in ((sink, outputs), (dead, dead_letters)):
                if records.keys is None:
                    for value in records.values:
                        command("XADD", stream, "*", field, value)
                else:
                    for value, key in zip(records.values, records.keys, strict=True):
                        if key is None:
                            command("XADD", stream, "*", field, value)
                        else:
                            command("XADD", stream, "*", field, value, KEY_FIELD, key)
            if ids:
                command("XACK", self.stream, self.group, *ids)
            return pipe.execute()

        self._retrying(send)

    def _retrying(self, call: Callable[[], T]) -> T:
        """Run ``call``; while the server is unreachable, again with backoff (logged once)."""
        import redis

        attempt = 0
        while True:
            try:
                return call()
            except (redis.ConnectionError, redis.TimeoutError) as exc:
                delay = _BACKOFF_S[min(attempt, len(_BACKOFF_S) - 1)]
                if attempt == 0:
                    log.warning("Redis %s unreachable (%s); retrying with backoff", self.settings.source.address, exc)
                attempt += 1
                time.sleep(delay)

    def drain(self, timeout_s: float) -> bool:
        return True  # every delivery is acknowledged before it returns

    def lag(self) -> dict[str, int]:
        for group in self.client.xinfo_groups(self.stream):
            name = group.get("name")
            if (name.decode() if isinstance(name, bytes) else name) == self.group:
                lag = group.get("lag")
                return {} if lag is None else {self.stream: int(lag)}
        return {}

    def close(self) -> None:
        """Leave the group's consumer list when nothing is pending with this consumer."""
        import redis

        try:
            mine = self.client.xpending_range(self.stream, self.group, "-", "+", 1, consumername=self.member)
            if not mine:
                self.client.xgroup_delconsumer(self.stream, self.group, self.member)
        except redis.RedisError:
            pass
        self.client.close()

