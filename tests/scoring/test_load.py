"""Loading a version: from the logged inference plan when there is one (moved from
tests/serving/test_model.py)."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import numpy as np


def test_a_version_with_a_logged_plan_is_served_from_the_plan_alone(trained_template: Any, records: Any) -> None:
    import pandas as pd

    from conveyor.app import Project
    from conveyor.scoring import load_version
    from conveyor.stack.tracking import fluent_scope

    project = Project.load(trained_template["path"])
    model = load_version(project.client, "churn", trained_template["good"])
    assert model.flavor == "plan" and model.estimator is None and model.inline
    assert model.output_kind == "classifier"
    rows = records(20)
    columns = {name: [row[name] for row in rows] for name in rows[0]}
    with fluent_scope(project.client) as mlflow:
        estimator = mlflow.sklearn.load_model(f"models:/churn/{trained_template['good']}")
    frame = pd.DataFrame(rows)
    out = model.predict(columns)
    assert out.labels.tolist() == estimator.predict(frame).tolist()
    assert np.array_equal(out.scores, estimator.predict_proba(frame)[:, 1])


def test_serving_from_a_plan_never_imports_scikit_learn(trained_template: Any) -> None:
    script = (
        "import sys\n"
        "from conveyor.app import Project\n"
        "from conveyor.scoring import load_version\n"
        f"project = Project.load({str(trained_template['path'])!r})\n"
        f"model = load_version(project.client, 'churn', {trained_template['good']!r})\n"
        "print(model.flavor, 'sklearn' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "plan False"
