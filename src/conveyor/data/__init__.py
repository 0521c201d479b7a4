"""Sources and sinks: CSV / Parquet files, folders and globs on fsspec as Arrow batches, and
the captured-traffic writer and reader.

:func:`open_source` resolves a file, a folder or a glob (local or any fsspec URL with storage
options) to a :class:`Source`: record batches with column pruning, row groups, a frame, a
fingerprint. Training, ``conveyor predict``, ``conveyor monitor --data`` and the capture
reader all read through it. A batch output folder is read by its manifest (only committed
parts; :func:`open_output` insists on one), and a folder or glob that takes in an earlier
output among other files is refused.
"""

from conveyor.core.errors import (
    NoCapturedTrafficError,
    OutputInSourceError,
    SourceError,
    SourceNotFoundError,
    UncommittedOutputError,
)
from conveyor.data.capture import CapturedTraffic, TrafficSource, write_feedback, write_part
from conveyor.data.parquet import ParquetColumns
from conveyor.data.source import (
    Format,
    RowGroup,
    Source,
    SourcePart,
    open_output,
    open_source,
    rebatch,
)

__all__ = [
    "CapturedTraffic",
    "Format",
    "NoCapturedTrafficError",
    "OutputInSourceError",
    "ParquetColumns",
    "RowGroup",
    "Source",
    "SourceError",
    "SourceNotFoundError",
    "SourcePart",
    "TrafficSource",
    "UncommittedOutputError",
    "open_output",
    "open_source",
    "rebatch",
    "write_feedback",
    "write_part",
]
