"""Inference plans give the estimator's own numbers, or decline to compile."""

from __future__ import annotations

import pickle
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import RandomForestClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LinearRegression, LogisticRegression, Ridge
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import FunctionTransformer, MinMaxScaler, OneHotEncoder, StandardScaler

from conveyor.core.errors import RefusedRows
from conveyor.inference import InferencePlan, compile_model, explain_unsupported
from conveyor.scoring import scores_of

NUMERIC = ["tenure", "charges", "calls"]
TEXT = ["plan", "region"]


def frame(rows: int = 400, seed: int = 0, unseen: bool = False) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    data = pd.DataFrame({
        "tenure": rng.integers(0, 72, rows).astype(float),
        "charges": rng.normal(60, 20, rows),
        "calls": rng.poisson(2, rows).astype(float),
        "plan": rng.choice(["basic", "premium", "standard"], rows).astype(object),
        "region": rng.choice(["north", "south", "east", "west"], rows).astype(object),
    })
    data.loc[rng.random(rows) < 0.1, "charges"] = np.nan
    data.loc[rng.random(rows) < 0.1, "region"] = np.nan
    if unseen:
        data.loc[rng.random(rows) < 0.1, "plan"] = "enterprise"
    return data


def target(data: pd.DataFrame, classes: int = 2) -> np.ndarray:
    score = data["tenure"].to_numpy() / 72 - data["calls"].to_numpy() / 4 + (data["plan"] == "basic").to_numpy()
    return np.digitize(score, np.quantile(score, np.linspace(0, 1, classes + 1)[1:-1]))


def churn_pipeline(final: object | None = None, **one_hot: object) -> Pipeline:
    features = ColumnTransformer([
        ("num", make_pipeline(SimpleImputer(strategy="median"), StandardScaler()), NUMERIC),
        ("cat", make_pipeline(SimpleImputer(strategy="constant", fill_value="missing"),
                              OneHotEncoder(**({"handle_unknown": "ignore"} | one_hot))), TEXT),
    ])
    return Pipeline([("features", features), ("model", final if final is not None else LogisticRegression(max_iter=500))])


def as_arrow_strings(data: pd.DataFrame) -> pd.DataFrame:
    out = data.copy()
    for name in TEXT:
        out[name] = out[name].astype(pd.StringDtype("pyarrow", na_value=np.nan))
    return out


def plan_for(model: object) -> InferencePlan:
    plan = compile_model(model)
    assert plan is not None, explain_unsupported(model)
    return plan


def test_binary_pipeline_gives_the_same_probabilities_bit_for_bit() -> None:
    train = frame()
    model = churn_pipeline().fit(train, target(train))
    plan = plan_for(model)
    new = frame(seed=1, unseen=True)
    result = plan.run(new)
    assert np.array_equal(result.proba, model.predict_proba(new))
    assert np.array_equal(result.labels, model.predict(new))
    assert np.array_equal(scores_of(result.proba), model.predict_proba(new)[:, 1])
    assert np.array_equal(plan.matrix(new, len(new)), model[:-1].transform(new))


def test_arrow_strings_and_json_lists_read_like_object_columns() -> None:
    train = frame()
    model = churn_pipeline().fit(train, target(train))
    plan = plan_for(model)
    new = frame(seed=2, unseen=True)
    expected = model.predict_proba(new)
    assert np.array_equal(plan.run(as_arrow_strings(new)).proba, expected)
    lists = {c: [None if isinstance(v, float) and v != v else v for v in new[c].tolist()] for c in new.columns}
    assert np.array_equal(plan.run(lists).proba, expected)  # JSON null is missing, like NaN


def test_multiclass_logistic_regression_uses_softmax() -> None:
    train = frame(600)
    model = churn_pipeline().fit(train, target(train, classes=3))
    new = frame(seed=3)
    result = plan_for(model).run(new)
    np.testing.assert_allclose(result.proba, model.predict_proba(new), rtol=0, atol=1e-15)
    assert np.array_equal(result.labels, model.predict(new))
    assert np.array_equal(scores_of(result.proba), result.proba.max(axis=1))


@pytest.mark.parametrize("regressor", [LinearRegression(), Ridge(alpha=0.5)])
def test_linear_regressors(regressor: object) -> None:
    train = frame()
    y = train["tenure"].to_numpy() * 2.0 + np.nan_to_num(train["charges"].to_numpy())
    model = churn_pipeline(regressor).fit(train, y)
    new = frame(seed=4)
    result = plan_for(model).run(new)
    assert result.proba is None
    np.testing.assert_allclose(result.labels, model.predict(new), rtol=1e-12)


def test_more_transformers_drop_positions_and_passthrough() -> None:
    train = frame()
    features = ColumnTransformer(
        [
            ("minmax", make_pipeline(SimpleImputer(strategy="mean"), MinMaxScaler(clip=True)), [0, 1]),
            ("scaled", StandardScaler(with_mean=False), ["calls"]),
            ("cat", make_pipeline(SimpleImputer(strategy="most_frequent"), OneHotEncoder(drop="first")), TEXT),
            ("numbers_as_categories", OneHotEncoder(handle_unknown="ignore"), ["calls"]),
        ],
        remainder="drop",
    )
    model = Pipeline([("features", features), ("scale", StandardScaler()),
                      ("model", LogisticRegression(max_iter=500))]).fit(train, target(train))
    new = frame(seed=5)
    new.loc[:5, "calls"] = 99.0  # unseen numeric category
    new.loc[6:8, "tenure"] = 500.0  # clipped by MinMaxScaler
    np.testing.assert_allclose(plan_for(model).run(new).proba, model.predict_proba(new), rtol=0, atol=1e-15)


def test_unknown_category_with_handle_unknown_error_raises() -> None:
    train = frame()
    model = churn_pipeline(handle_unknown="error").fit(train, target(train))
    plan = plan_for(model)
    assert np.array_equal(plan.run(frame(seed=6)).proba, model.predict_proba(frame(seed=6)))
    unseen = frame(seed=6, unseen=True)
    with pytest.raises(RefusedRows, match="enterprise") as refused:
        plan.run(unseen)
    assert refused.value.rows == list(np.flatnonzero((unseen["plan"] == "enterprise").to_numpy()))
    assert {r.field for r in refused.value.refusals} == {"plan"}


def test_other_final_estimators_run_on_the_plan_matrix() -> None:
    train = frame()
    model = churn_pipeline(RandomForestClassifier(n_estimators=10, random_state=0)).fit(train, target(train))
    plan = plan_for(model)
    assert plan.needs_sklearn
    new = frame(seed=7)
    assert np.array_equal(plan.run(new).proba, model.predict_proba(new))


@pytest.mark.parametrize(
    ("model", "reason"),
    [
        (make_pipeline(FunctionTransformer(np.square), LogisticRegression()), "FunctionTransformer"),
        (make_pipeline(SimpleImputer(add_indicator=True), LogisticRegression()), "add_indicator"),
        (churn_pipeline(min_frequency=50), "infrequent"),
        (object(), "not a scikit-learn estimator"),
    ],
)
def test_unsupported_parts_are_declined_with_a_reason(model: object, reason: str) -> None:
    if hasattr(model, "fit"):
        train = frame()
        numeric_only = not isinstance(model, Pipeline) or "features" not in model.named_steps
        model.fit(train[NUMERIC].fillna(0) if numeric_only else train, target(train))
    assert compile_model(model) is None
    assert reason in (explain_unsupported(model) or "")


def test_a_pickled_plan_runs_without_importing_scikit_learn(tmp_path) -> None:
    train = frame()
    model = churn_pipeline().fit(train, target(train))
    new = frame(seed=8)
    (tmp_path / "plan.pkl").write_bytes(pickle.dumps(plan_for(model)))
    new.to_pickle(tmp_path / "new.pkl")
    script = (
        "import pickle, sys, numpy as np, pandas as pd\n"
        f"plan = pickle.loads(open({str(tmp_path / 'plan.pkl')!r}, 'rb').read())\n"
        f"proba = plan.run(pd.read_pickle({str(tmp_path / 'new.pkl')!r})).proba\n"
        f"np.save({str(tmp_path / 'proba.npy')!r}, proba)\n"
        "print('sklearn' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
    assert np.array_equal(np.load(tmp_path / "proba.npy"), model.predict_proba(new))


def test_estimators_that_read_the_data_themselves_are_not_compiled() -> None:
    """A bare non-linear estimator, or one fitted on a DataFrame after the transforms, may
    rely on names or dtypes (native categorical support): the plan must not stand in for it."""
    from sklearn.ensemble import HistGradientBoostingClassifier

    train = frame()
    categorical = train.assign(plan=train["plan"].astype("category"), region=train["region"].astype("category"))
    native = HistGradientBoostingClassifier(categorical_features="from_dtype", max_iter=5).fit(
        categorical, target(train)
    )
    assert compile_model(native) is None
    assert "reads the data itself" in (explain_unsupported(native) or "")
    pandas_out = churn_pipeline(RandomForestClassifier(n_estimators=5, random_state=0), sparse_output=False)
    pandas_out.set_output(transform="pandas")
    pandas_out.fit(train, target(train))
    assert compile_model(pandas_out) is None
