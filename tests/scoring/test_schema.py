"""The input schema from an MLflow signature."""

from __future__ import annotations

import pandas as pd
from mlflow.models import infer_signature

from conveyor.scoring import InputField, InputSchema


def test_named_inputs_keep_their_order_types_and_requiredness() -> None:
    frame = pd.DataFrame({"n": [1, 2], "x": [0.5, 1.5], "s": ["a", "b"], "b": [True, False]})
    schema = InputSchema.from_signature(infer_signature(frame, [0, 1]))
    assert schema.fields == (InputField("n", "long"), InputField("x", "double"),
                             InputField("s", "string"), InputField("b", "boolean"))
    assert [f.numeric for f in schema.fields] == [True, True, False, False]
    assert [f.text for f in schema.fields] == [False, False, True, False]
    assert [f.v2_datatype for f in schema.fields] == ["INT64", "FP64", "BYTES", "BOOL"]
    assert schema.field("s") == InputField("s", "string") and schema.field("zz") is None


def test_without_named_inputs_the_fallback_columns_are_untyped() -> None:
    assert InputSchema.from_signature(None, ["a", "b"]).fields == (InputField("a", "any"), InputField("b", "any"))
    assert InputSchema.from_signature(None).fields == ()
