"""`conveyor train` end to end on the example, checked with MLflow's own client."""

from __future__ import annotations

import json
from pathlib import Path

import mlflow
import pytest
from mlflow import MlflowClient

from conveyor import Project
from conveyor.stack.tracking import fluent_scope


def client_for(project: Path) -> MlflowClient:
    uri = f"sqlite:///{project / '.conveyor' / 'mlflow.db'}"
    return MlflowClient(tracking_uri=uri, registry_uri=uri)


def test_train_registers_gated_version_with_alias(cli, project_dir: Path) -> None:
    result = cli("train", "--project", project_dir)
    assert result.exit_code == 0, result.output
    assert "passed the gate" in result.output

    client = client_for(project_dir)
    model = client.get_registered_model("churn")
    assert model.aliases == {"dev": 1}
    version = client.get_model_version("churn", "1")
    assert version.tags["conveyor.gate"] == "passed"
    assert json.loads(version.tags["conveyor.gate.reasons"]) == []
    assert any("roc_auc" in c for c in json.loads(version.tags["conveyor.gate.checks"]))
    table = {row["name"]: row for row in json.loads(version.tags["conveyor.gate.table"])}
    assert table["roc_auc"]["threshold"].startswith(">") and table["roc_auc"]["value"] > 0.8
    assert json.loads(version.tags["conveyor.stage.dev"])["action"] == "train"

    run = client.get_run(version.run_id)
    assert run.info.status == "FINISHED"
    assert run.data.metrics["roc_auc"] > 0.8
    assert {"accuracy", "f1", "roc_auc"} <= set(run.data.metrics)
    assert "fairness.gender.demographic_parity_difference" in run.data.metrics
    assert run.data.params["param.C"] == "1.0"
    assert len(run.data.tags["conveyor.data.sha256"]) == 64
    assert run.data.tags["conveyor.data.rows"] == "5000"
    artifacts = {a.path for a in client.list_artifacts(run.info.run_id, "conveyor")}
    assert {"conveyor/config.yaml", "conveyor/data_fingerprint.json"} <= artifacts


def test_logged_model_has_signature_example_and_pinned_requirements(project_dir: Path) -> None:
    project = Project.load(project_dir)
    result = project.train()
    uri = f"models:/churn/{result.version}"
    with fluent_scope(project.client):  # conveyor leaves MLflow's global URIs alone
        _check_logged_model(project_dir, uri)


def _check_logged_model(project_dir: Path, uri: str) -> None:
    info = mlflow.models.get_model_info(uri)
    assert info.signature is not None
    inputs = {c.name for c in info.signature.inputs.inputs}
    assert inputs == {"tenure_months", "monthly_charges", "total_charges", "support_calls",
                      "plan", "region", "payment_method"}
    assert "gender" not in inputs  # sensitive columns are not model inputs
    local = mlflow.artifacts.download_artifacts(uri)
    requirements = (Path(local) / "requirements.txt").read_text()
    assert "scikit-learn==" in requirements and "cloudpickle==" in requirements
    assert (Path(local) / "input_example.json").exists()
    model = mlflow.pyfunc.load_model(uri)
    assert len(model.predict(Project.load(project_dir).config and _frame(project_dir).head(3))) == 3


def _frame(project: Path):
    import pandas as pd

    return pd.read_parquet(project / "data" / "train.parquet").drop(columns=["churned"])


def test_failed_gate_registers_without_alias_and_exits_1(cli, project_dir: Path, edit_config) -> None:
    edit_config(project_dir, 'roc_auc: ">= 0.80"', 'roc_auc: ">= 0.99"')
    result = cli("train", "--project", project_dir)
    assert result.exit_code == 1
    assert "failed the quality gate" in result.output
    assert "roc_auc" in result.output and "fails >= 0.99" in result.output

    client = client_for(project_dir)
    version = client.get_model_version("churn", "1")
    assert version.tags["conveyor.gate"] == "failed"
    assert client.get_registered_model("churn").aliases == {}
    assert client.get_run(version.run_id).data.tags["conveyor.gate"] == "failed"


def test_challenger_worse_than_champion_fails(project_dir: Path, edit_config) -> None:
    project = Project.load(project_dir)
    project.train()
    project.promote("staging")
    project.promote("prod")
    # A much weaker model: one feature only.
    edit_config(project_dir, "numeric: [tenure_months, monthly_charges, total_charges, support_calls]",
                "numeric: [total_charges]")
    edit_config(project_dir, "categorical: [plan, region, payment_method]", "categorical: []")
    edit_config(project_dir, 'f1: ">= 0.50"', 'f1: ">= 0.0"')
    edit_config(project_dir, 'roc_auc: ">= 0.80"', 'roc_auc: ">= 0.5"')
    with pytest.raises(Exception) as caught:
        Project.load(project_dir).train()
    assert "champion prod v1 " in " ".join(caught.value.reasons)
    assert client_for(project_dir).get_registered_model("churn").aliases["prod"] == 1


def test_user_train_error_marks_run_failed_and_registers_nothing(cli, project_dir: Path) -> None:
    (project_dir / "train.py").write_text(
        "def train(X, y, params):\n    raise ValueError('bad hyperparameter C')\n"
    )
    result = cli("train", "--project", project_dir)
    assert result.exit_code == 1
    assert "Traceback" in result.output and "bad hyperparameter C" in result.output
    client = client_for(project_dir)
    runs = client.search_runs([client.get_experiment_by_name("churn").experiment_id])
    assert [r.info.status for r in runs] == ["FAILED"]
    assert client.search_registered_models() == []


def test_a_train_function_that_returns_nothing_is_named_without_a_traceback(cli, project_dir: Path) -> None:
    (project_dir / "train.py").write_text("def train(X, y, params):\n    X.shape\n")
    result = cli("train", "--project", project_dir)
    assert result.exit_code == 1
    assert "the user train function (train) returned None, not a fitted model" in result.output
    assert "return model" in result.output and "Traceback" not in result.output
    client = client_for(project_dir)
    runs = client.search_runs([client.get_experiment_by_name("churn").experiment_id])
    assert [r.info.status for r in runs] == ["FAILED"]
    assert client.search_registered_models() == []


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("train: data/train.parquet", "train: data/nope.parquet", "training data not found"),
        ("target: churned", "target: left", "column(s) ['left'] not found"),
        ("entrypoint: train.py:train", "entrypoint: model.py:train", "entrypoint module model.py not found"),
        ("entrypoint: train.py:train", "entrypoint: train.py:fit", "function 'fit' not found"),
    ],
)
def test_bad_input_is_one_clear_line_and_nothing_registered(
    cli, project_dir: Path, edit_config, old: str, new: str, expected: str
) -> None:
    edit_config(project_dir, old, new)
    result = cli("train", "--project", project_dir)
    assert result.exit_code == 1
    assert expected in result.output
    assert "Traceback" not in result.output
    assert client_for(project_dir).search_registered_models() == []


def test_config_error_exits_2_with_location(cli, project_dir: Path, edit_config) -> None:
    edit_config(project_dir, "task: classification", "task: ranking")
    result = cli("train", "--project", project_dir)
    assert result.exit_code == 2
    assert "conveyor.yaml:3 [task]" in result.output


def test_unreachable_tracking_store_fails_fast(cli, project_dir: Path, monkeypatch) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:9")  # discard port: refused
    result = cli("train", "--project", project_dir)
    assert result.exit_code == 9  # UNAVAILABLE
    assert "tracking store http://127.0.0.1:9 is unreachable" in result.output


def test_csv_data_and_regression_task(project_dir: Path, edit_config) -> None:
    import pandas as pd

    frame = pd.read_parquet(project_dir / "data" / "train.parquet")
    frame.to_csv(project_dir / "data" / "train.csv", index=False)
    edit_config(project_dir, "train: data/train.parquet", "train: data/train.csv")
    edit_config(project_dir, "task: classification", "task: regression")
    edit_config(project_dir, "target: churned", "target: monthly_charges")
    edit_config(project_dir, "numeric: [tenure_months, monthly_charges, total_charges, support_calls]",
                "numeric: [tenure_months, support_calls]")
    edit_config(project_dir, 'metrics: {roc_auc: ">= 0.80", f1: ">= 0.50"}', 'metrics: {r2: ">= 0.5"}')
    edit_config(project_dir, "fairness: {demographic_parity_difference: \"<= 0.10\"}", "fairness: {}")
    (project_dir / "train.py").write_text(
        "from sklearn.compose import make_column_transformer\n"
        "from sklearn.ensemble import HistGradientBoostingRegressor\n"
        "from sklearn.pipeline import make_pipeline\n"
        "from sklearn.preprocessing import OneHotEncoder\n"
        "def train(X, y, params):\n"
        "    ct = make_column_transformer((OneHotEncoder(handle_unknown='ignore'), ['plan', 'region', 'payment_method']),"
        " remainder='passthrough')\n"
        "    return make_pipeline(ct, HistGradientBoostingRegressor()).fit(X, y.fillna(y.mean()))\n"
    )
    (project_dir / "data" / "train.csv").write_text(
        frame.dropna(subset=["monthly_charges"]).to_csv(index=False)
    )
    result = Project.load(project_dir).train()
    assert {"rmse", "mae", "r2"} <= set(result.metrics)
    assert result.metrics["r2"] > 0.5


def test_secret_in_params_reaches_train_but_not_mlflow(project_dir: Path, edit_config, monkeypatch) -> None:
    monkeypatch.setenv("FEATURE_STORE_TOKEN", "tok-9f8e7d")
    edit_config(project_dir, "params: {C: 1.0}", "params: {C: 1.0, token: '${FEATURE_STORE_TOKEN}'}")
    (project_dir / "train.py").write_text(
        (project_dir / "train.py").read_text().replace(
            "    numeric = X.select_dtypes", "    assert params['token'] == 'tok-9f8e7d'\n    numeric = X.select_dtypes"
        )
    )
    result = Project.load(project_dir).train()
    client = client_for(project_dir)
    run = client.get_run(result.run_id)
    assert run.data.params["param.token"] == "***"
    snapshot = Path(client.download_artifacts(result.run_id, "conveyor/config.yaml")).read_text()
    assert "tok-9f8e7d" not in snapshot and "${FEATURE_STORE_TOKEN}" in snapshot
