"""Cron slots and the catch-up plan: pure, with explicit times (no clock at all)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from conveyor.scheduling.slots import (
    CATCH_UP,
    MAX_CATCH_UP,
    ON_TIME,
    format_slot,
    latest_slot,
    next_slot,
    parse_slot,
    plan,
    slots_between,
)

HOURLY = "0 * * * *"


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def test_slots_are_read_in_the_configured_time_zone() -> None:
    # 02:00 in Berlin is 01:00 UTC in winter, 00:00 UTC in summer
    assert next_slot("0 2 * * *", "Europe/Berlin", at("2026-12-01T12:00")) == at("2026-12-02T01:00")
    assert next_slot("0 2 * * *", "Europe/Berlin", at("2026-07-01T12:00")) == at("2026-07-02T00:00")
    assert next_slot("0 2 * * *", "UTC", at("2026-12-01T12:00")) == at("2026-12-02T02:00")


def test_a_slot_skipped_by_the_spring_clock_change_still_runs_once() -> None:
    # 02:30 does not exist in Berlin on 2026-03-29: cron runs it once, at the first real minute
    slots = list(slots_between("30 2 * * *", "Europe/Berlin", at("2026-03-28T00:00"), at("2026-03-30T23:00")))
    assert len(slots) == 3 and len({s.date() for s in slots}) == 3


def test_slots_between_latest_and_keys() -> None:
    assert list(slots_between(HOURLY, "UTC", at("2026-12-01T10:00"), at("2026-12-01T12:00"))) == [
        at("2026-12-01T11:00"), at("2026-12-01T12:00")]
    assert latest_slot(HOURLY, "UTC", at("2026-12-01T12:00")) == at("2026-12-01T12:00")
    assert latest_slot(HOURLY, "UTC", at("2026-12-01T12:59:59.5")) == at("2026-12-01T12:00")
    assert format_slot(at("2026-12-01T02:00")) == "2026-12-01T0200Z"
    assert parse_slot("2026-12-01T0200Z") == at("2026-12-01T02:00")


def test_nothing_is_due_before_the_next_slot() -> None:
    assert plan(HOURLY, "UTC", at("2026-12-01T10:00"), at("2026-12-01T10:59"), "all", 300).run == []


def test_an_on_time_slot_runs_once() -> None:
    due = plan(HOURLY, "UTC", at("2026-12-01T10:00"), at("2026-12-01T11:00:20"), "latest", 300)
    assert [(s.at, s.trigger) for s in due.run] == [(at("2026-12-01T11:00"), ON_TIME)]
    assert due.skipped_until is None and due.handled_until == at("2026-12-01T11:00")
    # recorded as handled, the same slot is not due again
    assert plan(HOURLY, "UTC", at("2026-12-01T11:00"), at("2026-12-01T11:00:50"), "latest", 300).run == []


DOWN_FROM = at("2026-12-01T10:00")  # the last slot handled before five hours of downtime
BACK_AT = at("2026-12-01T15:20")  # 15:00 is 20 minutes late: missed with a 5 minute grace


def test_catch_up_latest_runs_the_latest_missed_slot_once() -> None:
    due = plan(HOURLY, "UTC", DOWN_FROM, BACK_AT, "latest", 300)
    assert [(s.at, s.trigger) for s in due.run] == [(at("2026-12-01T15:00"), CATCH_UP)]
    assert due.skipped_until is None


def test_catch_up_skip_runs_none_of_the_missed_slots() -> None:
    due = plan(HOURLY, "UTC", DOWN_FROM, BACK_AT, "skip", 300)
    assert due.run == [] and due.skipped_until == at("2026-12-01T15:00")
    assert plan(HOURLY, "UTC", due.skipped_until, BACK_AT, "skip", 300).run == []


def test_catch_up_all_runs_every_missed_slot_once_oldest_first() -> None:
    due = plan(HOURLY, "UTC", DOWN_FROM, BACK_AT, "all", 300)
    assert [s.at.hour for s in due.run] == [11, 12, 13, 14, 15]
    assert {s.trigger for s in due.run} == {CATCH_UP}


def test_an_on_time_slot_runs_and_the_missed_ones_follow_the_policy() -> None:
    back = at("2026-12-01T15:01")  # 15:00 is on time; 11:00-14:00 were missed
    latest = plan(HOURLY, "UTC", DOWN_FROM, back, "latest", 300)
    assert [(s.at.hour, s.trigger) for s in latest.run] == [(15, ON_TIME)]
    assert latest.skipped_until == at("2026-12-01T14:00")  # recorded, so never run later
    every = plan(HOURLY, "UTC", DOWN_FROM, back, "all", 300)
    assert [(s.at.hour, s.trigger) for s in every.run] == [
        (11, CATCH_UP), (12, CATCH_UP), (13, CATCH_UP), (14, CATCH_UP), (15, ON_TIME)]


def test_a_grace_longer_than_the_interval_coalesces_the_on_time_slots() -> None:
    due = plan("*/10 * * * *", "UTC", at("2026-12-01T10:00"), at("2026-12-01T10:35"), "skip", 3600)
    assert [(s.at, s.trigger) for s in due.run] == [(at("2026-12-01T10:30"), ON_TIME)]
    assert due.skipped_until is None


def test_catch_up_all_is_bounded() -> None:
    due = plan("* * * * *", "UTC", at("2026-12-01T00:00"), at("2026-12-01T00:00") + timedelta(days=1), "all", 0)
    assert [s.trigger for s in due.run] == [CATCH_UP] * MAX_CATCH_UP + [ON_TIME]  # now is a slot
    assert due.skipped_until is not None and due.skipped_until < due.run[0].at
