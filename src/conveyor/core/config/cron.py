"""Cron strings and time zones of the config's ``schedule`` keys, checked when the file loads.

A schedule is a standard 5-field cron string (minute hour day-of-month month day-of-week),
parsed by `cronsim`; ``scheduler.timezone`` names the IANA zone its fields are read in
(`zoneinfo`). Both are validated here so a bad one is a load error with its line number;
the slots themselves are computed by :mod:`conveyor.scheduling.slots`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator

FIELDS = ("minute", "hour", "day of month", "month", "day of week")


def check_cron(text: str) -> str:
    """``text`` as a normalised 5-field cron string; ValueError saying what is wrong."""
    from cronsim import CronSim, CronSimError

    parts = text.split()
    if len(parts) != len(FIELDS):
        raise ValueError(
            f"cron {text!r} has {len(parts)} field(s); a schedule has 5: "
            f"{' '.join(FIELDS)} (e.g. \"0 2 * * *\" for 02:00 every day)"
        )
    normalised = " ".join(parts)
    try:
        next(CronSim(normalised, datetime(2000, 1, 1, tzinfo=UTC)))
    except CronSimError as exc:
        raise ValueError(f"cron {text!r} is not valid: {exc}") from None
    except StopIteration:  # pragma: no cover - cronsim never ends a valid expression
        raise ValueError(f"cron {text!r} never fires") from None
    return normalised


def check_timezone(name: str) -> str:
    """``name`` if it is an IANA time zone (``UTC``, ``Europe/Berlin``); ValueError if not."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"unknown time zone {name!r}; use an IANA name such as 'UTC' or 'Europe/Berlin'"
        ) from None
    return name


Cron = Annotated[str, AfterValidator(check_cron)]
TimeZone = Annotated[str, AfterValidator(check_timezone)]
