from datetime import timedelta

import pytest

from conveyor.core.durations import parse_window
from conveyor.core.errors import WindowError


def test_parse_window():
    assert parse_window("24h") == timedelta(hours=24)
    assert parse_window("30m") == timedelta(minutes=30)
    assert parse_window("7d") == timedelta(days=7)
    for bad in ("", "24", "h", "0h", "1 year"):
        with pytest.raises(WindowError):
            parse_window(bad)
