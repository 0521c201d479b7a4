"""Durations in the config and on the command line (`--window`, `monitor.window`,
`monitor.retrain.max_age`): ``30m``, ``24h``, ``7d``, ``2w``. Pure: no I/O."""

from __future__ import annotations

import re
from datetime import timedelta

from conveyor.core.errors import WindowError

_WINDOW = re.compile(r"^\s*(\d+)\s*([smhdw])\s*$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_window(text: str) -> timedelta:
    """``30m``, ``24h``, ``7d``, ``2w`` → a timedelta."""
    match = _WINDOW.match(text or "")
    if not match or int(match.group(1)) == 0:
        raise WindowError(
            f"window {text!r} is not a duration",
            hint="use a number and a unit: 30m, 24h, 7d, 2w",
        )
    return timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})
