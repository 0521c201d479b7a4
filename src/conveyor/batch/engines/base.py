"""What an engine is given, and what it must return."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from conveyor.batch.manifest import PartResult
from conveyor.batch.progress import RowProgress, SilentProgress
from conveyor.batch.worker import PartSpec
from conveyor.data import Source


@dataclass
class RunPlan:
    """One batch run: the input, how to score a part, parts already committed (resume)."""

    source: Source
    spec: PartSpec
    model_payload: bytes | None
    batch_size: int
    done: dict[int, PartResult] = field(default_factory=dict)
    progress: RowProgress = field(default_factory=SilentProgress)


class Engine(Protocol):
    name: str

    def prepare(self, parts: int | None) -> None:
        """Start what the engine needs (processes, a Spark session) while the model loads."""
        ...

    def close(self) -> None:
        """Release whatever ``prepare`` started and ``run`` did not use."""
        ...

    def run(self, plan: RunPlan) -> list[PartResult]:
        """Score every part not in ``plan.done``; return all parts (done ones included), in order."""
        ...
