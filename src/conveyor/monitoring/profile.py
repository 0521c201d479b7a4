"""Mergeable data profiles: fixed-edge histograms, category counts, missing counts, moments.

A :class:`Profiler` is fitted once on reference (training) data: that fixes the histogram
edges (training quantiles plus open outer bins) and the category vocabulary. Every profile
made with the same fitted profiler — of training data, of a day of captured traffic, of one
Spark partition — can be merged with :func:`conveyor.monitoring.merge.merge`, and merging
the profiles of N partitions gives the profile of the whole.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Literal, Union

import numpy as np

if TYPE_CHECKING:
    from pathlib import Path

    import pandas as pd

Kind = Literal["numeric", "categorical"]
Role = Literal["feature", "prediction", "target"]

PREDICTION = "__prediction__"  # predicted label (classification) or value (regression)
SCORE = "__score__"  # predicted probability of the positive class (binary classification)
DEFAULT_BINS = 50
DEFAULT_CATEGORY_CAP = 100
NEW_CATEGORY_CAP = 50
DEFAULT_SAMPLE = 1000
FORMAT_VERSION = 1


@dataclass(frozen=True)
class ColumnSchema:
    """How one column is profiled: its kind and role, and the fixed edges or vocabulary."""

    name: str
    kind: Kind
    role: Role = "feature"
    edges: tuple[float, ...] = ()
    categories: tuple[str, ...] = ()
    dtype: str = ""

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "kind": self.kind, "role": self.role, "dtype": self.dtype}
        if self.kind == "numeric":
            out["edges"] = list(self.edges)
        else:
            out["categories"] = list(self.categories)
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ColumnSchema:
        return cls(
            name=data["name"],
            kind=data["kind"],
            role=data.get("role", "feature"),
            edges=tuple(float(e) for e in data.get("edges", ())),
            categories=tuple(str(c) for c in data.get("categories", ())),
            dtype=data.get("dtype", ""),
        )


@dataclass
class NumericProfile:
    """Histogram over fixed edges (bin 0 below the first edge, the last bin above the last
    edge), counts of missing and non-numeric values, and mergeable moments."""

    counts: np.ndarray
    count: int = 0
    missing: int = 0
    invalid: int = 0
    mean: float = 0.0
    m2: float = 0.0
    minimum: float | None = None
    maximum: float | None = None
    invalid_examples: list[str] = field(default_factory=list)
    sample: np.ndarray | None = None  # a small reference sample (baseline only; not merged)

    @property
    def rows(self) -> int:
        return self.count + self.missing + self.invalid

    @property
    def std(self) -> float:
        return float(np.sqrt(self.m2 / self.count)) if self.count > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        out = {
            "counts": self.counts.tolist(),
            "count": self.count,
            "missing": self.missing,
            "invalid": self.invalid,
            "mean": self.mean,
            "m2": self.m2,
            "min": self.minimum,
            "max": self.maximum,
            "invalid_examples": self.invalid_examples,
        }
        if self.sample is not None:
            out["sample"] = self.sample.tolist()
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> NumericProfile:
        sample = data.get("sample")
        return cls(
            counts=np.asarray(data["counts"], dtype=np.int64),
            count=int(data["count"]),
            missing=int(data["missing"]),
            invalid=int(data.get("invalid", 0)),
            mean=float(data["mean"]),
            m2=float(data["m2"]),
            minimum=None if data.get("min") is None else float(data["min"]),
            maximum=None if data.get("max") is None else float(data["max"]),
            invalid_examples=list(data.get("invalid_examples", [])),
            sample=None if sample is None else np.asarray(sample, dtype=float),
        )


@dataclass
class CategoricalProfile:
    """Counts of the vocabulary's categories, of unseen categories by name (the
    lexicographically first ``NEW_CATEGORY_CAP``; the rest in ``other``), and missing values."""

    counts: dict[str, int]
    new: dict[str, int] = field(default_factory=dict)
    other: int = 0
    missing: int = 0

    @property
    def count(self) -> int:
        return sum(self.counts.values()) + sum(self.new.values()) + self.other

    @property
    def rows(self) -> int:
        return self.count + self.missing

    def to_dict(self) -> dict[str, Any]:
        return {"counts": self.counts, "new": self.new, "other": self.other, "missing": self.missing}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CategoricalProfile:
        return cls(
            counts={str(k): int(v) for k, v in data["counts"].items()},
            new={str(k): int(v) for k, v in data.get("new", {}).items()},
            other=int(data.get("other", 0)),
            missing=int(data.get("missing", 0)),
        )


ColumnProfile = Union[NumericProfile, CategoricalProfile]


@dataclass
class DatasetProfile:
    """Profiles of every schema column of one dataset, plus optional test metrics."""

    schema: dict[str, ColumnSchema]
    columns: dict[str, ColumnProfile]
    rows: int
    absent: list[str] = field(default_factory=list)  # schema columns missing from the data
    unexpected: list[str] = field(default_factory=list)  # data columns not in the schema
    metrics: dict[str, float] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)

    def names(self, role: Role = "feature") -> list[str]:
        return [name for name, col in self.schema.items() if col.role == role]

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": FORMAT_VERSION,
            "rows": self.rows,
            "schema": [col.to_dict() for col in self.schema.values()],
            "columns": {name: prof.to_dict() for name, prof in self.columns.items()},
            "absent": self.absent,
            "unexpected": self.unexpected,
            "metrics": self.metrics,
            "meta": self.meta,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DatasetProfile:
        schema = {c["name"]: ColumnSchema.from_dict(c) for c in data["schema"]}
        columns: dict[str, ColumnProfile] = {}
        for name, prof in data["columns"].items():
            kind = schema[name].kind
            columns[name] = (
                NumericProfile.from_dict(prof) if kind == "numeric" else CategoricalProfile.from_dict(prof)
            )
        return cls(
            schema=schema,
            columns=columns,
            rows=int(data["rows"]),
            absent=list(data.get("absent", [])),
            unexpected=list(data.get("unexpected", [])),
            metrics={k: float(v) for k, v in data.get("metrics", {}).items()},
            meta=dict(data.get("meta", {})),
        )


class Profiler:
    """Fit edges and vocabularies on reference data, then profile any frame the same way.

    Parameters are fixed in ``__init__``; the fitted schema is ``schema_``.
    """

    def __init__(
        self,
        numeric: list[str],
        categorical: list[str],
        *,
        roles: dict[str, Role] | None = None,
        bins: int = DEFAULT_BINS,
        category_cap: int = DEFAULT_CATEGORY_CAP,
    ) -> None:
        self.numeric = list(numeric)
        self.categorical = list(categorical)
        self.roles = dict(roles or {})
        self.bins = bins
        self.category_cap = category_cap
        self.schema_: dict[str, ColumnSchema] | None = None

    @classmethod
    def from_schema(cls, schema: dict[str, ColumnSchema]) -> Profiler:
        profiler = cls(
            [c.name for c in schema.values() if c.kind == "numeric"],
            [c.name for c in schema.values() if c.kind == "categorical"],
            roles={c.name: c.role for c in schema.values()},
        )
        profiler.schema_ = dict(schema)
        return profiler

    def fit(self, frame: pd.DataFrame) -> Profiler:
        schema: dict[str, ColumnSchema] = {}
        for name in self.numeric:
            values, _, _ = numeric_values(frame[name])
            schema[name] = self.numeric_schema(name, values, str(frame[name].dtype))
        for name in self.categorical:
            schema[name] = self.categorical_schema(name, category_counts(frame[name]), str(frame[name].dtype))
        self.schema_ = schema
        return self

    def fit_parquet(self, path: str | Path, *, batch_rows: int | None = None) -> Profiler:
        """Fit on a Parquet file read one column at a time (see :mod:`.parquet`)."""
        from conveyor.monitoring.parquet import fit_parquet

        return fit_parquet(self, path, batch_rows=batch_rows)

    def profile_parquet(
        self, path: str | Path, *, sample: int = 0, seed: int = 0, batch_rows: int | None = None
    ) -> DatasetProfile:
        """Profile a Parquet file by record batches, without loading it whole."""
        from conveyor.monitoring.parquet import profile_parquet

        return profile_parquet(self, path, sample=sample, seed=seed, batch_rows=batch_rows)

    def numeric_schema(self, name: str, values: np.ndarray, dtype: str) -> ColumnSchema:
        """Schema of a numeric column: edges at the quantiles of its finite ``values``."""
        edges = fit_edges(values, self.bins)
        return ColumnSchema(name, "numeric", self.roles.get(name, "feature"), edges=edges, dtype=dtype)

    def categorical_schema(self, name: str, counts: dict[str, int], dtype: str) -> ColumnSchema:
        """Schema of a categorical column: the ``category_cap`` most frequent categories."""
        ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
        vocab = tuple(str(k) for k, _ in ranked[: self.category_cap])
        return ColumnSchema(name, "categorical", self.roles.get(name, "feature"), categories=vocab, dtype=dtype)

    def profile(self, frame: pd.DataFrame, *, sample: int = 0, seed: int = 0) -> DatasetProfile:
        """Profile ``frame``; columns of the schema it lacks are listed in ``absent``."""
        if self.schema_ is None:
            raise RuntimeError("call fit() before profile()")
        columns: dict[str, ColumnProfile] = {}
        absent = []
        for name, col in self.schema_.items():
            if name not in frame.columns:
                absent.append(name)
                continue
            if col.kind == "numeric":
                columns[name] = profile_numeric(frame[name], col.edges, sample=sample, seed=seed)
            else:
                columns[name] = profile_categorical(frame[name], col.categories)
        unexpected = [str(c) for c in frame.columns if c not in self.schema_]
        return DatasetProfile(
            schema=dict(self.schema_), columns=columns, rows=len(frame), absent=absent,
            unexpected=unexpected,
        )


def profile_numeric(
    series: pd.Series, edges: tuple[float, ...], *, sample: int = 0, seed: int = 0
) -> NumericProfile:
    values, missing, invalid = numeric_values(series)
    examples = _invalid_examples(series) if invalid else []
    keys = None
    if sample:
        keys = np.random.default_rng(seed).random(int(np.count_nonzero(~np.isnan(values))))
    return numeric_profile(values, missing, invalid, edges, examples=examples, sample=sample, keys=keys)


def numeric_profile(
    values: np.ndarray,
    missing: int,
    invalid: int,
    edges: tuple[float, ...],
    *,
    examples: list[str] | None = None,
    sample: int = 0,
    keys: np.ndarray | None = None,
) -> NumericProfile:
    """The profile of float ``values`` (NaN where missing or invalid). With ``sample``, keeps
    the finite values with the ``sample`` smallest random ``keys`` (one per finite value): a
    uniform sample that chunked profiling reproduces when the keys come from one stream."""
    finite = values[~np.isnan(values)]
    count = len(finite)
    mean = float(finite.mean()) if count else 0.0
    m2 = float(np.square(finite - mean).sum()) if count else 0.0
    kept = None
    if sample and count and keys is not None:
        kept = np.sort(finite[smallest(keys, sample)])
    return NumericProfile(
        counts=histogram(finite, edges),
        count=count,
        missing=missing,
        invalid=invalid,
        mean=mean,
        m2=m2,
        minimum=float(finite.min()) if count else None,
        maximum=float(finite.max()) if count else None,
        invalid_examples=list(examples or []),
        sample=kept,
    )


def smallest(keys: np.ndarray, k: int) -> np.ndarray:
    """Positions of the ``k`` smallest keys, in key order (all of them when fewer)."""
    if len(keys) > k:
        chosen = np.argpartition(keys, k - 1)[:k]
    else:
        chosen = np.arange(len(keys))
    return chosen[np.argsort(keys[chosen], kind="stable")]


def fit_edges(values: np.ndarray, bins: int) -> tuple[float, ...]:
    """Distinct quantiles (``bins`` + 1, numpy's linear method) of the finite values."""
    finite = values[~np.isnan(values)]  # a copy: partitioned in place below
    if not len(finite):
        return ()
    q = np.linspace(0.0, 1.0, bins + 1)
    below, above = _quantile_neighbours(q, len(finite))
    finite.partition(np.unique(np.concatenate([below, above])))  # only those ranks in order
    return tuple(float(e) for e in np.unique(sorted_quantiles(finite, q)))


def _quantile_neighbours(q: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """The ranks just below and above each quantile's position among ``n`` ordered values."""
    position = q * (n - 1)
    below = np.floor(position).astype(np.int64)
    return below, np.minimum(below + 1, n - 1)


def sorted_quantiles(ordered: np.ndarray, q: np.ndarray) -> np.ndarray:
    """``np.quantile(ordered, q)`` from data whose ranks next to each quantile are in sorted
    position (sorted data, or data partitioned at those ranks), without numpy's own pass."""
    position = q * (len(ordered) - 1)
    below, above = _quantile_neighbours(q, len(ordered))
    t = position - below
    a, b = ordered[below], ordered[above]
    diff = b - a
    return np.where(t >= 0.5, b - diff * (1 - t), a + diff * t)  # numpy's _lerp


def histogram(finite: np.ndarray, edges: tuple[float, ...]) -> np.ndarray:
    """Counts per bin of :func:`bin_index` (a binary search among the edges, no sort)."""
    if not edges:
        return np.array([len(finite)], dtype=np.int64)
    return np.bincount(_bin_index(finite, edges), minlength=len(edges) + 1).astype(np.int64)


def _invalid_examples(series: pd.Series) -> list[str]:
    """Up to three distinct values of ``series`` that are not finite numbers."""
    import pandas as pd

    coerced = pd.to_numeric(series, errors="coerce")
    bad = series[(coerced.isna() | np.isinf(coerced.astype(float))) & series.notna()]
    return [str(v) for v in bad.astype(str).unique()[:3]]


def profile_categorical(series: pd.Series, categories: tuple[str, ...]) -> CategoricalProfile:
    return categorical_profile(category_counts(series), len(series), categories)


def categorical_profile(observed: dict[str, int], rows: int, categories: tuple[str, ...]) -> CategoricalProfile:
    """The profile of ``rows`` values with ``observed`` counts per category (the rest missing)."""
    observed = {k: v for k, v in observed.items() if v > 0}
    missing = int(rows - sum(observed.values()))
    known = set(categories)
    counts = {c: observed.get(c, 0) for c in categories}
    unseen = {k: v for k, v in observed.items() if k not in known}
    new, other = cap_new(unseen)
    return CategoricalProfile(counts=counts, new=new, other=other, missing=missing)


def cap_new(unseen: dict[str, int]) -> tuple[dict[str, int], int]:
    """Keep the lexicographically first unseen names; the rule commutes with merging."""
    names = sorted(unseen)
    kept = {n: unseen[n] for n in names[:NEW_CATEGORY_CAP]}
    return kept, sum(unseen[n] for n in names[NEW_CATEGORY_CAP:])


def bin_index(values: np.ndarray, edges: tuple[float, ...]) -> np.ndarray:
    """Bin of each value: 0 below the first edge, i for [e[i-1], e[i]), the last edge closes
    the last inner bin, len(edges) above it."""
    return _bin_index(values, edges)


def _bin_index(values: np.ndarray, edges: tuple[float, ...]) -> np.ndarray:
    if not edges:
        return np.zeros(len(values), dtype=np.int64)
    table = _bin_table(edges) if len(values) >= LOOKUP_MIN_VALUES else None
    if table is None:
        return _searched_bins(values, np.asarray(edges, dtype=float))
    return table.bins(values)


def _searched_bins(values: np.ndarray, edge_array: np.ndarray) -> np.ndarray:
    index = np.searchsorted(edge_array, values, side="right")
    if len(edge_array) > 1:
        index[values == edge_array[-1]] = len(edge_array) - 1
    return index


LOOKUP_MIN_VALUES = 2048  # below this a binary search per value is as fast
LOOKUP_CELLS = 16384


@dataclass(frozen=True)
class _BinTable:
    """Bins through a lookup table over equal-width cells of [first edge, last edge): a value's
    cell (one multiply) gives its bin directly unless an edge lies near that cell; those values,
    and any outside the range, get the exact binary search. Each cell's entry is the bin range
    of a window two cells wider on each side, far more than the rounding error of computing the
    cell, so the table never gives a bin the search would not."""

    edges: np.ndarray
    low: float
    scale: float  # cells per unit
    first: np.ndarray  # smallest possible bin per cell
    last: np.ndarray  # largest possible bin per cell

    def bins(self, values: np.ndarray) -> np.ndarray:
        cells = (values - self.low) * self.scale
        with np.errstate(invalid="ignore"):
            cell = cells.astype(np.intp)  # NaN/inf give nonsense here; they are caught below
        np.clip(cell, 0, LOOKUP_CELLS - 1, out=cell)
        out = self.first[cell]
        unsure = out != self.last[cell]
        unsure |= ~((cells >= 0) & (cells < LOOKUP_CELLS))  # outside the range, or NaN
        rest = np.flatnonzero(unsure)
        if len(rest):
            out[rest] = _searched_bins(values[rest], self.edges)
        return out


@lru_cache(maxsize=128)  # 128 KiB per table
def _bin_table(edges: tuple[float, ...]) -> _BinTable | None:
    edge_array = np.asarray(edges, dtype=float)
    low, high = float(edge_array[0]), float(edge_array[-1])
    if len(edge_array) < 8 or not (np.isfinite(low) and np.isfinite(high) and high > low):
        return None
    width = (high - low) / LOOKUP_CELLS
    if width <= 1e-9 * max(abs(low), abs(high)):
        return None  # a range too narrow for the margin argument: search instead
    bounds = low + width * np.arange(-2, LOOKUP_CELLS + 3)  # bounds[k + 2] = start of cell k
    # values in cell k lie in [start of k-2, start of k+3) even after rounding
    first = np.searchsorted(edge_array, bounds[:LOOKUP_CELLS], side="right")
    last = np.searchsorted(edge_array, bounds[5:LOOKUP_CELLS + 5], side="left")
    # the last edge closes the last inner bin: never report the bin above it from the table
    first = np.where(bounds[5:LOOKUP_CELLS + 5] > high, -1, first)
    return _BinTable(edge_array, low, 1.0 / width, first.astype(np.int32), last.astype(np.int32))


def numeric_values(series: pd.Series) -> tuple[np.ndarray, int, int]:
    """Float values (NaN where missing or not numeric), the missing count, the invalid count."""
    import pandas as pd

    missing = int(series.isna().sum())
    if pd.api.types.is_bool_dtype(series.dtype):
        series = series.astype(float)
    if pd.api.types.is_numeric_dtype(series.dtype):
        values = series.to_numpy(dtype=float, na_value=np.nan)
        invalid = 0
    else:
        coerced = pd.to_numeric(series, errors="coerce")
        values = coerced.to_numpy(dtype=float, na_value=np.nan)
        invalid = int(coerced.isna().sum()) - missing
    infinite = np.isinf(values)
    if infinite.any():  # +-inf cannot be binned or averaged: counted as invalid
        values = np.where(infinite, np.nan, values)
        invalid += int(infinite.sum())
    return values, missing, invalid


def category_counts(series: pd.Series) -> dict[str, int]:
    """Counts per category as strings; counting first and converting the few keys after is
    much faster than converting every value. Arrow-backed strings are counted by Arrow."""
    if hasattr(series.array, "__arrow_array__") and str(series.dtype).startswith(("str", "string")):
        import pyarrow as pa
        import pyarrow.compute as pc

        counted = pc.value_counts(pa.array(series.array))
        pairs: Any = zip(counted.field("values").to_pylist(), counted.field("counts").to_pylist())
    else:
        pairs = series.value_counts(dropna=True, sort=False).items()
    out: dict[str, int] = {}
    for key, value in pairs:
        if key is None or (isinstance(key, float) and key != key):
            continue
        name = str(key)
        out[name] = out.get(name, 0) + int(value)
    return out
