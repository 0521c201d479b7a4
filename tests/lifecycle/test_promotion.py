"""Promotion and rollback through the CLI: rules, tags, audit log."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from mlflow import MlflowClient

from conveyor import Project
from conveyor.core.errors import ExitCode


@pytest.fixture
def trained(project_dir: Path) -> Path:
    """A project with v1 (passed, dev) and v2 (failed gate)."""
    project = Project.load(project_dir)
    project.train()
    project.config.gate.metrics["roc_auc"] = type(project.config.gate.metrics["roc_auc"]).parse(">= 0.99")
    with pytest.raises(Exception, match="failed the quality gate"):
        project.train()
    return project_dir


def client_for(project: Path) -> MlflowClient:
    uri = f"sqlite:///{project / '.conveyor' / 'mlflow.db'}"
    return MlflowClient(tracking_uri=uri, registry_uri=uri)


def test_promote_through_stages_records_tags_and_audit(cli, trained: Path, monkeypatch) -> None:
    monkeypatch.setenv("CONVEYOR_USER", "alice")
    assert cli("promote", "churn", "--to", "staging", "--project", trained).exit_code == 0
    result = cli("promote", "churn", "--to", "prod", "--project", trained, "--reason", "weekly release")
    assert result.exit_code == 0, result.output
    assert "prod none → v1" in result.output

    client = client_for(trained)
    model = client.get_registered_model("churn")
    assert model.aliases == {"dev": 1, "staging": 1, "prod": 1}
    move = json.loads(client.get_model_version("churn", "1").tags["conveyor.stage.prod"])
    assert move["who"] == "alice" and move["reason"] == "weekly release"
    assert move["from_version"] is None and move["to_version"] == "1"
    assert json.loads(model.tags["conveyor.history.prod"]) == ["1"]

    events = Project.load(trained).audit()
    assert [(e["action"], e["stage"], e["to_version"]) for e in events] == [
        ("train", "dev", "1"), ("promote", "staging", "1"), ("promote", "prod", "1")
    ]
    audit = cli("audit", "--project", trained, "--json")
    assert json.loads(audit.output)[-1]["who"] == "alice"


def test_failed_version_cannot_be_promoted(cli, trained: Path) -> None:
    result = cli("promote", "--to", "dev", "--version", "2", "--project", trained)
    assert result.exit_code == 1
    assert "did not pass the quality gate" in result.output


def test_only_from_the_previous_stage(cli, trained: Path) -> None:
    result = cli("promote", "--to", "prod", "--project", trained)
    assert result.exit_code == 1
    assert "no version holds 'staging'" in result.output
    result = cli("promote", "--to", "prod", "--version", "1", "--project", trained)
    assert result.exit_code == 1
    assert "only from 'staging'" in result.output


def test_unknown_version_and_stage(cli, trained: Path) -> None:
    result = cli("promote", "--to", "staging", "--version", "42", "--project", trained)
    assert result.exit_code == ExitCode.NOT_FOUND and "has no version 42" in result.output
    result = cli("promote", "--to", "production", "--project", trained)
    assert result.exit_code == ExitCode.USAGE and "unknown stage 'production'" in result.output
    result = cli("models", "nosuchmodel", "--project", trained)
    assert result.exit_code == ExitCode.NOT_FOUND and "no registered model named 'nosuchmodel'" in result.output


def test_force_needs_reason_and_is_recorded(cli, trained: Path) -> None:
    result = cli("promote", "--to", "prod", "--version", "2", "--force", "--project", trained)
    assert result.exit_code == ExitCode.USAGE and "--reason" in result.output
    result = cli("promote", "--to", "prod", "--version", "2", "--force", "--reason", "hotfix",
                 "--project", trained)
    assert result.exit_code == 0, result.output
    move = json.loads(client_for(trained).get_model_version("churn", "2").tags["conveyor.stage.prod"])
    assert move["forced"] is True and move["reason"] == "hotfix"


def test_rollback_returns_previous_holder(cli, trained: Path) -> None:
    project = Project.load(trained)
    project.promote("staging")
    project.promote("prod")
    project.promote("prod", 2, force=True, reason="try v2")
    result = cli("rollback", "churn", "--stage", "prod", "--project", trained)
    assert result.exit_code == 0, result.output
    assert "v2 → v1" in result.output
    assert client_for(trained).get_registered_model("churn").aliases["prod"] == 1
    result = cli("rollback", "churn", "--stage", "prod", "--project", trained)
    assert result.exit_code == 1 and "no previous holder" in result.output
    assert [e["action"] for e in project.audit()][-1] == "rollback"


def test_promote_is_idempotent(cli, trained: Path) -> None:
    assert cli("promote", "--to", "staging", "--project", trained).exit_code == 0
    result = cli("promote", "--to", "staging", "--project", trained)
    assert result.exit_code == 0 and "nothing changed" in result.output


def test_models_table_and_json(cli, trained: Path) -> None:
    table = cli("models", "--project", trained)
    assert table.exit_code == 0
    assert "passed" in table.output and "failed" in table.output
    data = json.loads(cli("models", "churn", "--project", trained, "--json").output)
    by_version = {v["version"]: v for v in data["versions"]}
    assert by_version["1"]["aliases"] == ["dev"] and by_version["1"]["gate"] == "passed"
    assert by_version["2"]["gate"] == "failed" and by_version["2"]["reasons"]
    assert by_version["1"]["metrics"]["roc_auc"] > 0.8
