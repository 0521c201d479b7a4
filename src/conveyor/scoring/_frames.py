"""Scoring input as the DataFrame an estimator or a pyfunc model is called with.

Input comes as column lists (a parsed request: one frame per batch, typed by the schema) or
as a DataFrame (a batch part, a monitoring frame: used as it is, with Arrow-backed string
columns turned into the object columns scikit-learn converts them to anyway).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

    from conveyor.scoring._schema import InputSchema


def is_frame(data: Any) -> bool:
    """A pandas DataFrame, told apart without importing pandas (plan workers need none)."""
    return type(data).__name__ == "DataFrame" and hasattr(data, "iloc")


def as_frame(data: Any, schema: InputSchema) -> pd.DataFrame:
    """The DataFrame for ``data``: a DataFrame as it is, column lists typed by the schema."""
    if is_frame(data):
        return strings_as_objects(data)
    import pandas as pd

    columns: dict[str, Any] = {}
    for name in schema.names or list(data):
        values = data[name]
        kind = field.type if (field := schema.field(name)) is not None else "any"
        if kind in ("double", "float"):
            columns[name] = np.array(values, dtype=np.float64)
        elif kind in ("long", "integer"):
            try:
                columns[name] = np.array(values, dtype=np.int64)
            except (TypeError, ValueError):  # missing values: float with NaN
                columns[name] = np.array(values, dtype=np.float64)
        elif kind == "string":  # a missing text is NaN, as pandas reads it from a file
            columns[name] = np.array([np.nan if v is None else v for v in values], dtype=object)
        else:
            columns[name] = values
    return pd.DataFrame(columns)


def strings_as_objects(features: pd.DataFrame) -> pd.DataFrame:
    """The frame with Arrow-backed string columns as object columns, which is what scikit-learn
    converts them to, built from a dictionary encoding (one Python string per distinct value,
    not per row)."""
    import pandas as pd

    names = [n for n, dtype in features.dtypes.items() if isinstance(dtype, pd.StringDtype)
             and dtype.storage == "pyarrow"]
    if not names:
        return features
    out = features.copy(deep=False)
    for name in names:
        out[name] = pd.Series(_object_values(features[name]), index=features.index, dtype=object)
    return out


def _object_values(column: pd.Series) -> np.ndarray:
    import pyarrow as pa

    from conveyor.inference.columns import encode_arrow

    encoded = encode_arrow(pa.chunked_array(pa.array(column.array)).combine_chunks(), column.dtype.na_value)
    return encoded.take(encoded.dictionary)
