"""One Parquet file read a column at a time: the reader profiling uses to fit and profile a
file without loading it whole (one record batch of one column in memory per reader). A local
path is read by Arrow directly; any other fsspec URL through its filesystem."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from conveyor.core.errors import SourceError, SourceNotFoundError
from conveyor.data.source import arrow_filesystem, url_to_fs

if TYPE_CHECKING:
    import pyarrow as pa
    import pyarrow.parquet as pq

DEFAULT_BATCH_ROWS = 262_144


@dataclass(frozen=True)
class ParquetColumns:
    """A local Parquet file opened for column-at-a-time reads; string columns named in
    ``dictionary`` are read dictionary-encoded (category counts on the indices are fast)."""

    path: str  # local path, or the location on ``filesystem``
    file: pq.ParquetFile
    schema: pa.Schema  # as written (the file's readers may decode strings as dictionaries)
    dictionary: tuple[str, ...] = ()
    filesystem: Any = None  # a pyarrow filesystem for URLs; None: a local path

    @classmethod
    def open(
        cls, path: str | Path, dictionary: Sequence[str] = (), storage_options: dict[str, Any] | None = None
    ) -> ParquetColumns:
        """Read the footer (no rows); a missing or unreadable file is a :class:`SourceError`."""
        import pyarrow.parquet as pq

        where, filesystem = _locate(str(path), storage_options or {})
        try:
            schema = pq.read_schema(where, filesystem=filesystem)
            strings = tuple(n for n in dictionary if n in schema.names and is_text(schema.field(n).type))
            file = pq.ParquetFile(where, read_dictionary=strings, pre_buffer=False, filesystem=filesystem)
            return cls(where, file, schema, strings, filesystem)
        except Exception as exc:  # noqa: BLE001 - pyarrow's errors vary by corruption
            raise SourceError(f"cannot read {path}: {exc}") from None

    def reader(self) -> ParquetColumns:
        """Another reader of the same file (one per thread), reusing the footer already read."""
        import pyarrow.parquet as pq

        file = pq.ParquetFile(self.path, metadata=self.file.metadata, read_dictionary=self.dictionary,
                              pre_buffer=False, filesystem=self.filesystem)
        return ParquetColumns(self.path, file, self.schema, self.dictionary, self.filesystem)

    @property
    def rows(self) -> int:
        return int(self.file.metadata.num_rows)

    @property
    def columns(self) -> list[str]:
        """Column names as ``pd.read_parquet`` shows them (the stored pandas index left out)."""
        meta = self.schema.pandas_metadata or {}
        index = {c for c in meta.get("index_columns", []) if isinstance(c, str)}
        return [n for n in self.schema.names if n not in index]

    def pandas_dtypes(self) -> dict[str, str]:
        """The dtype ``pd.read_parquet`` would give each column (recorded in the schema)."""
        empty = self.schema.empty_table().to_pandas()
        return {str(name): str(dtype) for name, dtype in empty.dtypes.items()}

    def batches(self, name: str, batch_rows: int | None = None) -> Iterator[pa.Array]:
        """The column ``name`` record batch by record batch."""
        for batch in self.file.iter_batches(batch_size=batch_rows or DEFAULT_BATCH_ROWS, columns=[name]):
            yield batch.column(0)

    def column(self, name: str) -> pa.ChunkedArray:
        """The whole column ``name``."""
        return self.file.read(columns=[name]).column(0)


def _locate(url: str, options: dict[str, Any]) -> tuple[str, Any]:
    """A local path as it is (Arrow reads it natively), a URL as its location and filesystem."""
    if "://" not in url:
        if not Path(url).exists():
            raise SourceNotFoundError(f"{url} does not exist")
        return url, None
    fs, location = url_to_fs(url, options)
    try:
        found = fs.isfile(location)
    except Exception as exc:  # noqa: BLE001 - permission, network, credentials
        raise SourceError(f"cannot open {url}: {type(exc).__name__}: {exc}") from None
    if not found:
        raise SourceNotFoundError(f"{url} does not exist")
    return location, arrow_filesystem(fs)


def is_number(kind: pa.DataType) -> bool:
    """Integers, floats, booleans, decimals and all-null columns: read as float64."""
    import pyarrow as pa

    return bool(
        pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_boolean(kind)
        or pa.types.is_decimal(kind) or pa.types.is_null(kind)
    )


def is_string(kind: pa.DataType) -> bool:
    import pyarrow as pa

    return bool(pa.types.is_string(kind) or pa.types.is_large_string(kind))


def is_dictionary_of_strings(kind: pa.DataType) -> bool:
    import pyarrow as pa

    return bool(pa.types.is_dictionary(kind) and is_string(kind.value_type))


def is_text(kind: pa.DataType) -> bool:
    """Strings, plain or dictionary-encoded."""
    return is_string(kind) or is_dictionary_of_strings(kind)
