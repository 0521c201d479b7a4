"""One data source: a file, a folder or a glob of CSV or Parquet, local or any fsspec URL with
storage options, read as Arrow record batches (only the columns asked for) or as a frame.

Training (``data.train``), batch scoring (``conveyor predict --input``), monitoring
(``conveyor monitor --data``) and the captured-traffic reader all open their data here.
A folder means every CSV/Parquet file under it (names starting with ``_`` or ``.`` are
metadata, as Spark and Hadoop write them); files are sorted so part numbers are stable. A
folder that is a conveyor batch output means the parts its manifest lists
(:mod:`conveyor.data.output`).
"""

from __future__ import annotations

import hashlib
import json
import posixpath
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from conveyor.core.errors import SourceError, SourceNotFoundError
from conveyor.core.output import MANIFEST
from conveyor.data.output import committed_files, marked_in, marked_on, refuse_outputs_within

if TYPE_CHECKING:
    import fsspec
    import pandas as pd
    import pyarrow as pa
    import pyarrow.dataset as ds

    from conveyor.data.read_ahead import ReadAhead

Format = Literal["csv", "parquet"]
SUFFIXES: dict[str, Format] = {
    ".parquet": "parquet", ".pq": "parquet", ".csv": "csv", ".csv.gz": "csv",
}
GLOB_CHARS = "*?["
READ_BUFFER = 1 << 20  # stream column chunks in 1 MiB reads instead of holding whole chunks


@dataclass(frozen=True)
class RowGroup:
    """One Parquet row group and where its rows sit in the whole input."""

    path: str
    index: int
    first_row: int
    rows: int


@dataclass(frozen=True)
class SourcePart:
    """One file of a source, or some of its Parquet row groups: what one distributed task
    reads (:meth:`Source.parts` plans them, :meth:`Source.frames` reads one)."""

    index: int
    path: str
    row_groups: tuple[int, ...] = ()
    rows: int | None = None  # known from the Parquet footers; None for CSV


@dataclass
class Source:
    """Resolved files (sorted, so part numbers are stable) and how to read them; open one
    with :func:`open_source`."""

    url: str
    files: list[str]
    format: Format
    storage_options: dict[str, Any] = field(default_factory=dict)
    text_columns: list[str] = field(default_factory=list)  # CSV: read as strings, coerced per row
    _footers: tuple[list[RowGroup] | None] | None = field(default=None, repr=False, compare=False)
    _schema: pa.Schema | None = field(default=None, repr=False, compare=False)
    _ahead: ReadAhead | None = field(default=None, repr=False, compare=False)  # see read_ahead()

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_ahead": None}  # a reading thread stays in its process

    def read_ahead(self, batch_rows: int, depth: int = 2) -> None:
        """Start reading every column of this Parquet source in a thread, ``depth`` batches
        ahead (:mod:`conveyor.data.read_ahead`); the next :meth:`frames` with the same
        ``batch_rows`` takes its batches from there."""
        from conveyor.data.read_ahead import ReadAhead

        if self.format == "parquet" and self._ahead is None:
            self._ahead = ReadAhead(self, batch_rows, depth)

    def close(self) -> None:
        """Stop a read-ahead nothing took (a command that failed before reading)."""
        if self._ahead is not None:
            self._ahead.close()
            self._ahead = None

    @property
    def filesystem(self) -> fsspec.AbstractFileSystem:
        return url_to_fs(self.url, self.storage_options)[0]

    def dataset(self) -> ds.Dataset:
        import pyarrow.dataset as ds

        try:
            return ds.dataset(self.files, format=self._format(), filesystem=self._arrow_fs())
        except Exception as exc:  # noqa: BLE001 - pyarrow's many error types, one message
            raise SourceError(f"cannot read {self.url}: {exc}") from None

    def schema(self) -> pa.Schema:
        """The first file's schema (footer or CSV header; read once)."""
        if self._schema is None:
            self._schema = self.dataset().schema
        return self._schema

    @property
    def columns(self) -> list[str]:
        """Data column names as pandas shows them (a stored pandas index left out)."""
        schema = self.schema()
        meta = schema.pandas_metadata or {}
        index = {c for c in meta.get("index_columns", []) if isinstance(c, str)}
        return [n for n in schema.names if n not in index]

    def file_schemas(self, limit: int = 1000) -> list[tuple[str, pa.Schema]]:
        """Every Parquet file's own schema (footers only); CSV files share the dataset's."""
        if self.format != "parquet":
            return [(self.url, self.schema())]
        import pyarrow.parquet as pq

        fs = self.filesystem
        out = []
        for path in self.files[:limit]:
            try:
                with fs.open(path, "rb") as handle:
                    out.append((path, pq.read_schema(handle)))
            except Exception as exc:  # noqa: BLE001
                raise SourceError(f"cannot read {path}: {exc}") from None
        return out

    def total_rows(self) -> int | None:
        """Row count from Parquet footers; None for CSV (unknown until read)."""
        if self.format != "parquet":
            return None
        groups = self.row_groups()
        if groups is not None:
            return sum(g.rows for g in groups)
        try:
            return int(self.dataset().count_rows())
        except Exception:  # noqa: BLE001 - only used for progress and worker count
            return None

    def fingerprint(self) -> dict[str, Any]:
        """Identity of the input from file names, sizes and modification stamps (not contents)."""
        fs = self.filesystem
        entries = []
        for path in self.files:
            info = fs.info(path)
            stamp = info.get("ETag") or info.get("mtime") or info.get("LastModified") or info.get("created")
            entries.append([path, int(info.get("size") or 0), str(stamp)])
        digest = hashlib.sha256(json.dumps(entries, sort_keys=True).encode()).hexdigest()
        return {"sha256": digest, "files": len(entries), "bytes": sum(e[1] for e in entries)}

    def digest(self) -> str:
        """SHA-256 of the contents: of the bytes of a single file, else of every file's path
        (relative to the folder the files share) and bytes, in file order."""
        fs, digest = self.filesystem, hashlib.sha256()
        shared = posixpath.commonpath(self.files) if len(self.files) > 1 else ""
        try:
            for path in self.files:
                if shared:
                    digest.update(posixpath.relpath(path, shared).encode() + b"\0")
                with fs.open(path, "rb") as handle:
                    for block in iter(lambda: handle.read(READ_BUFFER), b""):
                        digest.update(block)
        except Exception as exc:  # noqa: BLE001 - permission, network, credentials
            raise SourceError(f"cannot read {self.url}: {type(exc).__name__}: {exc}") from None
        return digest.hexdigest()

    def frame(self, columns: Sequence[str] | None = None) -> pd.DataFrame:
        """The whole source as one frame (``columns=None``: all), read by pandas' own readers so
        types are what ``pd.read_parquet`` / ``pd.read_csv`` give; files with differing columns
        are concatenated (missing values where a file lacks a column)."""
        import pandas as pd

        fs, names = self.filesystem, None if columns is None else list(columns)
        frames = []
        for path in self.files:
            try:
                with fs.open(path, "rb") as handle:
                    if self.format == "parquet":
                        frames.append(pd.read_parquet(handle, columns=names))
                    else:
                        frames.append(pd.read_csv(handle, usecols=names, compression=_compression(path)))
            except Exception as exc:  # noqa: BLE001 - reader errors vary by format and filesystem
                raise SourceError(f"cannot read {path} as {self.format}: {exc}") from None
        return frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)

    def frames(
        self, columns: Sequence[str], batch_rows: int, *, part: SourcePart | None = None
    ) -> Iterator[pd.DataFrame]:
        """``columns`` as frames of at most ``batch_rows`` rows, file after file (one empty
        frame when there are no rows): memory holds one record batch, never the whole source.
        With ``part``, only its file (and row groups), typed like the whole source."""
        import pyarrow as pa

        ahead, self._ahead = self._ahead, None
        if ahead is not None and part is None and ahead.serves(columns, batch_rows):
            yield from ahead.frames(columns)
            return
        if ahead is not None:
            ahead.close()
        empty = True
        for table in self._tables(list(columns), batch_rows, part):
            empty = False
            yield table.to_pandas()
        if empty:
            schema = self.schema()
            fields = [schema.field(n) for n in columns]
            yield pa.Table.from_batches([], schema=pa.schema(fields, metadata=schema.metadata)).to_pandas()

    def _tables(self, columns: list[str], batch_rows: int, part: SourcePart | None = None) -> Iterator[pa.Table]:
        """One table per record batch, carrying its file's schema metadata (pandas types)."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        if self.format != "parquet":
            dataset = self.dataset() if part is None else self.part_source(part).dataset()
            scanner = dataset.scanner(columns=columns, batch_size=batch_rows)
            try:
                yield from (pa.Table.from_batches([b]) for b in scanner.to_batches() if b.num_rows)
            except (pa.ArrowInvalid, pa.ArrowTypeError, OSError) as exc:
                raise SourceError(f"cannot read {self.url}: {exc}") from None
            return
        fs, first = self.filesystem, self.schema()
        lacking = [c for c in columns if c not in first.names]
        if lacking:
            raise SourceError(f"{self.url} has no column(s) {lacking}")
        for path in self.files if part is None else [part.path]:
            try:
                with fs.open(path, "rb") as handle:
                    file = pq.ParquetFile(handle, pre_buffer=False)
                    metadata, names = file.schema_arrow.metadata, file.schema_arrow.names
                    present = [c for c in columns if c in names]
                    groups = None if part is None else list(part.row_groups)
                    for batch in file.iter_batches(batch_size=batch_rows, row_groups=groups, columns=present):
                        table = pa.Table.from_batches([batch])
                        if len(present) < len(columns):  # a part written without the column
                            table = _with_nulls(table, columns, first)
                        yield table.replace_schema_metadata(metadata)
            except Exception as exc:  # noqa: BLE001 - a corrupt row group shows only when read
                raise SourceError(f"cannot read {path}: {exc}") from None

    def parts(self, rows_per_part: int) -> list[SourcePart]:
        """Parts for distributed tasks, in file order: consecutive row groups of one Parquet
        file up to ``rows_per_part`` rows (a bigger row group is one part); a CSV file whole."""
        if self.format != "parquet":
            return [SourcePart(i, path) for i, path in enumerate(self.files)]
        parts: list[SourcePart] = []
        for path in self.files:
            meta = _footer(self.filesystem, path)
            groups: list[int] = []
            rows = 0
            for index in range(meta.num_row_groups):
                count = meta.row_group(index).num_rows
                if groups and rows + count > rows_per_part:
                    parts.append(SourcePart(len(parts), path, tuple(groups), rows))
                    groups, rows = [], 0
                groups.append(index)
                rows += count
            if groups:
                parts.append(SourcePart(len(parts), path, tuple(groups), rows))
        return parts

    def part_source(self, part: SourcePart) -> Source:
        """The source of one part's file alone (CSV parts are read whole through it)."""
        return Source(self.url, [part.path], self.format, self.storage_options, self.text_columns)

    def batches(self, batch_size: int) -> Iterator[pa.Table]:
        """Tables of exactly ``batch_size`` rows (the last may be shorter), in file order."""
        import pyarrow as pa

        scanner = self.dataset().scanner(batch_size=batch_size, batch_readahead=4, fragment_readahead=2)
        try:
            yield from rebatch(scanner.to_batches(), batch_size)
        except (pa.ArrowInvalid, pa.ArrowTypeError, OSError) as exc:
            raise SourceError(f"reading {self.url} failed: {exc}") from None

    def row_groups(self) -> list[RowGroup] | None:
        """Every row group in file order (footers only, read once); None for CSV or files whose
        schemas differ."""
        if self._footers is None:
            self._footers = (self._read_row_groups(),)
        return self._footers[0]

    def _read_row_groups(self) -> list[RowGroup] | None:
        if self.format != "parquet":
            return None
        fs, groups, schema, first_row = self.filesystem, [], None, 0
        for path in self.files:
            meta = _footer(fs, path)
            file_schema = meta.schema.to_arrow_schema()
            if schema is not None and not file_schema.equals(schema):
                return None
            schema = file_schema
            for index in range(meta.num_row_groups):
                rows = meta.row_group(index).num_rows
                if rows:
                    groups.append(RowGroup(path, index, first_row, rows))
                    first_row += rows
        return groups

    def read_rows(
        self, groups: Sequence[RowGroup], start: int, stop: int, batch_size: int, columns: Sequence[str] | None
    ) -> Iterator[pa.Table]:
        """Rows ``[start, stop)`` of the whole input as tables of ``batch_size`` rows (the last may
        be shorter), streamed from the row groups that hold them; ``columns=None`` reads all."""
        yield from rebatch(self._stream(groups, start, stop, batch_size, columns), batch_size)

    def _stream(
        self, groups: Sequence[RowGroup], start: int, stop: int, batch_size: int, columns: Sequence[str] | None
    ) -> Iterator[pa.RecordBatch]:
        """Record batches cut to ``[start, stop)``, one file at a time (rows before ``start`` in
        its first row group are decoded and dropped)."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        wanted = [g for g in groups if g.first_row < stop and g.first_row + g.rows > start]
        fs = self.filesystem
        try:
            for path in dict.fromkeys(g.path for g in wanted):
                in_file = [g for g in wanted if g.path == path]
                position = in_file[0].first_row
                with fs.open(path, "rb") as handle:
                    reader = pq.ParquetFile(handle, buffer_size=READ_BUFFER)
                    names = None if columns is None else list(columns)
                    # one thread: each worker process is one core's worth of work already
                    batches = reader.iter_batches(batch_size, [g.index for g in in_file], names, use_threads=False)
                    for batch in batches:
                        low, high = max(start - position, 0), min(stop - position, batch.num_rows)
                        position += batch.num_rows
                        if high > low:
                            yield batch.slice(low, high - low)
                        if position >= stop:
                            return
        except (pa.ArrowInvalid, pa.ArrowTypeError, OSError) as exc:
            raise SourceError(f"reading {self.url} failed: {exc}") from None

    def _format(self) -> Any:
        import pyarrow.dataset as ds

        if self.format == "parquet":
            return ds.ParquetFileFormat()
        import pyarrow as pa
        from pyarrow import csv

        types = {name: pa.string() for name in self.text_columns}
        return ds.CsvFileFormat(convert_options=csv.ConvertOptions(column_types=types, strings_can_be_null=True))

    def _arrow_fs(self) -> Any:
        return arrow_filesystem(self.filesystem)


def _footer(fs: fsspec.AbstractFileSystem, path: str) -> Any:
    """The metadata of one Parquet file (its footer)."""
    import pyarrow.parquet as pq

    try:
        with fs.open(path, "rb") as handle:
            return pq.ParquetFile(handle).metadata
    except Exception as exc:  # noqa: BLE001 - a file that is not Parquet, a lost object
        raise SourceError(f"cannot read {path}: {exc}") from None


def _with_nulls(table: pa.Table, columns: list[str], schema: pa.Schema) -> pa.Table:
    """``table`` with ``columns`` in order, the ones it lacks as nulls of the source's type."""
    import pyarrow as pa

    arrays = [table.column(c) if c in table.column_names else pa.nulls(table.num_rows, schema.field(c).type)
              for c in columns]
    return pa.table(arrays, names=columns)


def open_source(
    url: str,
    *,
    format: Format | None = None,
    storage_options: dict[str, Any] | None = None,
    text_columns: Sequence[str] = (),
) -> Source:
    """Resolve ``url`` (a file, a folder or a glob; local or any fsspec URL) to its files.

    ``format`` is told by the file names unless given; ``text_columns``: CSV columns read as
    strings (the caller coerces them). Raises :class:`SourceNotFoundError` when nothing is
    there and :class:`SourceError` when it cannot be listed or holds no data."""
    options = dict(storage_options or {})
    fs, path = url_to_fs(url, options)
    files = _discover(fs, path, url)
    fmt = format or _detect_format(files, url)
    files = [f for f in files if format is None or _suffix_format(f) in (fmt, None)]
    if not files:
        raise SourceError(f"no {fmt} files in {url}")
    return Source(url, files, fmt, options, list(text_columns))


def open_output(url: str, *, storage_options: dict[str, Any] | None = None) -> Source:
    """A committed batch output folder as a source of exactly the parts its manifest lists.

    Raises :class:`SourceNotFoundError` when nothing is there, :class:`UncommittedOutputError`
    while (or after a kill) the output is being written, and :class:`SourceError` for a
    folder that is no conveyor output."""
    options = dict(storage_options or {})
    fs, path = url_to_fs(url, options)
    root = path.rstrip("/")
    try:
        listing = set(fs.find(root)) if fs.isdir(root) else set()
    except Exception as exc:  # noqa: BLE001 - permission, network, credentials
        raise SourceError(f"cannot list {url}: {type(exc).__name__}: {exc}") from None
    if not listing:
        raise SourceNotFoundError(f"{url} does not exist or is empty")
    files = committed_files(fs, root, url, listing)
    if files is None:
        raise SourceError(f"{url} is not a conveyor batch output (no {MANIFEST})")
    if not files:
        raise SourceError(f"the batch output {url} holds no parts")
    return Source(url, files, "parquet", options)


def _compression(path: str) -> Literal["gzip"] | None:
    return "gzip" if path.lower().endswith(".gz") else None


def url_to_fs(url: str, options: dict[str, Any]) -> tuple[fsspec.AbstractFileSystem, str]:
    """fsspec's filesystem and path for ``url``; a missing driver or bad option is a SourceError."""
    import fsspec

    try:
        fs, path = fsspec.core.url_to_fs(url, **options)
        return fs, str(path)
    except ImportError as exc:
        raise SourceError(f"no filesystem for {url}: {exc}", hint="pip install 'conveyor[s3]'") from None
    except Exception as exc:  # noqa: BLE001
        raise SourceError(f"cannot open {url}: {exc}") from None


def _discover(fs: fsspec.AbstractFileSystem, path: str, url: str) -> list[str]:
    """The files of ``url``; a committed batch output folder is the parts its manifest lists,
    and a folder or glob that takes in a batch output (or one being committed) is refused."""
    try:
        if any(ch in path for ch in GLOB_CHARS):
            found = [p for p in fs.glob(path) if fs.isfile(p)]
            if not found:
                raise SourceNotFoundError(f"no files match {url}")
            refuse_outputs_within(url, "", found, marked_on(fs))
        elif fs.isdir(path):
            root = path.rstrip("/")
            listing = set(fs.find(root))
            committed = committed_files(fs, root, url, listing)
            if committed is not None:
                return committed
            found = [p for p in listing if not _hidden(p[len(root):])]
            refuse_outputs_within(url, root, found, marked_in(listing))
        elif fs.isfile(path):
            found = [path]
        else:
            raise SourceNotFoundError(f"{url} does not exist")
    except SourceError:
        raise
    except Exception as exc:  # noqa: BLE001 - permission, network, credentials
        raise SourceError(f"cannot list {url}: {type(exc).__name__}: {exc}") from None
    files = sorted(p for p in found if _suffix_format(p) is not None or not any(ch in path for ch in GLOB_CHARS))
    if not files:
        raise SourceError(f"{url} holds no CSV or Parquet files")
    return files


def _hidden(relative: str) -> bool:
    """Spark/Hadoop convention: names starting with '_' or '.' are metadata, not data."""
    return any(part.startswith(("_", ".")) for part in relative.split("/") if part)


def _suffix_format(path: str) -> Format | None:
    name = path.rsplit("/", 1)[-1].lower()
    for suffix, fmt in SUFFIXES.items():
        if name.endswith(suffix):
            return fmt
    return None


def _detect_format(files: list[str], url: str) -> Format:
    formats = {_suffix_format(f) for f in files} - {None}
    if len(formats) == 1:
        return formats.pop()  # type: ignore[return-value]
    if not formats:
        raise SourceError(f"cannot tell the format of {url}", hint="name files .csv or .parquet, or set the format")
    raise SourceError(f"{url} mixes CSV and Parquet files", hint="point at one format, or set the format")


def arrow_filesystem(fs: fsspec.AbstractFileSystem) -> Any:
    """The pyarrow filesystem for an fsspec one (Arrow's own for local files)."""
    from pyarrow.fs import FSSpecHandler, LocalFileSystem, PyFileSystem

    return LocalFileSystem() if _is_local(fs) else PyFileSystem(FSSpecHandler(fs))


def _is_local(fs: fsspec.AbstractFileSystem) -> bool:
    protocol = fs.protocol if isinstance(fs.protocol, str) else fs.protocol[0]
    return protocol in ("file", "local")


def rebatch(batches: Iterable[pa.RecordBatch], batch_size: int) -> Iterator[pa.Table]:
    """Regroup record batches into tables of exactly ``batch_size`` rows (the last may be shorter)."""
    import pyarrow as pa

    pending: list[pa.RecordBatch] = []
    buffered = 0
    for batch in batches:
        if batch.num_rows == 0:
            continue
        pending.append(batch)
        buffered += batch.num_rows
        while buffered >= batch_size:
            table = pa.Table.from_batches(pending)
            yield table.slice(0, batch_size)
            rest = table.slice(batch_size)
            pending, buffered = rest.to_batches(), rest.num_rows
    if buffered:
        yield pa.Table.from_batches(pending)
