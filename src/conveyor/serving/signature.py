"""Request columns checked against the model's input schema (:class:`conveyor.scoring.InputSchema`).

Requests are turned into *columns* — ``{name: [values...]}`` — once, right after parsing;
validation works on those lists and the batcher concatenates them per batch, so no
DataFrame is built per request.
"""

from __future__ import annotations

import math
from typing import Any

from conveyor.scoring import Columns, InputField, InputSchema
from conveyor.serving.errors import InvalidInput

_NONE = type(None)
_NUMBER = (int, float, _NONE)
_INTEGER = (int, _NONE)
_STRING = (str, _NONE)
_BOOL = (bool, _NONE)
MAX_NAMED = 10  # at most this many offending fields are listed in a 422


def validate(schema: InputSchema, columns: Columns) -> int:
    """Check names and value types; return the row count. Raises InvalidInput (422)."""
    if not columns or not any(columns.values()):  # `{"dataframe_records": []}`, no data at all
        raise InvalidInput("the request has no rows", hint="send at least one row", expected=schema.names)
    known = {f.name for f in schema.fields}
    missing = [f.name for f in schema.fields if f.required and f.name not in columns]
    extra = [name for name in columns if name not in known]
    if missing or extra:
        parts = []
        if missing:
            parts.append(f"missing columns {missing[:MAX_NAMED]}")
        if extra:
            parts.append(f"unexpected columns {extra[:MAX_NAMED]}")
        raise InvalidInput(
            "input does not match the model signature: " + "; ".join(parts),
            missing=missing[:MAX_NAMED], unexpected=extra[:MAX_NAMED], expected=schema.names,
        )
    lengths = {len(values) for values in columns.values()}
    if len(lengths) > 1:
        raise InvalidInput("columns have different lengths", lengths=sorted(lengths))
    rows = lengths.pop() if lengths else 0
    if rows == 0:
        raise InvalidInput("the request has no rows")
    bad: list[dict[str, Any]] = []
    for f in schema.fields:
        values = columns.get(f.name)
        if values is None:
            columns[f.name] = [None] * rows  # optional column left out
            continue
        error = _check_values(f, values)
        if error is not None:
            bad.append({"field": f.name, "expected": f.type, **error})
            if len(bad) >= MAX_NAMED:
                break
    if bad:
        names = ", ".join(b["field"] for b in bad)
        raise InvalidInput(f"wrong value types in {names}", fields=bad)
    return rows


def _check_values(field: InputField, values: list[Any]) -> dict[str, Any] | None:
    kind = field.type
    if kind in ("double", "float"):
        for index, value in enumerate(values):
            if type(value) is int:  # what the model sees; the capture's float column holds it
                try:
                    values[index] = float(value)
                except OverflowError:
                    return {"row": index, "got": "int past the float range"}
        allowed: tuple[type, ...] = _NUMBER
    elif kind in ("long", "integer"):
        for index, value in enumerate(values):
            if type(value) is float and value.is_integer():
                values[index] = int(value)  # 3.0 is an integer; JSON clients send it
        allowed = _INTEGER
    elif kind == "string":
        allowed = _STRING
    elif kind == "boolean":
        allowed = _BOOL
    else:
        return None
    for index, value in enumerate(values):
        if type(value) not in allowed:
            return {"row": index, "got": type(value).__name__}
    return None


def coerce_text(schema: InputSchema, columns: Columns) -> None:
    """CSV cells arrive as text: convert numeric/boolean columns in place ('' is missing)."""
    for f in schema.fields:
        values = columns.get(f.name)
        if values is None:
            continue
        if f.numeric:
            out: list[Any] = []
            for index, text in enumerate(values):
                if text == "" or text is None:
                    out.append(None)
                    continue
                try:
                    number = float(text)
                except ValueError:
                    raise InvalidInput(
                        f"wrong value types in {f.name}",
                        fields=[{"field": f.name, "expected": f.type, "row": index, "got": "str"}],
                    ) from None
                out.append(int(number) if f.type in ("long", "integer") and number.is_integer() else number)
            columns[f.name] = out
        elif f.type == "boolean":
            columns[f.name] = [None if t == "" else t.strip().lower() in ("1", "true", "yes") for t in values]
        elif f.type == "string":
            columns[f.name] = [None if t == "" else t for t in values]


_INT64 = (-(2**63), 2**63 - 1)


def check_numbers(schema: InputSchema, columns: Columns, *, text: bool) -> None:
    """Numbers the signature check lets through but the model cannot take: integers past
    int64 in integer columns and, from CSV (JSON has none), infinities like `inf` or
    `1e999`. A 422 naming the column, instead of a model error. Runs after `validate`."""
    low, high = _INT64
    for f in schema.fields:
        if f.type in ("long", "integer"):
            bad = next((row for row, v in enumerate(columns[f.name]) if type(v) is int and not low <= v <= high), None)
        elif text and f.type in ("double", "float"):
            bad = next((row for row, v in enumerate(columns[f.name]) if type(v) is float and math.isinf(v)), None)
        else:
            continue
        if bad is not None:
            raise InvalidInput(
                f"{f.name} is out of range in row {bad}: {str(columns[f.name][bad])[:40]}",
                fields=[{"field": f.name, "expected": f.type, "row": bad}],
            )
