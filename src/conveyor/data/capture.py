"""Captured traffic on the artifact store: Parquet parts written for ``conveyor serve`` and
read back for ``conveyor monitor --window``, in the layout of :mod:`conveyor.core.capture`
(partitioned by model and date; feedback labels next to the predictions)."""

from __future__ import annotations

import io
import os
import sys
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

from conveyor.core import capture as layout
from conveyor.core.errors import NoCapturedTrafficError
from conveyor.data.source import Source, url_to_fs

if TYPE_CHECKING:
    import fsspec
    import pandas as pd
    import pyarrow as pa


class TrafficSource(Protocol):
    """Where monitoring reads a time window of scored (and maybe labelled) requests."""

    def read(self, model: str, start: datetime, end: datetime) -> pd.DataFrame: ...


@dataclass(frozen=True)
class CapturedTraffic:
    """Captured predictions of the served deployments under ``artifact_store``."""

    artifact_store: str
    target: str | None = None  # feedback labels are joined into this column when given
    storage_options: dict[str, Any] = field(default_factory=dict)

    def location(self, model: str) -> str:
        return layout.model_root(self.artifact_store, model)

    def read(self, model: str, start: datetime, end: datetime) -> pd.DataFrame:
        """Rows captured in ``[start, end)``, with feedback labels in the target column."""
        import pandas as pd

        fs, base = self._filesystem(model)
        files: list[str] = []
        day = start.date()
        while day <= end.date():
            files += _parts(fs, f"{base}/{layout.partition(day)}")
            day += timedelta(days=1)
        if not files:
            raise NoCapturedTrafficError(
                f"no captured traffic for {model!r} between {start:%Y-%m-%d %H:%M} and "
                f"{end:%Y-%m-%d %H:%M} UTC under {self.location(model)}",
                hint="prediction capture is written by `conveyor serve` (serve.capture); "
                "until then monitor a file with --data PATH",
            )
        frame = self._frame(model, files)
        if layout.TIMESTAMP in frame.columns:
            stamps = pd.to_datetime(frame[layout.TIMESTAMP], utc=True)
            frame = frame[(stamps >= pd.Timestamp(start)) & (stamps < pd.Timestamp(end))]
        frame = frame.reset_index(drop=True)
        if self.target is not None and self.target not in frame.columns:
            frame = self._join_feedback(model, fs, base, frame, start.date())
        return frame

    def _filesystem(self, model: str) -> tuple[fsspec.AbstractFileSystem, str]:
        fs, base = url_to_fs(self.location(model), self.storage_options)
        return fs, base.rstrip("/")

    def _frame(self, model: str, files: list[str]) -> pd.DataFrame:
        """The parts as one frame (parts written at different times may differ in columns)."""
        return Source(self.location(model), files, "parquet", dict(self.storage_options)).frame()

    def _join_feedback(
        self, model: str, fs: fsspec.AbstractFileSystem, base: str, frame: pd.DataFrame, since: date
    ) -> pd.DataFrame:
        """Attach ground-truth labels posted to /feedback (they may arrive days later)."""
        request_id, row, label = layout.REQUEST_ID, layout.ROW, layout.LABEL
        files = [p for p in _parts(fs, f"{base}/{layout.FEEDBACK_FOLDER}")
                 if layout.partition_date(p) >= since.isoformat()]
        if request_id not in frame.columns or not files:
            return frame
        labels = self._frame(model, files)
        if layout.TIMESTAMP in labels.columns:
            labels = labels.sort_values(layout.TIMESTAMP, kind="stable")  # the latest label wins
        per_row = labels[row].notna() if row in labels.columns else None
        joined = frame.assign(**{label: None})
        # A label without a row applies to every row of its request.
        whole = labels if per_row is None else labels[~per_row]
        joined = _fill_labels(joined, whole, [request_id])
        if per_row is not None and row in frame.columns:
            rows = labels[per_row].astype({row: frame[row].dtype})
            joined = _fill_labels(joined, rows, [request_id, row])
        joined[label] = joined[label].infer_objects()  # ints with gaps → float, not object
        return joined.rename(columns={label: self.target})


def _parts(fs: fsspec.AbstractFileSystem, folder: str) -> list[str]:
    """The Parquet parts under ``folder``, sorted (none when it does not exist)."""
    if not fs.exists(folder):
        return []
    return sorted(p for p in fs.find(folder) if p.endswith(layout.PART_SUFFIX))


def _fill_labels(frame: pd.DataFrame, labels: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    label = layout.LABEL
    if labels.empty:
        return frame
    latest = labels.drop_duplicates(keys, keep="last")[[*keys, label]]
    merged = frame.merge(latest, on=keys, how="left", suffixes=("", "_new"), validate="many_to_one")
    merged[label] = merged[f"{label}_new"].where(merged[f"{label}_new"].notna(), merged[label])
    return merged.drop(columns=f"{label}_new")


def import_arrow_alone() -> None:
    """Import pyarrow (and its Parquet writer) for capture without letting it import pandas.

    pyarrow imports pandas, when it is installed, on its first array conversion — only to
    recognise Series and DataFrames — which costs a serving worker that scores an inference
    plan ~60 MB and a second of start-up for nothing: capture hands pyarrow plain lists. So
    while pyarrow makes that one probe, ``import pandas`` fails, and pyarrow remembers that
    it has no pandas. The consequence, in this process only: pyarrow converts a pandas object
    as the sequence it is (NaN stays NaN, not null); ``to_pandas`` still works. A process that
    has imported pandas already (a worker serving a model that needs it) is left as it is.
    """
    if "pandas" in sys.modules:
        import pyarrow.parquet  # imported now, not by the first write while scoring runs

        return
    sys.meta_path.insert(0, _WithoutPandas)
    try:
        import pyarrow as pa
        import pyarrow.parquet

        pa.array([0])  # pyarrow's one probe for pandas, made now
    finally:
        sys.meta_path.remove(_WithoutPandas)


class _WithoutPandas:
    """A meta-path finder under which ``import pandas`` raises ModuleNotFoundError."""

    @staticmethod
    def find_spec(name: str, path: Any = None, target: Any = None) -> None:
        if name == "pandas" or name.startswith("pandas."):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)


def column(values: list[Any]) -> pa.Array:
    """Values as one Arrow column; mixed types are kept as text."""
    import pyarrow as pa

    try:
        return pa.array(values)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return pa.array([None if v is None else str(v) for v in values])


def write_part(table: pa.Table, folder: str, storage_options: dict[str, Any] | None = None) -> str:
    """Write one new Parquet part under ``folder`` (local: temp name + rename, so readers
    never see a partial file); returns its path."""
    import pyarrow.parquet as pq

    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")
    name = f"{stamp}-{os.getpid()}-{uuid.uuid4().hex[:8]}{layout.PART_SUFFIX}"
    fs, base = url_to_fs(folder, storage_options or {})
    fs.makedirs(base, exist_ok=True)
    buffer = io.BytesIO()
    pq.write_table(table, buffer)
    target = f"{base}/{name}"
    if "file" in (fs.protocol if isinstance(fs.protocol, tuple) else (fs.protocol,)):
        temp = f"{base}/.{name}.tmp"
        with fs.open(temp, "wb") as handle:
            handle.write(buffer.getvalue())
        fs.mv(temp, target)
    else:
        with fs.open(target, "wb") as handle:
            handle.write(buffer.getvalue())
    return target


def write_feedback(store: str, model: str, items: list[dict[str, Any]]) -> str:
    """Ground-truth labels by request id, next to the capture (one part per call)."""
    import pyarrow as pa

    now = datetime.now(UTC)
    table = pa.table({
        layout.REQUEST_ID: pa.array([str(i["request_id"]) for i in items]),
        layout.ROW: pa.array([i.get("row") for i in items], type=pa.int64()),
        layout.LABEL: column([i["label"] for i in items]),
        layout.TIMESTAMP: pa.array([now] * len(items)),
    })
    return write_part(table, layout.feedback_folder(store, model, now.date()))
