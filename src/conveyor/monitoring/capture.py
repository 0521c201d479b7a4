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
from typing import TYPE_CHECKING, Any, Protocol

from conveyor.core.errors import NoCapturedTrafficError, WindowError

if TYPE_CHECKING:
    import pandas as pd

CAPTURE_PREFIX = "captures"
FEEDBACK_FOLDER = "feedback"
TIMESTAMP = "timestamp"
LABEL = "label"
# Columns the serving layer adds next to the model inputs; never features.
CAPTURE_METADATA = (
    TIMESTAMP, "request_id", "row", "deployment", "version", "latency_ms",
    "__prediction__", "__score__",
)
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

    def read(self, model: str, start: datetime, end: datetime) -> pd.DataFrame: ...


@dataclass(frozen=True)
class CapturedTraffic:
    """Captured predictions in the artifact store (see the module docstring for the layout)."""

    artifact_store: str
    target: str | None = None  # feedback labels are joined into this column when given

    def location(self, model: str) -> str:
        return f"{self.artifact_store.rstrip('/')}/{CAPTURE_PREFIX}/{model}"

    def read(self, model: str, start: datetime, end: datetime) -> pd.DataFrame:
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
        frame = _read_all(fs, files)
        if TIMESTAMP in frame.columns:
            stamps = pd.to_datetime(frame[TIMESTAMP], utc=True)
            frame = frame[(stamps >= pd.Timestamp(start)) & (stamps < pd.Timestamp(end))]
        frame = frame.reset_index(drop=True)
        if self.target is not None and self.target not in frame.columns:
            frame = self._join_feedback(fs, base, frame, start)
        return frame

    def _join_feedback(self, fs: Any, base: str, frame: pd.DataFrame, start: datetime) -> pd.DataFrame:
        """Attach ground-truth labels posted to /feedback (they may arrive days later)."""
        folder = f"{base}/{FEEDBACK_FOLDER}"
        if "request_id" not in frame.columns or not fs.exists(folder):
            return frame
        files = sorted(
            p for p in fs.find(folder)
            if p.endswith(".parquet") and _partition_date(p) >= start.date().isoformat()
        )
        if not files:
            return frame
        labels = _read_all(fs, files)
        if TIMESTAMP in labels.columns:
            labels = labels.sort_values(TIMESTAMP, kind="stable")  # the latest label wins
        per_row = labels["row"].notna() if "row" in labels.columns else None
        joined = frame.assign(**{LABEL: None})
        # A label without a row applies to every row of its request.
        whole = labels if per_row is None else labels[~per_row]
        joined = _fill_labels(joined, whole, ["request_id"])
        if per_row is not None and "row" in frame.columns:
            rows = labels[per_row].astype({"row": frame["row"].dtype})
            joined = _fill_labels(joined, rows, ["request_id", "row"])
        joined[LABEL] = joined[LABEL].infer_objects()  # ints with gaps → float, not object
        return joined.rename(columns={LABEL: self.target})


def _fill_labels(frame: pd.DataFrame, labels: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    if labels.empty:
        return frame
    latest = labels.drop_duplicates(keys, keep="last")[[*keys, LABEL]]
    merged = frame.merge(latest, on=keys, how="left", suffixes=("", "_new"), validate="many_to_one")
    merged[LABEL] = merged[f"{LABEL}_new"].where(merged[f"{LABEL}_new"].notna(), merged[LABEL])
    return merged.drop(columns=f"{LABEL}_new")


def _read_all(fs: Any, files: list[str]) -> pd.DataFrame:
    import pandas as pd

    frames = []
    for path in files:
        with fs.open(path, "rb") as handle:
            frames.append(pd.read_parquet(handle))
    return pd.concat(frames, ignore_index=True)


def _partition_date(path: str) -> str:
    match = re.search(r"date=(\d{4}-\d{2}-\d{2})", path)
    return match.group(1) if match else ""
