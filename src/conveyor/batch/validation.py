"""Check the input against the model's columns: once for the whole input, then per row."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from conveyor.core.errors import SchemaMismatchError
from conveyor.scoring import InputField

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd
    import pyarrow as pa


def check_schema(schema: pa.Schema, columns: Sequence[InputField], source: str) -> None:
    """Raise before any scoring when a model column is absent or held in an unusable type."""
    import pyarrow.types as t

    present = set(schema.names)
    missing = [c.name for c in columns if c.required and c.name not in present]
    if missing:
        raise SchemaMismatchError(
            f"input {source} lacks model column(s) {missing}; nothing was scored",
            hint=f"the input has {schema.names}; the model needs {[c.name for c in columns]}",
        )
    wrong = []
    for column in columns:
        if column.name not in present:
            continue
        kind = schema.field(column.name).type
        if t.is_dictionary(kind):
            kind = kind.value_type
        if t.is_null(kind):
            continue
        textual = t.is_string(kind) or t.is_large_string(kind)
        if column.numeric and not (t.is_integer(kind) or t.is_floating(kind) or t.is_boolean(kind)
                                   or t.is_decimal(kind) or textual):
            wrong.append(f"{column.name} is {kind}, the model needs {column.type}")
        elif column.text and not textual:
            wrong.append(f"{column.name} is {kind}, the model needs string")
    if wrong:
        raise SchemaMismatchError(
            f"input {source} has model columns of the wrong type: {'; '.join(wrong)}; "
            "nothing was scored",
            hint="cast the columns in the data, or in a batch.preprocess hook",
        )


def validate_rows(
    frame: pd.DataFrame, columns: Sequence[InputField]
) -> tuple[pd.DataFrame, pd.Series, np.ndarray]:
    """The model's input frame (numbers coerced), per row the first reason it is bad ('' if
    fine), and the mask of bad rows."""
    import numpy as np
    import pandas as pd

    reasons = np.full(len(frame), "", dtype=object)
    bad_rows = np.zeros(len(frame), dtype=bool)
    data = {}
    for column in columns:
        if column.name not in frame.columns:
            if column.required:
                reasons[~bad_rows] = f"{column.name}: column missing"
                bad_rows[:] = True
            continue
        values = frame[column.name]
        if column.numeric and not (pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values)):
            coerced = pd.to_numeric(values, errors="coerce")
            bad = (values.notna() & coerced.isna()).to_numpy()
            if bad.any():
                fresh = bad & ~bad_rows
                reasons[fresh] = [
                    f"{column.name}: {value!r} is not a number" for value in values.to_numpy()[fresh]
                ]
                bad_rows |= bad
            values = coerced.astype("float64")
        data[column.name] = values
    features = pd.DataFrame(data, index=frame.index)
    return features, pd.Series(reasons, index=frame.index, dtype=object), bad_rows
