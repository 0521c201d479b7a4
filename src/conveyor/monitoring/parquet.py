"""Fit and profile Parquet files without loading them whole.

Parquet is columnar, so both passes go one column at a time and, within a column, one record
batch at a time: memory stays at one batch of one column whatever the file size. Each batch
is profiled with the same functions as a pandas frame and the batch profiles are merged
(:mod:`conveyor.monitoring.merge`), so the result equals ``profiler.profile(pd.read_parquet(path))``:
same counts, missing and invalid values, vocabulary and extremes; moments up to rounding.
Fitting reads each numeric column whole (exact quantiles need every value: 8 bytes a row).

Numbers, booleans and strings are read with pyarrow directly; columns of other types (dates,
strings in a numeric column) go through pandas batch by batch, so every odd case keeps the
frame path's meaning.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from conveyor.core.errors import MonitorDataError
from conveyor.monitoring.merge import merge_columns
from conveyor.monitoring.profile import (
    CategoricalProfile,
    ColumnProfile,
    ColumnSchema,
    DatasetProfile,
    NumericProfile,
    Profiler,
    categorical_profile,
    category_counts,
    numeric_profile,
    numeric_values,
    profile_numeric,
    smallest,
)

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq

DEFAULT_BATCH_ROWS = 262_144


@dataclass
class ParquetSource:
    """A Parquet file (local path or fsspec URL) to read in record batches: its data columns
    and row count come from the footer, so opening it reads no rows."""

    source: str
    fs: Any
    location: str
    columns: list[str]
    rows: int

    @classmethod
    def open(cls, fs: Any, location: str, source: str) -> ParquetSource:
        """Read the footer; a file that is not Parquet is a MonitorDataError."""
        import pyarrow.parquet as pq

        try:
            with fs.open(location, "rb") as handle:
                file = pq.ParquetFile(handle)
                return cls(source, fs, location, data_columns(file), int(file.metadata.num_rows))
        except Exception as exc:  # noqa: BLE001 - pyarrow's errors vary by corruption
            raise MonitorDataError(f"cannot read {source}: {exc}") from None

    def frames(self, columns: list[str], batch_rows: int) -> Iterator[pd.DataFrame]:
        """``columns`` as frames of at most ``batch_rows`` rows (one empty frame for no rows)."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        try:
            with self.fs.open(self.location, "rb") as handle:
                file = pq.ParquetFile(handle, pre_buffer=False)
                schema = file.schema_arrow
                empty = True
                for batch in file.iter_batches(batch_size=batch_rows, columns=columns):
                    empty = False
                    table = pa.Table.from_batches([batch]).replace_schema_metadata(schema.metadata)
                    yield table.to_pandas()
                if empty:
                    yield pa.Table.from_batches([], schema=_select(schema, columns)).to_pandas()
        except MonitorDataError:
            raise
        except Exception as exc:  # noqa: BLE001 - a corrupt row group shows only when read
            raise MonitorDataError(f"cannot read {self.source}: {exc}") from None


def _select(schema: pa.Schema, columns: list[str]) -> pa.Schema:
    import pyarrow as pa

    return pa.schema([schema.field(n) for n in columns], metadata=schema.metadata)


def fit_parquet(profiler: Profiler, path: str | Path, *, batch_rows: int | None = None) -> Profiler:
    """Fit ``profiler`` on the file: edges from each numeric column read whole, the vocabulary
    from category counts summed over batches."""
    file = _open(path, profiler.categorical)
    dtypes = _pandas_dtypes(path)
    lacking = [n for n in [*profiler.numeric, *profiler.categorical] if n not in dtypes]
    if lacking:
        raise MonitorDataError(f"cannot fit on {path}: column(s) {lacking} are not in the file")
    schema: dict[str, ColumnSchema] = _fit_numeric(profiler, file, dtypes)
    for name in profiler.categorical:
        counts: dict[str, int] = {}
        for batch in _batches(file, name, batch_rows):
            for key, value in _arrow_category_counts(batch).items():
                counts[key] = counts.get(key, 0) + value
        schema[name] = profiler.categorical_schema(name, counts, dtypes[name])
    profiler.schema_ = schema
    return profiler


def _fit_numeric(profiler: Profiler, file: Any, dtypes: dict[str, str]) -> dict[str, ColumnSchema]:
    """Edges of every numeric column, one column per core at a time (numpy's partition runs
    without the GIL); columns are read in order and at most two per core are held at once."""
    workers = _threads()
    schema: dict[str, ColumnSchema] = {}
    pending: list[tuple[str, Future[ColumnSchema]]] = []
    with ThreadPoolExecutor(workers, thread_name_prefix="conveyor-fit") as pool:
        for name in profiler.numeric:
            if len(pending) >= 2 * workers:
                done_name, done = pending.pop(0)
                schema[done_name] = done.result()
            values = _numeric_column(file, name)
            pending.append((name, pool.submit(profiler.numeric_schema, name, values, dtypes[name])))
        for name, future in pending:
            schema[name] = future.result()
    return {name: schema[name] for name in profiler.numeric}


def _threads() -> int:
    return max(1, min(4, os.cpu_count() or 1))


def profile_parquet(
    profiler: Profiler,
    path: str | Path,
    *,
    sample: int = 0,
    seed: int = 0,
    batch_rows: int | None = None,
) -> DatasetProfile:
    """Profile the file with a fitted ``profiler``, batch by batch (see the module docstring)."""
    if profiler.schema_ is None:
        raise RuntimeError("call fit() before profile()")
    categorical = [n for n, c in profiler.schema_.items() if c.kind == "categorical"]
    file = _open(path, categorical)
    present = data_columns(file)
    wanted = [(name, col) for name, col in profiler.schema_.items() if name in present]

    def profile_column(item: tuple[str, ColumnSchema]) -> ColumnProfile:
        name, col = item
        batches = _batches(_open(path, categorical, like=file), name, batch_rows)  # a reader per thread
        if col.kind == "numeric":
            return _profile_numeric(batches, col.edges, sample, seed)
        return _profile_categorical(batches, col.categories)

    # one column per core at a time: Arrow decoding and numpy's array work run without the
    # GIL; each thread holds one record batch, so memory stays bounded by the batch size
    with ThreadPoolExecutor(_threads(), thread_name_prefix="conveyor-profile") as pool:
        columns = dict(zip([n for n, _ in wanted], pool.map(profile_column, wanted)))
    return DatasetProfile(
        schema=dict(profiler.schema_),
        columns=columns,
        rows=int(file.metadata.num_rows),
        absent=[n for n in profiler.schema_ if n not in present],
        unexpected=[n for n in present if n not in profiler.schema_],
    )


def _profile_numeric(
    batches: Iterator[pa.Array], edges: tuple[float, ...], sample: int, seed: int
) -> NumericProfile:
    """Merge of the batch profiles; the sample is drawn across batches from one key stream."""
    rng = np.random.default_rng(seed)
    merged: NumericProfile | None = None
    sample_keys, sample_values = np.empty(0), np.empty(0)
    for batch in batches:
        part = _numeric_batch(batch, edges)
        if sample:
            finite = _finite(batch)
            sample_keys, sample_values = _keep_smallest(
                np.concatenate([sample_keys, rng.random(len(finite))]),
                np.concatenate([sample_values, finite]),
                sample,
            )
        merged = part if merged is None else merge_columns(merged, part)  # type: ignore[assignment]
    if merged is None:
        merged = numeric_profile(np.empty(0), 0, 0, edges)
    if sample and len(sample_values):
        merged.sample = np.sort(sample_values)
    return merged


def _profile_categorical(batches: Iterator[pa.Array], categories: tuple[str, ...]) -> CategoricalProfile:
    merged: CategoricalProfile | None = None
    for batch in batches:
        part = categorical_profile(_arrow_category_counts(batch), len(batch), categories)
        merged = part if merged is None else merge_columns(merged, part)  # type: ignore[assignment]
    return merged if merged is not None else categorical_profile({}, 0, categories)


def _numeric_batch(batch: pa.Array, edges: tuple[float, ...]) -> NumericProfile:
    if not _is_number(batch.type):
        return profile_numeric(batch.to_pandas(), edges)
    values = _floats(batch)
    invalid = np.isinf(values)
    missing = int(np.count_nonzero(np.isnan(values)))
    examples: list[str] = []
    if invalid.any():  # as the frame path: +-inf cannot be binned, counted as invalid
        examples = list(dict.fromkeys(str(v) for v in values[invalid].tolist()))[:3]
        values = np.where(invalid, np.nan, values)
    return numeric_profile(values, missing, int(invalid.sum()), edges, examples=examples)


def _finite(batch: pa.Array) -> np.ndarray:
    """The finite numbers of a batch, in order (what the frame path samples from)."""
    if _is_number(batch.type):
        values = _floats(batch)
    else:
        import pandas as pd

        values = pd.to_numeric(batch.to_pandas(), errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    return values[np.isfinite(values)]


def _keep_smallest(keys: np.ndarray, values: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    chosen = smallest(keys, k)
    return keys[chosen], values[chosen]


def _arrow_category_counts(batch: pa.Array) -> dict[str, int]:
    """Counts per category as strings, nulls and NaN left out (they count as missing)."""
    import pyarrow.compute as pc

    if not (_is_number(batch.type) or _is_string(batch.type) or _is_dictionary_of_strings(batch.type)):
        return category_counts(batch.to_pandas())
    counted = pc.value_counts(batch)  # on dictionary arrays: the indices, not the strings
    out: dict[str, int] = {}
    for key, value in zip(counted.field("values").to_pylist(), counted.field("counts").to_pylist()):
        if key is None or (isinstance(key, float) and np.isnan(key)):
            continue
        name = str(key)
        out[name] = out.get(name, 0) + int(value)
    return out


def _open(path: str | Path, categorical: list[str], like: pq.ParquetFile | None = None) -> pq.ParquetFile:
    """The file, with string columns of ``categorical`` read dictionary-encoded (fast counts);
    ``like``: another reader of the same file (one per thread), reusing its footer."""
    import pyarrow.parquet as pq

    schema = pq.read_schema(path) if like is None else like.schema_arrow
    strings = [n for n in categorical if n in schema.names
               and (_is_string(schema.field(n).type) or _is_dictionary_of_strings(schema.field(n).type))]
    metadata = None if like is None else like.metadata
    return pq.ParquetFile(path, metadata=metadata, read_dictionary=strings, pre_buffer=False)


def _batches(file: pq.ParquetFile, name: str, batch_rows: int | None) -> Iterator[pa.Array]:
    """The column ``name`` batch by batch."""
    for batch in file.iter_batches(batch_size=batch_rows or DEFAULT_BATCH_ROWS, columns=[name]):
        yield batch.column(0)


def _numeric_column(file: pq.ParquetFile, name: str) -> np.ndarray:
    """The whole column as floats (NaN where missing or not a finite number)."""
    column = file.read(columns=[name]).column(0)
    if _is_number(column.type):
        values = _floats(column)
        return np.where(np.isinf(values), np.nan, values)
    return numeric_values(column.to_pandas())[0]


def _floats(array: pa.Array | pa.ChunkedArray) -> np.ndarray:
    import pyarrow as pa

    return np.asarray(array.cast(pa.float64()).to_numpy(zero_copy_only=False), dtype=float)


def _is_number(kind: pa.DataType) -> bool:
    import pyarrow as pa

    return bool(
        pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_boolean(kind)
        or pa.types.is_decimal(kind) or pa.types.is_null(kind)
    )


def _is_string(kind: pa.DataType) -> bool:
    import pyarrow as pa

    return bool(pa.types.is_string(kind) or pa.types.is_large_string(kind))


def _is_dictionary_of_strings(kind: pa.DataType) -> bool:
    import pyarrow as pa

    return bool(pa.types.is_dictionary(kind) and _is_string(kind.value_type))


def data_columns(file: pq.ParquetFile) -> list[str]:
    """Column names as ``pd.read_parquet`` shows them (the stored pandas index left out)."""
    meta = file.schema_arrow.pandas_metadata or {}
    index = {c for c in meta.get("index_columns", []) if isinstance(c, str)}
    return [n for n in file.schema_arrow.names if n not in index]


def _pandas_dtypes(path: str | Path) -> dict[str, str]:
    """The dtype ``pd.read_parquet`` would give each column (recorded in the schema)."""
    import pyarrow.parquet as pq

    empty = pq.read_schema(path).empty_table().to_pandas()
    return {str(name): str(dtype) for name, dtype in empty.dtypes.items()}
