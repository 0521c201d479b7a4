"""Fit and profile Parquet files without loading them whole.

Parquet is columnar, so both passes go one column at a time and, within a column, one record
batch at a time (:class:`conveyor.data.parquet.ParquetColumns` reads them): memory stays at one
batch of one column whatever the file size. Each batch is profiled with the same functions as a
pandas frame and the batch profiles are merged (:mod:`conveyor.profiles.merge`), so the result
equals ``profiler.profile(pd.read_parquet(path))``: same counts, missing and invalid values,
vocabulary and extremes; moments up to rounding. Fitting reads each numeric column whole
(exact quantiles need every value: 8 bytes a row).

Numbers, booleans and strings are read with pyarrow directly; columns of other types (dates,
strings in a numeric column) go through pandas batch by batch, so every odd case keeps the
frame path's meaning.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from conveyor.core.errors import SourceError
from conveyor.data.parquet import ParquetColumns, is_number, is_text
from conveyor.profiles.merge import merge_columns
from conveyor.profiles.profile import (
    CategoricalProfile,
    ColumnProfile,
    ColumnSchema,
    DatasetProfile,
    NumericProfile,
    categorical_profile,
    category_name,
    numeric_profile,
    smallest,
)
from conveyor.profiles.profiler import Profiler, category_counts, numeric_values, profile_numeric

if TYPE_CHECKING:
    import pyarrow as pa


def fit_parquet(
    profiler: Profiler,
    path: str | Path,
    *,
    batch_rows: int | None = None,
    storage_options: dict[str, Any] | None = None,
) -> Profiler:
    """Fit ``profiler`` on the file (a local path or an fsspec URL): edges from each numeric
    column read whole, the vocabulary from category counts summed over batches."""
    file = ParquetColumns.open(path, profiler.categorical, storage_options)
    dtypes = file.pandas_dtypes()
    lacking = [n for n in [*profiler.numeric, *profiler.categorical] if n not in dtypes]
    if lacking:
        raise SourceError(f"cannot fit on {path}: column(s) {lacking} are not in the file")
    schema: dict[str, ColumnSchema] = _fit_numeric(profiler, file, dtypes)
    for name in profiler.categorical:
        counts: dict[str, int] = {}
        for batch in file.batches(name, batch_rows):
            for key, value in _arrow_category_counts(batch).items():
                counts[key] = counts.get(key, 0) + value
        schema[name] = profiler.categorical_schema(name, counts, dtypes[name])
    profiler.schema_ = schema
    return profiler


def _fit_numeric(profiler: Profiler, file: ParquetColumns, dtypes: dict[str, str]) -> dict[str, ColumnSchema]:
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
    storage_options: dict[str, Any] | None = None,
) -> DatasetProfile:
    """Profile the file with a fitted ``profiler``, batch by batch (see the module docstring)."""
    if profiler.schema_ is None:
        raise RuntimeError("call fit() before profile()")
    categorical = [n for n, c in profiler.schema_.items() if c.kind == "categorical"]
    file = ParquetColumns.open(path, categorical, storage_options)
    present = file.columns
    wanted = [(name, col) for name, col in profiler.schema_.items() if name in present]

    def profile_column(item: tuple[str, ColumnSchema]) -> ColumnProfile:
        name, col = item
        batches = file.reader().batches(name, batch_rows)  # a reader per thread
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
        rows=file.rows,
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
    if not is_number(batch.type):
        return profile_numeric(batch.to_pandas(), edges)
    values = _floats(batch)
    invalid = np.isinf(values)
    missing = int(np.count_nonzero(np.isnan(values)))
    examples: list[str] = []
    if invalid.any():  # as the frame path: +-inf cannot be binned, counted as invalid
        examples = list(dict.fromkeys(category_name(v) for v in values[invalid].tolist()))[:3]
        values = np.where(invalid, np.nan, values)
    return numeric_profile(values, missing, int(invalid.sum()), edges, examples=examples)


def _finite(batch: pa.Array) -> np.ndarray:
    """The finite numbers of a batch, in order (what the frame path samples from)."""
    if is_number(batch.type):
        values = _floats(batch)
    else:
        import pandas as pd

        values = pd.to_numeric(batch.to_pandas(), errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    return np.asarray(values[np.isfinite(values)])


def _keep_smallest(keys: np.ndarray, values: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    chosen = smallest(keys, k)
    return keys[chosen], values[chosen]


def _arrow_category_counts(batch: pa.Array) -> dict[str, int]:
    """Counts per category as strings, nulls and NaN left out (they count as missing)."""
    import pyarrow.compute as pc

    if not (is_number(batch.type) or is_text(batch.type)):
        return category_counts(batch.to_pandas())
    counted = pc.value_counts(batch)  # on dictionary arrays: the indices, not the strings
    out: dict[str, int] = {}
    for key, value in zip(counted.field("values").to_pylist(), counted.field("counts").to_pylist()):
        if key is None or (isinstance(key, float) and np.isnan(key)):
            continue
        name = category_name(key)
        out[name] = out.get(name, 0) + int(value)
    return out


def _numeric_column(file: ParquetColumns, name: str) -> np.ndarray:
    """The whole column as floats (NaN where missing or not a finite number)."""
    column = file.column(name)
    if is_number(column.type):
        values = _floats(column)
        return np.where(np.isinf(values), np.nan, values)
    return numeric_values(column.to_pandas())[0]


def _floats(array: pa.Array | pa.ChunkedArray) -> np.ndarray:
    import pyarrow as pa

    return np.asarray(array.cast(pa.float64()).to_numpy(zero_copy_only=False), dtype=float)
