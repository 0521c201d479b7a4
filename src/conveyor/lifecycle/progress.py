"""Step reporting: the CLI shows rich progress, the Python API stays quiet by default."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Protocol


class Reporter(Protocol):
    def step(self, title: str) -> AbstractContextManager[None]: ...

    def info(self, message: str) -> None: ...


class SilentReporter:
    @contextmanager
    def step(self, title: str) -> Iterator[None]:
        yield

    def info(self, message: str) -> None:
        return None
