"""Guards before an event may teach the model: schema and types (:mod:`.schema`), label
sanity (:mod:`.labels`), the poison filter (:mod:`.outliers`), per-source rate limit and share
cap (:mod:`.sources`). :class:`GuardChain` runs them in that order over one mini-batch."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from conveyor.online.guards.base import Guard, GuardBatch, Rejected
from conveyor.online.guards.labels import LabelGuard
from conveyor.online.guards.outliers import OutlierGuard
from conveyor.online.guards.schema import SchemaCheck
from conveyor.online.guards.sources import RateLimitGuard, SourceShareGuard

if TYPE_CHECKING:
    from conveyor.core.config.schema import ProjectConfig


@dataclass
class Verdicts:
    """The outcome of one batch: which rows live on, and for each rejected row its reason."""

    alive: np.ndarray
    reasons: dict[int, tuple[str, str]] = field(default_factory=dict)  # row -> (reason, detail)


class GuardChain:
    def __init__(self, guards: list[Guard]) -> None:
        self.guards = guards
        self.counts: Counter[str] = Counter()

    def run(self, batch: GuardBatch) -> Verdicts:
        alive = np.ones(len(batch), dtype=bool)
        verdicts = Verdicts(alive)
        for guard in self.guards:
            if not alive.any():
                break
            for rejected in guard.check(batch, alive):
                alive[rejected.rows] = False
                self.counts[rejected.reason] += len(rejected.rows)
                for row, detail in zip(rejected.rows.tolist(), rejected.details, strict=True):
                    verdicts.reasons[row] = (rejected.reason, detail)
        for guard in self.guards:
            guard.accepted(batch, alive)
        return verdicts


def guards_of(config: ProjectConfig, classes: list[Any] | None, supervised: bool) -> GuardChain:
    """The chain the config's ``online.guards`` asks for."""
    spec, features = config.online.guards, config.features
    guards: list[Guard] = []
    if supervised:
        guards.append(LabelGuard(classes if config.task == "classification" else None, spec.target_range))
    if spec.outlier_z is not None:
        watched = [n for n in features.numeric if n not in spec.outlier_exclude]
        target = config.target if config.task == "regression" and supervised else None
        if target is not None and target not in spec.outlier_exclude:
            watched.append(target)
        guards.append(OutlierGuard(watched, spec.outlier_z, spec.profile_size, spec.min_profile,
                                   target if target in watched else None))
    if spec.rate_limit is not None:
        guards.append(RateLimitGuard(spec.rate_limit, spec.burst))
    if spec.max_source_share is not None:
        guards.append(SourceShareGuard(spec.max_source_share, spec.share_window))
    return GuardChain(guards)


__all__ = [
    "Guard",
    "GuardBatch",
    "GuardChain",
    "LabelGuard",
    "OutlierGuard",
    "RateLimitGuard",
    "Rejected",
    "SchemaCheck",
    "SourceShareGuard",
    "Verdicts",
    "guards_of",
]
