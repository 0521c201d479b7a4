"""Request guards that follow the signature: numbers the model cannot take."""

from __future__ import annotations

import pytest

from conveyor.scoring import InputField as Field
from conveyor.scoring import InputSchema
from conveyor.serving.errors import InvalidInput
from conveyor.serving.signature import check_numbers


def test_integers_past_int64_and_csv_infinities_are_422() -> None:
    schema = InputSchema((Field("n", "long"), Field("x", "double"), Field("s", "string")))
    check_numbers(schema, {"n": [2**63 - 1, None], "x": [10**40, 1.5], "s": ["inf", None]}, text=True)
    check_numbers(schema, {"n": [0], "x": [float("inf")], "s": ["a"]}, text=False)  # JSON has no inf
    for columns in ({"n": [0, 2**63], "x": [0.0, 0.0]}, {"n": [0, 0], "x": [0.0, float("-inf")]}):
        with pytest.raises(InvalidInput, match="row 1"):
            check_numbers(schema, {**columns, "s": ["a", "b"]}, text=True)
