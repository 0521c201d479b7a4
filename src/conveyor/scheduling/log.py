"""The log of one pipeline run: its steps and each attempt's result, kept as text and
logged with the run's history entry (``log.txt``)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

from conveyor.scheduling.clock import Clock


class StepLog:
    """A :class:`~conveyor.lifecycle.progress.Reporter` that writes lines, timed by the
    scheduler's clock (a step's own length in real seconds)."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self._lines: list[str] = []

    def info(self, message: str) -> None:
        self._lines.append(f"{self.clock.now():%Y-%m-%d %H:%M:%S} {message}")

    @contextmanager
    def step(self, title: str) -> Iterator[None]:
        started = time.perf_counter()
        self.info(f"{title} …")
        try:
            yield
        except BaseException:
            self.info(f"{title}: failed after {time.perf_counter() - started:.1f}s")
            raise
        self.info(f"{title}: done in {time.perf_counter() - started:.1f}s")

    def text(self) -> str:
        return "\n".join(self._lines) + "\n"
