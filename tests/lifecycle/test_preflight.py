"""Training refuses what it can check without a store before it connects: the tests point the
tracking URI at a port nobody listens on, so an error found after connecting would read
"unreachable" instead."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from mlflow import MlflowClient

from conveyor.core.errors import ExitCode

UNREACHABLE = "http://127.0.0.1:9"  # the discard port: connection refused


@pytest.mark.parametrize(
    ("old", "new", "code", "expected"),
    [
        ('roc_auc: ">= 0.80"', 'roc_auc: ">= 0.80", auc: ">= 0.8"', ExitCode.USAGE,
         "gate.metrics.auc: classification computes no metric 'auc'"),
        ("max_drop: 0.01}", "max_drop: 0.01, metrics: [auroc]}", ExitCode.USAGE,
         "gate.champion.metrics[auroc]: classification computes no metric 'auroc'"),
        ("demographic_parity_difference:", "parity_gap:", ExitCode.USAGE,
         "model is checked with demographic_parity_difference"),
        ("sensitive: [gender]", "sensitive: []", ExitCode.USAGE,
         "gate.fairness: list the groups to compare in features.sensitive"),
        ("train: data/train.parquet", "train: data/nope.parquet", ExitCode.FAILED, "training data not found"),
        ("target: churned", "target: left", ExitCode.FAILED, "column(s) ['left'] not found"),
        ("entrypoint: train.py:train", "entrypoint: train.py:fit", ExitCode.FAILED, "function 'fit' not found"),
    ],
)
def test_refused_before_connecting(
    cli, make_project: Callable[..., Path], edit_config, monkeypatch, old: str, new: str,
    code: int, expected: str,
) -> None:
    project = make_project(with_store=False)
    edit_config(project, old, new)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", UNREACHABLE)
    result = cli("train", "--project", project)
    assert result.exit_code == code, result.output
    assert expected in result.output and "unreachable" not in result.output
    assert "Traceback" not in result.output


def test_a_gate_metric_the_run_did_not_compute_registers_nothing(
    cli, project_dir: Path, edit_config
) -> None:
    """With a user evaluate function the names are known only after evaluation: refused
    then, the run FAILED, no version registered (never a gate-failed one)."""
    with (project_dir / "train.py").open("a") as module:
        module.write("\n\ndef evaluate(model, X, y):\n    return {'lift': 2.0}\n")
    edit_config(project_dir, "params: {C: 1.0}", "params: {C: 1.0}\n  evaluate: train.py:evaluate")
    edit_config(project_dir, 'f1: ">= 0.50"', 'f1: ">= 0.50", lift_at_10: ">= 1.5"')
    result = cli("train", "--project", project_dir)
    assert result.exit_code == ExitCode.USAGE, result.output
    assert "gate.metrics.lift_at_10: the run computed no metric 'lift_at_10'" in result.output
    assert "'lift'" in result.output
    uri = f"sqlite:///{project_dir / '.conveyor' / 'mlflow.db'}"
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    runs = client.search_runs([client.get_experiment_by_name("churn").experiment_id])
    assert [r.info.status for r in runs] == ["FAILED"]
    assert client.search_registered_models() == []
