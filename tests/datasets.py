"""Projects on scikit-learn's bundled data, as a new user writes them from the README:
diabetes (StandardScaler + Ridge, no imputer: scikit-learn raises on a missing value) and
wine (three classes; a text column one-hot encoded with ``handle_unknown="error"``)."""

from __future__ import annotations

import shutil
import textwrap
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

DIABETES_FEATURES = ["age", "sex", "bmi", "bp", "s1", "s2", "s3", "s4", "s5", "s6"]
WINE_NUMERIC = ["alcohol", "malic_acid", "ash", "magnesium", "flavanoids", "color_intensity", "proline"]
WINE_FEATURES = [*WINE_NUMERIC, "hue_band"]

DIABETES_TRAIN = '''
from sklearn.linear_model import Ridge
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler


def train(X, y, params):
    return make_pipeline(StandardScaler(), Ridge(alpha=1.0)).fit(X, y)
'''

WINE_TRAIN = '''
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler


def train(X, y, params):
    features = ColumnTransformer([
        ("num", StandardScaler(), [c for c in X.columns if c != "hue_band"]),
        ("cat", OneHotEncoder(handle_unknown="error"), ["hue_band"]),
    ])
    return Pipeline([("features", features), ("model", LogisticRegression(max_iter=2000))]).fit(X, y)
'''


@dataclass(frozen=True)
class DatasetProject:
    path: Path
    name: str
    features: list[str]
    frame: pd.DataFrame  # the whole dataset, target included
    target: str = "target"

    def model(self) -> object:
        """The prod version's estimator, loaded with MLflow's own sklearn flavor."""
        from conveyor.app import Project
        from conveyor.stack.tracking import fluent_scope

        project = Project.load(self.path)
        with fluent_scope(project.client) as mlflow:
            return mlflow.sklearn.load_model(f"models:/{self.name}@prod")


def diabetes_frame() -> pd.DataFrame:
    from sklearn.datasets import load_diabetes

    return load_diabetes(as_frame=True).frame


def wine_frame() -> pd.DataFrame:
    from sklearn.datasets import load_wine

    frame = load_wine(as_frame=True).frame
    out = frame[[*WINE_NUMERIC, "target"]].copy()
    out["hue_band"] = np.where(frame["hue"] < 0.8, "low", np.where(frame["hue"] < 1.1, "mid", "high")).astype(object)
    return out[[*WINE_FEATURES, "target"]]


def write_project(folder: Path, name: str, task: str, features: list[str], frame: pd.DataFrame,
                  train_code: str, gate: str, store: Path | None = None) -> Path:
    folder.mkdir(parents=True)
    (folder / "data").mkdir()
    frame.to_parquet(folder / "data" / "train.parquet", index=False)
    (folder / "train.py").write_text(train_code)
    numeric = [f for f in features if pd.api.types.is_numeric_dtype(frame[f])]
    categorical = [f for f in features if f not in numeric]
    (folder / "conveyor.yaml").write_text(textwrap.dedent(f"""\
        name: {name}
        task: {task}
        target: target
        data:
          train: data/train.parquet
          split: {{method: random, test_size: 0.25, stratify: {str(task == "classification").lower()}}}
        features:
          numeric: [{", ".join(numeric)}]
          categorical: [{", ".join(categorical)}]
        train:
          entrypoint: train.py:train
        gate:
          metrics: {gate}
          champion: false
        stages: [prod]
        """))
    if store is not None:
        (folder / ".conveyor").mkdir()
        shutil.copy(store, folder / ".conveyor" / "mlflow.db")
    return folder


def trained(folder: Path, name: str, task: str, features: list[str], frame: pd.DataFrame, train_code: str,
            gate: str, store: Path | None) -> DatasetProject:
    """The project written, trained and gated (the version holds prod, the only stage)."""
    from conveyor.app import Project

    write_project(folder, name, task, features, frame, train_code, gate, store)
    Project.load(folder).train()
    return DatasetProject(folder, name, features, frame)


def diabetes_project(folder: Path, store: Path | None = None) -> DatasetProject:
    return trained(folder, "diabetes", "regression", DIABETES_FEATURES, diabetes_frame(), DIABETES_TRAIN,
                   '{r2: ">= 0.2"}', store)


def wine_project(folder: Path, store: Path | None = None) -> DatasetProject:
    return trained(folder, "wine", "classification", WINE_FEATURES, wine_frame(), WINE_TRAIN,
                   '{accuracy: ">= 0.8"}', store)
