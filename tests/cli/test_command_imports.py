"""`conveyor predict` and `conveyor monitor` import only what they need: with an inference
plan logged at training, neither the command's process nor its scoring workers import
scikit-learn (the plan is plain arrays; unpickling the estimator is what pulled it in).

Checked on the real command in a subprocess with Python's import trace
(``PYTHONPROFILEIMPORTTIME``, which the spawned worker processes inherit)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conveyor.app import Project
from conveyor.scaffold import generate_example_data


@pytest.fixture(scope="module")
def promoted(tmp_path_factory: pytest.TempPathFactory, example_template: Path, migrated_store: Path) -> Path:
    """The churn example trained (its plan logged) and promoted to prod, with a labelled batch."""
    folder = tmp_path_factory.mktemp("imports") / "churn"
    shutil.copytree(example_template, folder)
    (folder / ".conveyor").mkdir(exist_ok=True)
    shutil.copy(migrated_store, folder / ".conveyor" / "mlflow.db")
    project = Project.load(folder)
    project.train()
    project.promote("staging")
    project.promote("prod")
    generate_example_data(folder, rows=3000, seed=5, out=Path("data/batch.parquet"))
    return folder


def imported(args: list[str], cwd: Path) -> set[str]:
    """The top-level packages a `conveyor` command imported, in all of its processes."""
    env = {**os.environ, "PYTHONPROFILEIMPORTTIME": "1", "NO_COLOR": "1"}
    done = subprocess.run([sys.executable, "-m", "conveyor", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    trace = [line for line in done.stderr.splitlines() if line.startswith("import time:")]
    assert trace, "no import trace: PYTHONPROFILEIMPORTTIME was not honoured"
    return {line.rsplit("|", 1)[1].strip().split(".")[0] for line in trace}


def test_predict_with_a_logged_plan_imports_no_scikit_learn(promoted: Path, tmp_path: Path) -> None:
    packages = imported(["predict", "churn@prod", "--input", "data/batch.parquet",
                         "--output", str(tmp_path / "scored"), "--workers", "2"], promoted)
    assert "pyarrow" in packages  # the trace covers the scoring
    assert "sklearn" not in packages


def test_monitor_with_a_logged_plan_imports_no_scikit_learn(promoted: Path) -> None:
    packages = imported(["monitor", "churn", "--data", "data/batch.parquet", "--json"], promoted)
    assert "mlflow" in packages
    assert "sklearn" not in packages
