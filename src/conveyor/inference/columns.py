"""Input columns as the arrays a plan works on: float64 values or dictionary-encoded values.

A column may be a list (a parsed JSON body), a numpy array, a pandas Series (numpy- or
Arrow-backed) or a pyarrow array. Arrow strings are dictionary-encoded in C, so per-row work
on categories is an integer gather, never a Python string comparison; other object columns
keep one dictionary entry per row (their own values). None counts as missing (NaN), as it
does once pandas reads such a column as strings.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Encoded:
    """``dictionary[codes]`` are the column's values, row by row."""

    dictionary: np.ndarray
    codes: np.ndarray | None = None  # None: the dictionary is the column itself

    def __len__(self) -> int:
        return len(self.dictionary) if self.codes is None else len(self.codes)

    def with_dictionary(self, dictionary: np.ndarray) -> Encoded:
        return Encoded(dictionary, self.codes)

    def take(self, table: np.ndarray) -> np.ndarray:
        """``table`` (one entry per dictionary value) expanded to one entry per row."""
        return table if self.codes is None else table[self.codes]


def numeric_values(column: Any) -> np.ndarray:
    """The column as float64, missing values as NaN (what scikit-learn's check_array makes)."""
    if hasattr(column, "to_numpy") and hasattr(column, "dtype"):  # pandas Series / Index
        values: np.ndarray = column.to_numpy(dtype=np.float64, na_value=np.nan)
    elif _is_arrow(column):
        values = _arrow_combined(column).to_numpy(zero_copy_only=False).astype(np.float64, copy=False)
    else:
        values = np.asarray(column, dtype=np.float64)
    return values


def numbers_or_refused(column: Any) -> tuple[np.ndarray, np.ndarray | None]:
    """:func:`numeric_values`, and the mask of values that are not numbers (None: all are).
    What scikit-learn's float conversion takes (numbers, numeric text, booleans, None) is
    converted the same way; anything else becomes NaN and is refused."""
    try:
        return numeric_values(column), None
    except (TypeError, ValueError):
        pass
    items = column.tolist() if hasattr(column, "tolist") else list(column)
    values = np.empty(len(items), dtype=np.float64)
    bad = np.zeros(len(items), dtype=bool)
    for row, item in enumerate(items):
        try:
            values[row] = np.nan if item is None else float(item)
        except (TypeError, ValueError, OverflowError):
            values[row] = np.nan
            bad[row] = True
    return values, bad


def encoded_values(column: Any) -> Encoded:
    """The column dictionary-encoded where that is free (Arrow strings, pandas categoricals)."""
    arrow = _arrow_strings(column)
    if arrow is not None:
        return encode_arrow(arrow, _na_value(column))
    dtype = getattr(column, "dtype", None)
    if dtype is not None and getattr(dtype, "name", "") == "category":
        categories = np.asarray(column.cat.categories, dtype=object)
        dictionary = np.append(categories, np.array([np.nan], dtype=object))
        codes = column.cat.codes.to_numpy().astype(np.intp)
        codes[codes < 0] = len(categories)
        return Encoded(dictionary, codes)
    if hasattr(column, "to_numpy"):
        values = column.to_numpy()
    elif _is_arrow(column):
        values = _arrow_combined(column).to_numpy(zero_copy_only=False)
    else:
        values = np.asarray(column if isinstance(column, np.ndarray) else list(column), dtype=object)
    if values.dtype.kind in "US":
        values = values.astype(object)
    if values.dtype.kind == "O":
        nones = values == None
        if nones.any():
            values = values.copy()
            values[nones] = np.nan
    return Encoded(values)


def _arrow_strings(column: Any) -> Any:
    """The pyarrow array behind an Arrow-backed string column, or None (a list or a numpy
    array never is one: pyarrow is not imported for them, e.g. in a serving worker)."""
    if isinstance(column, (list, tuple, np.ndarray)):
        return None
    import pyarrow as pa

    if _is_arrow(column):
        array = _arrow_combined(column)
    else:
        inner = getattr(column, "array", None)
        dtype = getattr(column, "dtype", None)
        if inner is None or not hasattr(inner, "__arrow_array__") or getattr(dtype, "kind", "") != "O":
            return None
        array = _arrow_combined(pa.array(inner))  # zero-copy for Arrow-backed strings
    if pa.types.is_string(array.type) or pa.types.is_large_string(array.type) or pa.types.is_string_view(array.type):
        return array
    return None


def encode_arrow(array: Any, na_value: Any) -> Encoded:
    """Arrow values dictionary-encoded in C; nulls become one more entry, ``na_value``."""
    import pyarrow.compute as pc

    encoded = pc.dictionary_encode(array)
    distinct = encoded.dictionary.to_numpy(zero_copy_only=False).astype(object)
    dictionary = np.append(distinct, np.array([na_value], dtype=object))
    codes = encoded.indices.fill_null(len(distinct)).to_numpy(zero_copy_only=False).astype(np.intp, copy=False)
    return Encoded(dictionary, codes)


def _na_value(column: Any) -> Any:
    """What a missing string is once converted to Python objects: NaN unless the column says."""
    na = getattr(getattr(column, "dtype", None), "na_value", np.nan)
    return np.nan if na is None or not isinstance(na, float) else na


def _is_arrow(column: Any) -> bool:
    return type(column).__module__.startswith("pyarrow")


def _arrow_combined(column: Any) -> Any:
    return column.combine_chunks() if hasattr(column, "combine_chunks") else column
