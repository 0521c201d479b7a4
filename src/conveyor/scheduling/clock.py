"""The scheduler's sense of time, injectable: tests drive a :class:`ManualClock` and never
wait on real time."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    """Now, and a wait of the scheduler's loop (its idle time and retry backoff)."""

    def now(self) -> datetime: ...  # timezone-aware, UTC

    def sleep(self, seconds: float) -> None: ...

    def wait(self, event: threading.Event, seconds: float) -> bool:
        """Wait ``seconds`` or until ``event`` is set (True: it was)."""
        ...


class SystemClock:
    """Real time. ``sleep`` is :func:`time.sleep`, so a SIGTERM handled as an exit
    (:func:`conveyor.stack.processes.terminate_as_exit`) ends a wait at once."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds)

    def wait(self, event: threading.Event, seconds: float) -> bool:
        return event.wait(max(0.0, seconds))  # a signal handled as an exit still ends it


class ManualClock:
    """A clock that moves only when told to (or by the sleeps it is asked for, which return
    at once having moved it; a wait for an event waits for the event); ``slept`` lists every
    sleep, for tests of backoff."""

    def __init__(self, start: datetime) -> None:
        self._now = start.astimezone(UTC)
        self._lock = threading.Lock()
        self.slept: list[float] = []

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.advance(seconds)

    def wait(self, event: threading.Event, seconds: float) -> bool:
        """Time moves only when told: what can end the wait is the event alone."""
        event.wait()
        return True

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._now += timedelta(seconds=max(0.0, seconds))

    def set(self, at: datetime) -> None:
        with self._lock:
            self._now = at.astimezone(UTC)
