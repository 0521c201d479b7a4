"""Reading captured traffic for `--window`: predictions the serving layer writes as Parquet
under the artifact store, partitioned by model and date.

Layout (written by `conveyor serve` once prediction capture exists)::

    <artifact_store>/captures/<model>/date=YYYY-MM-DD/*.parquet

with the model's input columns, ``__prediction__`` (and ``__score__``), ``timestamp`` (UTC)
and ``request_id``; feedback labels, when joined, arrive in the target column.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Protocol

from conveyor.monitoring.errors import NoCapturedTrafficError, WindowError

if TYPE_CHECKING:
    import pandas as pd

CAPTURE_PREFIX = "captures"
TIMESTAMP = "timestamp"
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


class TrafficSource(Protocol):
    """Where monitoring reads a time window of scored (and maybe labelled) requests."""

    def read(self, model: str, start: datetime, end: datetime) -> "pd.DataFrame": ...


@dataclass(frozen=True)
class CapturedTraffic:
    """Captured predictions in the artifact store (see the module docstring for the layout)."""

    artifact_store: str

    def location(self, model: str) -> str:
        return f"{self.artifact_store.rstrip('/')}/{CAPTURE_PREFIX}/{model}"

    def read(self, model: str, start: datetime, end: datetime) -> "pd.DataFrame":
        import fsspec
        import pandas as pd

        fs, base = fsspec.core.url_to_fs(self.location(model))
        files: list[str] = []
        day = start.date()
        while day <= end.date():
            folder = f"{base}/date={day.isoformat()}"
            if fs.exists(folder):
                files += sorted(p for p in fs.find(folder) if p.endswith(".parquet"))
            day += timedelta(days=1)
        if not files:
            raise NoCapturedTrafficError(
                f"no captured traffic for {model!r} between {start:%Y-%m-%d %H:%M} and "
                f"{end:%Y-%m-%d %H:%M} UTC under {self.location(model)}",
                hint="prediction capture is written by `conveyor serve` (serve.capture); "
                "until then monitor a file with --data PATH",
            )
        frames = []
        for path in files:
            with fs.open(path, "rb") as handle:
                frames.append(pd.read_parquet(handle))
        frame = pd.concat(frames, ignore_index=True)
        if TIMESTAMP in frame.columns:
            stamps = pd.to_datetime(frame[TIMESTAMP], utc=True)
            frame = frame[(stamps >= pd.Timestamp(start)) & (stamps < pd.Timestamp(end))]
        return frame.reset_index(drop=True)
