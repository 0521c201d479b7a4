"""A trained churn project shared by the monitoring tests (trained once per session)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest

from conveyor.app import Project
from conveyor.scaffold import generate_example_data


def _trained(folder: Path, template: Path, store: Path) -> Path:
    shutil.copytree(template, folder)
    (folder / ".conveyor").mkdir(exist_ok=True)
    shutil.copy(store, folder / ".conveyor" / "mlflow.db")
    Project.load(folder).train()
    return folder


@pytest.fixture(scope="session")
def trained_project(tmp_path_factory: pytest.TempPathFactory, example_template: Path,
                    migrated_store: Path) -> Path:
    """The example trained once: v1 holds dev. Tests must not change its registry."""
    folder = _trained(tmp_path_factory.mktemp("monitoring") / "churn", example_template, migrated_store)
    generate_example_data(folder, rows=2000, seed=8, drift=1.0, out=Path("data/drifted.parquet"))
    generate_example_data(folder, rows=2000, seed=9, drift=0.0, out=Path("data/fresh.parquet"))
    return folder


@pytest.fixture
def fresh_trained_project(tmp_path: Path, example_template: Path, migrated_store: Path) -> Path:
    """A project of the test's own, for tests that change the registry or artifacts."""
    return _trained(tmp_path / "churn", example_template, migrated_store)


TRAIN_PY = '''
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler


def train(X, y, params):
    if params.get("task") == "regression":
        return make_pipeline(StandardScaler(), LinearRegression()).fit(X, y)
    return make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000)).fit(X, y)
'''


def sklearn_frame(dataset: str) -> pd.DataFrame:
    """One of scikit-learn's bundled datasets as a frame with a ``target`` column (feature
    names made identifier-like)."""
    from sklearn import datasets

    loaded = getattr(datasets, f"load_{dataset}")(as_frame=True)
    frame = loaded.frame.copy()
    frame.columns = [str(c).replace(" ", "_").replace("/", "_").replace("(", "").replace(")", "")
                     for c in frame.columns]
    return frame


@pytest.fixture
def sklearn_project(tmp_path: Path, migrated_store: Path):
    """``make(dataset, gate=..., extra=...)``: a project on a scikit-learn dataset (all columns
    but ``target`` numeric features), trained once: v1 holds dev."""

    def make(dataset: str, *, gate: str = "", extra: str = "", sensitive: list[str] | None = None,
             frame: pd.DataFrame | None = None, train: bool = True) -> Path:
        data = sklearn_frame(dataset) if frame is None else frame
        task = "regression" if dataset == "diabetes" else "classification"
        folder = tmp_path / dataset
        (folder / "data").mkdir(parents=True)
        (folder / ".conveyor").mkdir()
        shutil.copy(migrated_store, folder / ".conveyor" / "mlflow.db")
        data.to_parquet(folder / "data" / "train.parquet")
        numeric = [c for c in data.columns if c != "target" and c not in (sensitive or [])]
        (folder / "train.py").write_text(TRAIN_PY)
        (folder / "conveyor.yaml").write_text(
            f"name: {dataset}\ntask: {task}\ntarget: target\n"
            "data: {train: data/train.parquet, split: {test_size: 0.2, seed: 0}}\n"
            f"features: {{numeric: [{', '.join(numeric)}], sensitive: [{', '.join(sensitive or [])}]}}\n"
            f"train: {{entrypoint: train.py:train, params: {{task: {task}}}}}\n"
            f"gate: {{champion: false{', ' + gate if gate else ''}}}\n"
            "stages: [dev, prod]\n" + extra
        )
        if train:
            Project.load(folder).train()
        return folder

    return make
