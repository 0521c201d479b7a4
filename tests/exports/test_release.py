"""`conveyor release`: tests → pack → export → publish, recorded, idempotent, and nothing
published when a step fails."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

PACK = "s3://ml-artifacts/churn/packs/0123abcd.tar.gz"


@pytest.fixture
def release_project(scheduled_project: Path, edit_config: Callable[..., None], tmp_path: Path) -> Path:
    edit_config(scheduled_project, "  dev: {}",
                f"  dev: {{dags: {tmp_path / 'pub' / 'dags'}, manifests: {tmp_path / 'pub' / 'manifests'}}}")
    with (scheduled_project / "conveyor.yaml").open("a") as config:
        config.write("  kubernetes: {image: registry.example.com/conveyor-spark:4.0}\n")
    return scheduled_project


def _release(cli: Callable[..., Any], project: Path, *extra: str) -> Any:
    return cli("release", "--project", project, "--env", "dev", "--pack", PACK, "--json", *extra)


def test_a_release_publishes_records_and_changes_nothing_the_second_time(
    cli: Callable[..., Any], release_project: Path, tmp_path: Path
) -> None:
    (release_project / "tests").mkdir()
    (release_project / "tests" / "test_model.py").write_text("def test_passes():\n    assert 1 + 1 == 2\n")
    first = _release(cli, release_project)
    assert first.exit_code == 0, first.output
    result = json.loads(first.stdout)
    assert result["tests"] == "passed" and result["pack_uri"] == PACK
    names = sorted(Path(f["target"]).name for f in result["files"])
    assert "churn_train.py" in names and "churn-dev-train.sparkapplication.yaml" in names
    assert "conveyor_job.py" in names
    assert all(f["changed"] for f in result["files"])
    assert (tmp_path / "pub" / "dags" / "churn_train.py").is_file()
    assert (tmp_path / "pub" / "manifests" / "churn-dev-serve.deployment.yaml").is_file()
    again = json.loads(_release(cli, release_project).stdout)
    assert not any(f["changed"] for f in again["files"])
    assert [f["sha256"] for f in again["files"]] == [f["sha256"] for f in result["files"]]
    audit = json.loads(cli("audit", "--project", release_project, "--env", "dev", "--json").stdout)
    releases = [e for e in audit if e["action"] == "release"]
    assert len(releases) == 2
    assert releases[0]["release"]["files"][0]["sha256"] == result["files"][0]["sha256"]


def test_a_dry_run_publishes_nothing(cli: Callable[..., Any], release_project: Path, tmp_path: Path) -> None:
    result = _release(cli, release_project, "--dry-run")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["dry_run"] is True
    assert not (tmp_path / "pub").exists()


def test_failing_project_tests_publish_nothing(cli: Callable[..., Any], release_project: Path, tmp_path: Path) -> None:
    (release_project / "tests").mkdir()
    (release_project / "tests" / "test_model.py").write_text("def test_fails():\n    assert 1 == 2\n")
    result = _release(cli, release_project)
    assert result.exit_code == 1
    assert "the project's tests failed" in result.output
    assert not (tmp_path / "pub").exists()


def test_a_stand_with_nowhere_to_publish_is_refused(cli: Callable[..., Any], scheduled_project: Path) -> None:
    result = _release(cli, scheduled_project)
    assert result.exit_code == 2
    assert "environments.dev.dags" in result.output


def test_a_dry_run_names_the_pack_it_would_build(cli: Callable[..., Any], release_project: Path, tmp_path: Path) -> None:
    from conveyor.app import Project

    Project.load(release_project, env="dev").train()
    result = cli("release", "--project", release_project, "--env", "dev", "--dry-run", "--json")
    assert result.exit_code == 0, result.output
    planned = json.loads(result.stdout)
    assert planned["version"] == "1" and planned["pack_uri"] == "<pack of churn v1, built by the release>"
    assert not (tmp_path / "pub").exists()


def test_a_pipeline_that_lost_its_schedule_is_unpublished(
    cli: Callable[..., Any], release_project: Path, edit_config: Callable[..., None], tmp_path: Path
) -> None:
    assert _release(cli, release_project).exit_code == 0
    assert (tmp_path / "pub" / "dags" / "churn_batch.py").is_file()
    edit_config(release_project, '  output: out/scores\n  schedule: "0 2 * * *"\n', "  output: out/scores\n")
    result = _release(cli, release_project)
    assert result.exit_code == 0, result.output
    removed = json.loads(result.stdout)["removed"]
    assert sorted(Path(r).name for r in removed) == ["churn-dev-batch.sparkapplication.yaml", "churn_batch.py"]
    assert not (tmp_path / "pub" / "dags" / "churn_batch.py").exists()
    assert (tmp_path / "pub" / "dags" / "churn_train.py").is_file()
