"""One trained, promoted churn project for the whole batch test session (real MLflow, real model)."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest

os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)


@dataclass
class Trained:
    project: "object"
    path: Path
    model: object  # the prod model, loaded directly with mlflow.sklearn
    version: str

    def batch(self, name: str, rows: int, seed: int, fmt: str = "parquet") -> Path:
        from conveyor.scaffold import generate_example_data

        return generate_example_data(self.path, rows=rows, seed=seed, out=Path(f"data/{name}.{fmt}"))


@pytest.fixture(scope="session")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Trained:
    import mlflow

    import conveyor
    from conveyor.scaffold import init_project

    folder = init_project(tmp_path_factory.mktemp("batch") / "churn")
    project = conveyor.Project.load(folder)
    project.train()
    project.promote("staging")
    project.promote("prod")
    version = project.registry.alias_holder("churn", "prod")
    model = mlflow.sklearn.load_model(f"models:/churn/{version}")
    return Trained(project, folder, model, str(version))


@pytest.fixture(scope="session")
def new_batch(trained: Trained) -> Path:
    """2,500 rows in one Parquet file."""
    return trained.batch("new", rows=2500, seed=11)


def expected_scores(model: object, frame: pd.DataFrame) -> pd.DataFrame:
    columns = ["tenure_months", "monthly_charges", "total_charges", "support_calls", "plan", "region", "payment_method"]
    X = frame[columns]
    return pd.DataFrame(
        {"prediction": model.predict(X), "probability": model.predict_proba(X)[:, 1]}  # type: ignore[attr-defined]
    )


@pytest.fixture(scope="session")
def expected(trained: Trained):
    """Direct predictions of the prod model on a frame: what batch output must equal."""
    return lambda frame: expected_scores(trained.model, frame)
