"""Numeric columns run as one block give, value by value, what the column-by-column path
gives, and leave every refusal to it."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from conveyor.core.errors import RefusedRows
from conveyor.inference import compile_model
from tests.inference.test_compile import NUMERIC, TEXT, frame


@pytest.fixture(scope="module")
def plan():
    data = frame()
    model = make_pipeline(ColumnTransformer([
        ("num", make_pipeline(SimpleImputer(), StandardScaler()), NUMERIC),
        ("cat", make_pipeline(SimpleImputer(strategy="most_frequent"), OneHotEncoder(handle_unknown="ignore")), TEXT),
    ]), LogisticRegression())
    model.fit(data[NUMERIC + TEXT], (data["tenure"] > 30).astype(int))
    compiled = compile_model(model)
    assert compiled is not None and [b.names for b in compiled.number_blocks] == [tuple(NUMERIC)]
    return compiled


def _lists(data: pd.DataFrame) -> dict[str, list]:
    return {name: [None if v != v else v for v in data[name].tolist()] for name in NUMERIC + TEXT}


def _arrays(columns: dict[str, list]) -> dict[str, np.ndarray]:  # not lists: the column-by-column path
    return {name: np.array(values, dtype=object) for name, values in columns.items()}


def test_a_block_gives_the_numbers_of_the_columns_alone(plan) -> None:
    columns = _lists(frame(rows=300, seed=4))
    columns["charges"][:3] = [1e308, -0.0, True]
    fast, slow = plan.run(columns), plan.run(_arrays(columns))
    assert np.array_equal(fast.labels, slow.labels)
    assert np.array_equal(fast.proba, slow.proba)  # equal bits, not approximately


@pytest.mark.parametrize("bad", [float("inf"), "text"])
def test_a_value_a_block_cannot_take_is_refused_as_alone(plan, bad) -> None:
    columns = _lists(frame(rows=20, seed=5))
    columns["tenure"][7] = bad
    with pytest.raises(RefusedRows) as fast:
        plan.run(columns)
    with pytest.raises(RefusedRows) as slow:
        plan.run(_arrays(columns))
    assert [r.line() for r in fast.value.refusals] == [r.line() for r in slow.value.refusals]
    assert [r.row for r in fast.value.refusals] == [7]
