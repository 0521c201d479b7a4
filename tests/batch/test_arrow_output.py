"""A part without hooks keeps its input columns as Arrow from read to write: each column of
the output is the input's own (types, nulls and values as read), the scores appended; the
rejected rows are the input's rows with their row number and reason."""

from __future__ import annotations

import pandas as pd
import pyarrow as pa

from conveyor.batch.pipeline import Pipeline
from conveyor.scoring import InputField


def doubled(features: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame({"prediction": features["x"].to_numpy() * 2}, index=features.index)


def table() -> pa.Table:
    return pa.table({
        "id": pa.array([1, None, 3, 4], pa.int64()),  # through pandas: float64 with NaN
        "x": pa.array(["1.5", "2", "oops", "4"], pa.large_string()),
        "when": pa.array([0, 1, 2, 3], pa.timestamp("ms")),
        "tags": pa.array([["a"], [], None, ["b", "c"]]),  # through pandas: Python lists
    })


def test_the_output_keeps_the_input_columns_as_read_and_appends_the_scores() -> None:
    pipeline = Pipeline([InputField("x", "double")], doubled, model={"name": "m", "version": "1", "run_id": "r"},
                        policy="reject")
    assert pipeline.carries_arrow
    scored = pipeline.run_arrow(table(), first_row=10)
    good = table().filter(pa.array([True, True, False, True]))
    assert scored.output.select(["id", "x", "when", "tags"]).equals(good)
    assert scored.output.column("prediction").to_pylist() == [3.0, 4.0, 8.0]
    assert scored.output.schema.metadata is None
    assert scored.rejected.column_names == ["row", "id", "x", "when", "tags", "reason"]
    assert scored.rejected.column("row").to_pylist() == [12]
    assert "x: 'oops' is not a number" in scored.rejected.column("reason")[0].as_py()
    assert scored.constants == {"model_name": "m", "model_version": "1", "model_run_id": "r"}


def test_keep_selects_the_input_columns_in_its_order() -> None:
    pipeline = Pipeline([InputField("x", "double")], doubled, model={"name": "m", "version": "1", "run_id": "r"},
                        policy="reject", keep=["when", "id", "absent"])
    scored = pipeline.run_arrow(table())
    assert scored.output.column_names == ["when", "id", "prediction"]
    assert scored.output.column("id").type == pa.int64()


def test_a_hook_takes_the_pandas_path() -> None:
    pipeline = Pipeline([InputField("x", "double")], doubled, model={"name": "m", "version": "1", "run_id": "r"},
                        preprocess=lambda frame: frame)
    assert not pipeline.carries_arrow
