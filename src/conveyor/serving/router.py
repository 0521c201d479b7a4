"""Pick the deployment that answers a request.

Weighted random by default; with a request key, weighted rendezvous hashing, so the same
key always lands on the same deployment and a weight change moves as few keys as possible;
an explicit deployment header overrides both.
"""

from __future__ import annotations

import bisect
import hashlib
import math
import random
from collections.abc import Mapping

from conveyor.core.errors import NoRoute

_SCALE = float(1 << 64)


class Router:
    """Immutable: build a new one when weights or readiness change (swap is atomic)."""

    def __init__(self, weights: Mapping[str, float], *, seed: int | None = None) -> None:
        self.weights = {name: float(w) for name, w in weights.items() if w > 0}
        self._names = list(self.weights)
        self._cumulative: list[float] = []
        total = 0.0
        for name in self._names:
            total += self.weights[name]
            self._cumulative.append(total)
        self._total = total
        self._random = random.Random(seed).random if seed is not None else random.random

    @property
    def empty(self) -> bool:
        return not self._names

    def choose(self, key: str | None = None) -> str:
        names = self._names
        if not names:
            raise NoRoute("no deployment is ready to take traffic")
        if len(names) == 1:
            return names[0]
        if key:
            return self._sticky(key)
        return names[bisect.bisect_right(self._cumulative, self._random() * self._total)]

    def _sticky(self, key: str) -> str:
        best = ""
        best_score = -1.0
        for name in self._names:
            digest = hashlib.blake2b(f"{key}\x00{name}".encode(), digest_size=8).digest()
            unit = (int.from_bytes(digest, "big") + 0.5) / _SCALE  # in (0, 1)
            score = self.weights[name] / -math.log(unit)
            if score > best_score:
                best, best_score = name, score
        return best

    def sample(self, share: float) -> bool:
        """True for about `share` of calls (shadow mirroring)."""
        return share >= 1.0 or self._random() < share
