"""The :class:`Profiler`: fitted once on reference (training) data, which fixes the histogram
edges (training quantiles plus open outer bins) and the category vocabulary, then profiles any
frame the same way. Every profile made with the same fitted profiler — of training data, of a
day of captured traffic, of one Spark partition — merges with :func:`conveyor.profiles.merge.merge`,
and merging the profiles of N partitions gives the profile of the whole.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from conveyor.profiles.histogram import discrete_edges, fit_edges
from conveyor.profiles.profile import (
    CategoricalProfile,
    ColumnProfile,
    ColumnSchema,
    DatasetProfile,
    NumericProfile,
    Role,
    categorical_profile,
    category_name,
    numeric_profile,
)

if TYPE_CHECKING:
    import pandas as pd

DEFAULT_BINS = 50
DEFAULT_CATEGORY_CAP = 100
DEFAULT_SAMPLE = 1000


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

    def numeric_schema(self, name: str, values: np.ndarray, dtype: str) -> ColumnSchema:
        """Schema of a numeric column: one bin per distinct value when it has at most
        ``bins`` of them (:func:`discrete_edges`), else edges at the quantiles of its finite
        ``values``."""
        role = self.roles.get(name, "feature")
        discrete = discrete_edges(values, self.bins)
        if discrete is not None:
            return ColumnSchema(name, "numeric", role, edges=discrete, dtype=dtype, discrete=True)
        return ColumnSchema(name, "numeric", role, edges=fit_edges(values, self.bins), dtype=dtype)

    def categorical_schema(self, name: str, counts: dict[str, int], dtype: str) -> ColumnSchema:
        """Schema of a categorical column: the ``category_cap`` most frequent categories."""
        ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
        vocab = tuple(category_name(k) for k, _ in ranked[: self.category_cap])
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


def _invalid_examples(series: pd.Series) -> list[str]:
    """Up to three distinct values of ``series`` that are not finite numbers."""
    import pandas as pd

    coerced = pd.to_numeric(series, errors="coerce")
    bad = series[(coerced.isna() | np.isinf(coerced.astype(float))) & series.notna()]
    return [category_name(v) for v in bad.drop_duplicates().head(3)]


def profile_categorical(series: pd.Series, categories: tuple[str, ...]) -> CategoricalProfile:
    return categorical_profile(category_counts(series), len(series), categories)


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
        name = category_name(key)
        out[name] = out.get(name, 0) + int(value)
    return out
