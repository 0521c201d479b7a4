"""One trained churn project for the scoring tests, with one registered version per kind of
model: the logged plan (trained), a compiled pipeline, an SVC behind a QuantileTransformer, a
histogram gradient-boosting classifier, a multiclass model, a regressor and a pyfunc model."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

RECORD = {
    "tenure_months": 8.0, "monthly_charges": 68.07, "total_charges": 566.28, "support_calls": 1.0,
    "plan": "standard", "region": "south", "payment_method": "card",
}
NUMERIC = ["tenure_months", "monthly_charges", "total_charges", "support_calls"]
CATEGORICAL = ["plan", "region", "payment_method"]
FEATURES = NUMERIC + CATEGORICAL


@dataclass
class Registered:
    project: Any
    path: Path
    versions: dict[str, str]  # kind -> version
    models: dict[str, Any]  # kind -> the fitted model (what its predict() says)
    tasks: dict[str, str]  # kind -> classification | regression


def _features(numeric: Any) -> Any:
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder

    return ColumnTransformer([
        ("num", make_pipeline(SimpleImputer(strategy="median"), numeric), NUMERIC),
        ("cat", make_pipeline(SimpleImputer(strategy="constant", fill_value="missing"),
                              OneHotEncoder(handle_unknown="ignore")), CATEGORICAL),
    ])


def _fitted(train: pd.DataFrame) -> dict[str, tuple[Any, str]]:
    import numpy as np
    from mlflow.pyfunc import PythonModel
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.linear_model import LogisticRegression, Ridge
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OrdinalEncoder, QuantileTransformer, StandardScaler
    from sklearn.svm import SVC

    X, y = train[FEATURES], train["churned"]
    quantiles = QuantileTransformer(n_quantiles=100)
    tenure = np.array(["new", "settled", "loyal"])[np.digitize(train["tenure_months"], [12, 36])]

    class Rule(PythonModel):
        def predict(self, context, model_input, params=None):  # type: ignore[no-untyped-def]
            return (model_input["support_calls"] >= 2).astype("int64")

    hgb_features = ColumnTransformer([
        ("num", "passthrough", NUMERIC),
        ("cat", OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1), CATEGORICAL),
    ])
    return {
        "compiled": (make_pipeline(_features(StandardScaler()), LogisticRegression(max_iter=1000)).fit(X, y),
                     "classification"),
        "svc": (make_pipeline(_features(quantiles), SVC(probability=True, random_state=0)).fit(X, y),
                "classification"),
        "hgb": (make_pipeline(hgb_features, HistGradientBoostingClassifier(max_iter=40, random_state=0)).fit(X, y),
                "classification"),
        "multiclass": (make_pipeline(_features(QuantileTransformer(n_quantiles=100)),
                                     LogisticRegression(max_iter=1000)).fit(X, tenure), "classification"),
        "regressor": (make_pipeline(_features(QuantileTransformer(n_quantiles=100)), Ridge()).fit(
            X, train["monthly_charges"].fillna(0) * 12), "regression"),
        "pyfunc": (Rule(), "classification"),
    }


def _log(project: Any, kind: str, model: Any, example: pd.DataFrame) -> str:
    from mlflow.models import infer_signature

    from conveyor.stack.tracking import ensure_experiment, fluent_run

    client = project.client
    experiment = ensure_experiment(client, "scoring-tests", project.stack.mlflow_artifact_root)
    run_id = client.create_run(experiment, run_name=kind).info.run_id
    with fluent_run(client, run_id) as mlflow:
        if kind == "pyfunc":
            output = model.predict(None, example)
            info = mlflow.pyfunc.log_model(name="model", python_model=model, input_example=example,
                                           signature=infer_signature(example, output), pip_requirements=["mlflow"])
        else:
            info = mlflow.sklearn.log_model(model, name="model", input_example=example,
                                            signature=infer_signature(example, model.predict(example)),
                                            serialization_format="cloudpickle", pip_requirements=["scikit-learn"])
    client.set_terminated(run_id)
    source = client.get_logged_model(info.model_id).artifact_location  # not the global store
    mv = client.create_model_version(project.name, source, run_id=run_id, model_id=info.model_id)
    return str(mv.version)


@pytest.fixture(scope="session")
def registered(tmp_path_factory: pytest.TempPathFactory) -> Registered:
    from conveyor.app import Project
    from conveyor.scaffold import init_project
    from conveyor.stack.tracking import fluent_scope

    folder = init_project(tmp_path_factory.mktemp("scoring") / "churn")
    project = Project.load(folder)
    project.train()
    project.promote("staging")
    project.promote("prod")
    train = pd.read_parquet(folder / "data" / "train.parquet")
    versions = {"plan": "1"}
    with fluent_scope(project.client) as mlflow:
        models: dict[str, Any] = {"plan": mlflow.sklearn.load_model("models:/churn/1")}
    tasks = {"plan": "classification"}
    example = train[FEATURES].dropna().head(5)
    for kind, (model, task) in _fitted(train.head(1500)).items():
        versions[kind] = _log(project, kind, model, example)
        models[kind], tasks[kind] = model, task
    return Registered(project, folder, versions, models, tasks)


@pytest.fixture(scope="session")
def trained_template(registered: Registered) -> dict[str, Any]:
    """The shape tests/serving's fixture of the same name has: the path and the trained version."""
    return {"path": registered.path, "good": registered.versions["plan"]}


@pytest.fixture
def records() -> Callable[[int], list[dict[str, Any]]]:
    def make(n: int = 1) -> list[dict[str, Any]]:
        return [dict(RECORD, tenure_months=float(i % 60), support_calls=float(i % 5)) for i in range(n)]

    return make
