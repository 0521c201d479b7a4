"""The guard contract: a check every mini-batch passes through before it may teach the model.

A guard looks at the rows still alive (a boolean mask over the batch), vectorised over the
batch, and returns the ones it rejects with a reason and a detail; the chain
(:class:`~conveyor.online.guards.GuardChain`) marks them dead, sends them to the dead letters
and counts them per reason. A guard that keeps a running profile learns only from the rows
that passed every guard (:meth:`Guard.accepted`).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass
class GuardBatch:
    """The rows of one mini-batch that passed the schema check: typed columns, labels, sources."""

    X: dict[str, Any]  # numeric columns as float arrays, categorical as lists of str
    labels: list[Any]  # the raw label of each row (None: none given)
    sources: list[str]
    now: float  # seconds (the caller's clock: tests move it)

    def __len__(self) -> int:
        return len(self.labels)


@dataclass
class Rejected:
    """Rows a guard rejects: their positions in the batch, one reason, a detail per row."""

    rows: np.ndarray  # int positions
    reason: str
    details: list[str] = field(default_factory=list)


class Guard(ABC):
    name: str

    @abstractmethod
    def check(self, batch: GuardBatch, alive: np.ndarray) -> list[Rejected]:
        """The rows among ``alive`` this guard rejects (none: an empty list)."""

    def accepted(self, batch: GuardBatch, alive: np.ndarray) -> None:
        """The rows that passed every guard and will teach the model (profiles learn from them)."""
