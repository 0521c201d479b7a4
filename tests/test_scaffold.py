"""`conveyor init --template`: every template trains and passes its own gate as created."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest
import yaml

from conveyor.scaffold import TEMPLATES

MIGRATED_DB = "mlflow.db"  # the name the embedded stack opens


@pytest.mark.parametrize("template", list(TEMPLATES))
def test_each_template_trains_and_passes_its_gate(cli, tmp_path: Path, migrated_store: Path,
                                                  template: str) -> None:
    folder = tmp_path / template
    created = cli("init", folder, "--template", template)
    assert created.exit_code == 0, created.output
    config = yaml.safe_load((folder / "conveyor.yaml").read_text())
    data = pd.read_parquet(folder / "data" / "train.parquet")
    assert {config["target"], *config["features"].get("numeric", [])} <= set(data.columns)
    classes = data[config["target"]].nunique()
    expected = {"classification": (config["task"] == "classification" and classes == 2),
                "multiclass": (config["task"] == "classification" and classes == 3),
                "regression": config["task"] == "regression"}
    assert expected[template], (config["task"], classes)

    (folder / ".conveyor").mkdir()
    shutil.copy(migrated_store, folder / ".conveyor" / MIGRATED_DB)
    trained = cli("train", "--project", folder, "--json")
    assert trained.exit_code == 0, trained.output
    assert '"gate": "passed"' in trained.output and '"alias": "dev"' in trained.output


def test_named_template_and_default(cli, tmp_path: Path) -> None:
    assert cli("init", tmp_path / "r", "--template", "regression", "--name", "progress").exit_code == 0
    assert yaml.safe_load((tmp_path / "r" / "conveyor.yaml").read_text())["name"] == "progress"
    assert cli("init", tmp_path / "c").exit_code == 0
    assert yaml.safe_load((tmp_path / "c" / "conveyor.yaml").read_text())["name"] == "churn"
