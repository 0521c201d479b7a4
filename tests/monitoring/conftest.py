"""A trained churn project shared by the monitoring tests (trained once per session)."""

from __future__ import annotations

import shutil
from pathlib import Path

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
