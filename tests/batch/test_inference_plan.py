"""Batch jobs score with the inference plan logged at training time, without scikit-learn."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from conveyor.batch import predict
from conveyor.inference.artifact import PLAN_ARTIFACT, PLAN_TAG, load_plan

FEATURES = ["tenure_months", "monthly_charges", "total_charges", "support_calls", "plan", "region", "payment_method"]


def test_training_logs_a_plan_that_matches_the_model(trained, new_batch) -> None:
    client = trained.project.client
    run_id = client.get_model_version("churn", trained.version).run_id
    assert client.get_run(run_id).data.tags[PLAN_TAG] == PLAN_ARTIFACT
    plan = load_plan(client, run_id)
    assert plan is not None and not plan.needs_sklearn
    frame = pd.read_parquet(new_batch)[FEATURES]
    assert np.array_equal(plan.run(frame).proba, trained.model.predict_proba(frame))


def test_an_unreadable_plan_falls_back_to_compiling_the_model(trained, new_batch, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr("conveyor.inference.artifact.PLAN_FORMAT", 999)  # as if logged by another release
    run_id = trained.project.client.get_model_version("churn", trained.version).run_id
    assert load_plan(trained.project.client, run_id) is None
    result = predict(trained.project, "churn@prod", str(new_batch), str(tmp_path / "out"), batch_size=1000)
    assert result.manifest.extra["scoring"].startswith("inference plan")
    scored = pd.read_parquet(tmp_path / "out")
    assert scored["prediction"].tolist() == trained.model.predict(pd.read_parquet(new_batch)[FEATURES]).tolist()


def test_the_job_driver_never_imports_scikit_learn(trained, new_batch, tmp_path: Path) -> None:
    out = tmp_path / "out"
    script = (
        "import json, sys\n"
        "import conveyor\n"
        "from conveyor.batch import predict\n"
        f"project = conveyor.Project.load({str(trained.path)!r})\n"
        f"result = predict(project, 'churn@prod', {str(new_batch)!r}, {str(out)!r}, workers=1)\n"
        "print(json.dumps({'sklearn': 'sklearn' in sys.modules, 'rows': result.manifest.rows_out}))\n"
    )
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    report = json.loads(run.stdout.strip().splitlines()[-1])
    assert report == {"sklearn": False, "rows": 2500}  # one worker: scored in this very process
