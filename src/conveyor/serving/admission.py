"""Admission: the server-wide limit on prediction requests in flight (one per worker process).

A request past `serve.limits.max_in_flight` is answered 503 with Retry-After at once,
before its body is read, so an overloaded worker spends almost nothing on what it cannot
answer within its latency budget. (Each deployment's queue sheds on time as well: see
:mod:`conveyor.serving.batcher`.) One event loop per worker: a plain counter suffices.
"""

from __future__ import annotations

from dataclasses import dataclass

from conveyor.serving.errors import Overloaded


@dataclass
class Admission:
    limit: int
    retry_after: int = 1
    in_flight: int = 0

    def full(self) -> bool:
        return self.in_flight >= self.limit

    def refusal(self) -> Overloaded:
        return Overloaded(
            f"the server has {self.in_flight} prediction requests in flight (limit {self.limit}); retry later",
            retry_after=self.retry_after, status=503,
        )
