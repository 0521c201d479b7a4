"""Source offsets recorded with a checkpoint, and the replay filter on restart.

The learner commits its input only at a checkpoint (with the dead letters of the same events),
so a restarted learner reads again from the last checkpoint's offsets. Should it die between
registering a checkpoint and committing (a narrow window), the events up to the recorded
offsets are read once more: the filter skips them, so no event is learned twice into one
lineage of checkpoints. What was learned after the last checkpoint is lost with the process
and learned again from the replay (documented in docs/online.md).
"""

from __future__ import annotations

from conveyor.streaming.brokers import Coordinates, Event


def offset_key(c: Coordinates) -> str:
    return c.source if c.partition is None else f"{c.source}:{c.partition}"


def offset_order(offset: str) -> tuple[int, ...]:
    """A Kafka offset ``41``, a Redis entry id ``1700000000000-3``, a file line ``12``, in order."""
    try:
        return tuple(int(part) for part in offset.split("-"))
    except ValueError:
        return ()


class Offsets:
    def __init__(self, resume: dict[str, str] | None = None) -> None:
        self.last: dict[str, str] = dict(resume or {})
        self._resume = {k: offset_order(v) for k, v in (resume or {}).items()}
        self.skipped = 0

    def fresh(self, events: list[Event]) -> list[Event]:
        """The events past the resume offsets (all of them when there are none), noted."""
        out = []
        resume, last = self._resume, self.last
        for event in events:
            c = event.coordinates
            key = offset_key(c)
            floor = resume.get(key)
            if floor is not None and offset_order(c.offset) <= floor:
                self.skipped += 1
                continue
            out.append(event)
            last[key] = c.offset
        return out
