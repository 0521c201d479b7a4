"""Cron slots: when a pipeline is due, and which of its missed slots run after downtime.

Pure: given a cron string, a time zone, the last slot already handled and *now*, :func:`plan`
says which slots to run now (each once, oldest first) and which to skip, following the
catch-up policy:

- a slot at most ``grace_s`` late is **on time**; when several are (a grace longer than the
  cron's interval) they coalesce into the latest;
- a slot later than that was **missed** (the scheduler was down or busy): ``skip`` runs none
  of them, ``latest`` runs the latest missed one once — only when no slot is on time — and
  ``all`` runs each of them once, oldest first (at most :data:`MAX_CATCH_UP`: the latest
  ones; older ones are skipped).

A slot is never planned twice: everything up to the latest planned or skipped slot counts
as handled once the caller records it (:mod:`conveyor.scheduling.history`).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from cronsim import CronSim

CatchUp = Literal["skip", "latest", "all"]
ON_TIME = "schedule"  # the trigger of a slot run on time
CATCH_UP = "catch-up"  # the trigger of a missed slot run late
MAX_CATCH_UP = 100  # catch_up: all runs at most this many missed slots (the latest ones)


@dataclass(frozen=True)
class Slot:
    """One cron slot of a pipeline (``at`` in UTC) and why it runs."""

    at: datetime
    trigger: str = ON_TIME

    @property
    def key(self) -> str:
        """The slot as the history and batch partitions name it, in UTC: 2026-12-01T0200Z."""
        return format_slot(self.at)


@dataclass
class Plan:
    """What to do about a pipeline now: slots to run (oldest first), and the latest slot
    skipped (missed slots the policy does not run)."""

    run: list[Slot] = field(default_factory=list)
    skipped_until: datetime | None = None

    @property
    def handled_until(self) -> datetime | None:
        """The latest slot this plan runs or skips (None: nothing was due)."""
        slots = [s.at for s in self.run] + ([self.skipped_until] if self.skipped_until else [])
        return max(slots) if slots else None


def format_slot(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H%MZ")


def parse_slot(key: str) -> datetime:
    return datetime.strptime(key, "%Y-%m-%dT%H%MZ").replace(tzinfo=UTC)


def slots_between(cron: str, zone: str, after: datetime, until: datetime) -> Iterator[datetime]:
    """The cron's slots in (``after``, ``until``], oldest first, in UTC."""
    tz = ZoneInfo(zone)
    for at in CronSim(cron, after.astimezone(tz)):
        if at > until:
            return
        yield at.astimezone(UTC)


def next_slot(cron: str, zone: str, after: datetime) -> datetime:
    """The first slot strictly after ``after``, in UTC."""
    return next(iter(CronSim(cron, after.astimezone(ZoneInfo(zone))))).astimezone(UTC)


def latest_slot(cron: str, zone: str, until: datetime) -> datetime:
    """The latest slot at or before ``until``, in UTC."""
    start = (until + timedelta(seconds=1)).replace(microsecond=0).astimezone(ZoneInfo(zone))
    return next(iter(CronSim(cron, start, reverse=True))).astimezone(UTC)


def plan(cron: str, zone: str, handled: datetime, now: datetime, catch_up: CatchUp,
         grace_s: float) -> Plan:
    """The slots after ``handled`` (the last slot already run or skipped) that are due at
    ``now``, and what the policy does with each (see the module docstring)."""
    result = Plan()
    if next_slot(cron, zone, handled) > now:
        return result
    latest = latest_slot(cron, zone, now)
    on_time_since = now - timedelta(seconds=grace_s)
    if latest >= on_time_since:
        result.run.append(Slot(latest))  # the on-time slots coalesce into the latest
    missed_until = on_time_since - timedelta(microseconds=1)
    if missed_until <= handled or next_slot(cron, zone, handled) > missed_until:
        return result  # nothing missed
    if catch_up == "all":
        missed: deque[datetime] = deque(maxlen=MAX_CATCH_UP)
        for at in slots_between(cron, zone, handled, missed_until):
            if len(missed) == MAX_CATCH_UP:
                result.skipped_until = missed[0]
            missed.append(at)
        result.run[:0] = [Slot(at, CATCH_UP) for at in missed]
        return result
    last_missed = latest_slot(cron, zone, missed_until)
    if catch_up == "latest" and not result.run:
        result.run.append(Slot(last_missed, CATCH_UP))
    else:
        result.skipped_until = last_missed
    return result
