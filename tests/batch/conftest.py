"""One trained, promoted churn project for the whole batch test session (real MLflow, real model).

Tests leave it as it was: generated inputs go to a session folder of their own, and a test
that writes hooks or changes the config works on its own copy (`own_project`)."""

from __future__ import annotations

import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest

os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)


@dataclass
class Trained:
    project: object
    path: Path
    model: object  # the prod model, loaded directly with mlflow.sklearn
    version: str
    data: Path  # generated inputs, outside the project

    def batch(self, name: str, rows: int, seed: int, fmt: str = "parquet") -> Path:
        from conveyor.scaffold import generate_example_data

        return generate_example_data(self.path, rows=rows, seed=seed, out=self.data / f"{name}.{fmt}")


@pytest.fixture(scope="session")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Trained:
    import conveyor
    from conveyor.scaffold import init_project
    from conveyor.stack.tracking import fluent_scope

    folder = init_project(tmp_path_factory.mktemp("batch") / "churn")
    project = conveyor.Project.load(folder)
    project.train()
    project.promote("staging")
    project.promote("prod")
    version = project.registry.alias_holder("churn", "prod")
    with fluent_scope(project.client) as mlflow:  # conveyor leaves the global URIs alone
        model = mlflow.sklearn.load_model(f"models:/churn/{version}")
    return Trained(project, folder, model, str(version), tmp_path_factory.mktemp("batch-inputs"))


@pytest.fixture
def own_project(trained: Trained, tmp_path: Path) -> Trained:
    """A copy of the trained project for one test that writes files into it or edits its
    config (its registry is the same; the model artifacts stay where the original logged them)."""
    import conveyor

    folder = tmp_path / "churn"
    shutil.copytree(trained.path, folder)
    return Trained(conveyor.Project.load(folder), folder, trained.model, trained.version, trained.data)


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


@pytest.fixture(scope="session")
def spark():
    """One local Spark session for the whole test session."""
    from pyspark.sql import SparkSession

    session = (
        SparkSession.builder.master("local[2]")
        .appName("conveyor-tests")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.shuffle.partitions", "2")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()
