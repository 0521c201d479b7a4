"""A plan refuses exactly the rows its fitted scikit-learn pipeline raises on, and gives the
estimator's numbers for every other row: checked on random rows (missing values, unknown
categories, text, infinite and extreme numbers) against scikit-learn itself, row by row."""

from __future__ import annotations

import itertools
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sklearn.compose import ColumnTransformer
from sklearn.datasets import load_diabetes, load_wine
from sklearn.ensemble import HistGradientBoostingRegressor, RandomForestClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LinearRegression, LogisticRegression, Ridge
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import MinMaxScaler, OneHotEncoder, StandardScaler

from conveyor.core.errors import RefusedRows
from conveyor.inference import InferencePlan, compile_model, explain_unsupported

NUMERIC = ["age", "bmi", "bp", "s1"]
KINDS = ["m", "f", "x"]


def diabetes() -> tuple[pd.DataFrame, np.ndarray]:
    data = load_diabetes(as_frame=True)
    frame = data.frame[NUMERIC].copy()
    frame["kind"] = np.where(data.frame["sex"] > 0, "m", "f").astype(object)
    frame.loc[frame.index % 7 == 0, "kind"] = "x"
    return frame, data.target.to_numpy()


def numeric_and_categories(final: Any, *, impute: bool, unknown: str) -> Pipeline:
    numbers = make_pipeline(SimpleImputer(strategy="median"), StandardScaler()) if impute else StandardScaler()
    return Pipeline([
        ("features", ColumnTransformer([
            ("num", numbers, NUMERIC),
            ("cat", OneHotEncoder(handle_unknown=unknown), ["kind"]),
        ])),
        ("model", final),
    ])


def above_median(y: np.ndarray) -> np.ndarray:
    return (y > np.median(y)).astype(int)


PIPELINES: dict[str, Callable[[], tuple[Any, list[str]]]] = {
    # the case: no imputer, so scikit-learn raises on a missing value
    "scaler+ridge": lambda: (make_pipeline(StandardScaler(), Ridge()), NUMERIC),
    "passthrough+linear": lambda: (LinearRegression(), NUMERIC),
    "imputed+onehot-error+logistic": lambda: (numeric_and_categories(
        LogisticRegression(max_iter=500), impute=True, unknown="error"), [*NUMERIC, "kind"]),
    "onehot-ignore+ridge": lambda: (numeric_and_categories(Ridge(), impute=False, unknown="ignore"),
                                    [*NUMERIC, "kind"]),
    "minmax+forest": lambda: (make_pipeline(MinMaxScaler(), RandomForestClassifier(n_estimators=5, random_state=0)),
                              NUMERIC),
    "scaler+hist-gradient-boosting": lambda: (make_pipeline(StandardScaler(), HistGradientBoostingRegressor(max_iter=5)),
                                              NUMERIC),
    "imputer-marker+scaler+ridge": lambda: (make_pipeline(SimpleImputer(missing_values=-1.0), StandardScaler(),
                                                          Ridge()), NUMERIC),
}
CLASSIFIERS = {"imputed+onehot-error+logistic", "minmax+forest"}


@pytest.fixture(scope="module")
def fitted() -> dict[str, tuple[Any, InferencePlan, list[str]]]:
    frame, y = diabetes()
    out = {}
    for name, build in PIPELINES.items():
        model, columns = build()
        model.fit(frame[columns], above_median(y) if name in CLASSIFIERS else y)
        plan = compile_model(model)
        assert plan is not None, explain_unsupported(model)
        out[name] = (model, plan, columns)
    return out


NUMBERS = st.one_of(
    st.floats(-3, 3, allow_nan=False),
    st.sampled_from([np.nan, np.inf, -np.inf, 1e300, -1e308, 1.7e308, 3.5e38, -1.0, 0.0, "abc", "2.5"]),
)
CATEGORIES = st.sampled_from(["m", "f", "x", "unseen", np.nan])


@st.composite
def rows(draw: st.DrawFn) -> pd.DataFrame:
    count = draw(st.integers(1, 6))
    data: dict[str, list[Any]] = {c: draw(st.lists(NUMBERS, min_size=count, max_size=count)) for c in NUMERIC}
    data["kind"] = draw(st.lists(CATEGORIES, min_size=count, max_size=count))
    frame = pd.DataFrame(data)
    for column in NUMERIC:  # a column of numbers only is a float column, as read from a file
        if not any(isinstance(v, str) for v in data[column]):
            frame[column] = frame[column].astype(np.float64)
    return frame.astype({"kind": object})


def refuses(model: Any, row: pd.DataFrame) -> bool:
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        try:
            model.predict(row)
        except (ValueError, TypeError):
            return True
    return False


def outputs(model: Any, frame: pd.DataFrame) -> np.ndarray:
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        return np.asarray(model.predict_proba(frame) if hasattr(model, "predict_proba") else model.predict(frame))


@pytest.mark.parametrize("name", list(PIPELINES))
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=rows())
def test_plan_refuses_the_rows_the_estimator_refuses_and_scores_the_rest_alike(
    name: str, data: pd.DataFrame, fitted: dict[str, tuple[Any, InferencePlan, list[str]]]
) -> None:
    model, plan, columns = fitted[name]
    frame = data[columns]
    expected = [i for i in range(len(frame)) if refuses(model, frame.iloc[[i]])]
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        try:
            plan.run(frame)
            refused: list[int] = []
        except RefusedRows as exc:
            refused = exc.rows
            assert all(r.field in columns and r.reason for r in exc.refusals)
        assert refused == expected
        good = [i for i in range(len(frame)) if i not in refused]
        if good:
            rest = frame.iloc[good].reset_index(drop=True)
            result = plan.run(rest)
            mine = result.proba if result.proba is not None else result.labels
            np.testing.assert_allclose(mine, outputs(model, rest), rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("name", list(PIPELINES))
def test_terms_that_overflow_give_the_estimators_answer(
    name: str, fitted: dict[str, tuple[Any, InferencePlan, list[str]]]
) -> None:
    """Where products overflow, the order BLAS sums them in decides inf or nan: the plan lays
    its matrix out as scikit-learn does (column-major from a DataFrame, row-major after a
    ColumnTransformer), so it gives the same answer."""
    model, plan, columns = fitted[name]
    big = [0.0, 1.7e308, -1.7e308, 5e307]
    rows = [dict(zip(NUMERIC, values, strict=True), kind="m") for values in itertools.product(big, repeat=4)]
    frame = pd.DataFrame(rows).astype({"kind": object})[columns]
    scored = frame[[not refuses(model, frame.iloc[[i]]) for i in range(len(frame))]].reset_index(drop=True)
    assert len(scored) > 0  # some rows reach the estimator (with overflowing terms, for the linear ones)
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        result = plan.run(scored)
        mine = result.proba if result.proba is not None else result.labels
        np.testing.assert_array_equal(mine, outputs(model, scored))


def test_a_refusal_names_the_row_the_field_and_the_reason() -> None:
    data = load_wine(as_frame=True)
    columns = ["alcohol", "malic_acid", "ash"]
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=500)).fit(data.frame[columns], data.target)
    plan = compile_model(model)
    assert plan is not None
    rows = data.frame[columns].head(4).copy()
    rows.loc[1, "malic_acid"] = np.nan
    rows.loc[3, "ash"] = np.inf
    with pytest.raises(ValueError):
        model.predict(rows)  # scikit-learn refuses the batch
    with pytest.raises(RefusedRows) as refused:
        plan.run(rows)
    first, second = refused.value.refusals
    assert (first.row, first.field) == (1, "malic_acid") and "missing value" in first.reason
    assert "LogisticRegression" in first.reason
    assert (second.row, second.field) == (3, "ash") and "inf" in second.reason and "StandardScaler" in second.reason
    text = rows.astype({"alcohol": object})
    text.loc[0, "alcohol"] = "thirteen"
    with pytest.raises(RefusedRows) as refused:
        plan.run(text)
    assert refused.value.refusals[0].reason == "'thirteen' is not a number"


def test_a_kept_estimator_says_which_values_it_takes() -> None:
    frame, y = diabetes()
    forest = make_pipeline(MinMaxScaler(), RandomForestClassifier(n_estimators=3, random_state=0))
    forest.fit(frame[NUMERIC], above_median(y))
    boosted = make_pipeline(StandardScaler(), HistGradientBoostingRegressor(max_iter=3)).fit(frame[NUMERIC], y)
    forest_plan, boosted_plan = compile_model(forest), compile_model(boosted)
    assert forest_plan is not None and boosted_plan is not None
    accepts = forest_plan.head.accepts
    assert accepts.nan and not accepts.inf and not accepts.beyond_float32  # trees cast to float32
    accepts = boosted_plan.head.accepts
    assert accepts.nan and accepts.inf and accepts.beyond_float32


def test_numbers_one_hot_encoded_refuse_infinity_as_scikit_learn_does() -> None:
    frame, y = diabetes()
    frame["calls"] = (frame.index % 4).astype(float)
    model = Pipeline([
        ("features", ColumnTransformer([("num", StandardScaler(), ["bmi"]),
                                        ("calls", OneHotEncoder(handle_unknown="ignore"), ["calls"])])),
        ("model", Ridge()),
    ]).fit(frame[["bmi", "calls"]], y)
    plan = compile_model(model)
    assert plan is not None
    rows = pd.DataFrame({"bmi": [0.01, 0.02, 0.03], "calls": [1.0, np.inf, 7.0]})
    assert refuses(model, rows.iloc[[1]]) and not refuses(model, rows.iloc[[2]])  # 7 is unknown: ignored
    with pytest.raises(RefusedRows) as refused:
        plan.run(rows)
    assert refused.value.rows == [1] and refused.value.refusals[0].field == "calls"
    good = rows.iloc[[0, 2]]
    np.testing.assert_allclose(plan.run(good).labels, model.predict(good), rtol=1e-12)
