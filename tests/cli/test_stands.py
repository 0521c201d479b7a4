"""`conveyor promote` across stands, `conveyor models --env STAND`, `conveyor predict --env`
on the copy, and the one-line errors when the target stand cannot be reached."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from conveyor import Project
from tests.lifecycle.conftest import SimStand, free_port
from tests.lifecycle.test_version_copy import visible_on_target


def test_promote_across_stands_then_each_stand_shows_its_truth(
    cli, stands_project: Path, sim_stand: SimStand, tmp_path: Path
) -> None:
    project = Project.load(stands_project)
    project.train()
    model = project.name

    promoted = cli("promote", model, "--to", "int", "--project", stands_project)
    assert promoted.exit_code == 0, promoted.output
    assert "int none → v1" in promoted.output
    assert "on stand sim: v1 is copied of v1 on stand default" in promoted.output

    on_sim = json.loads(cli("models", model, "--env", "sim", "--project", stands_project, "--json").output)
    assert [(v["version"], v["aliases"], v["gate"]) for v in on_sim["versions"]] == [("1", ["int"], "passed")]
    table = cli("models", model, "--env", "sim", "--project", stands_project)
    assert "copied from" in table.output and "v1" in table.output
    here = json.loads(cli("models", model, "--project", stands_project, "--json").output)
    assert [v["aliases"] for v in here["versions"]] == [["dev"]]
    audit = cli("audit", "--env", "sim", "--project", stands_project)
    assert "default v1 → sim v1" in audit.output

    data = stands_project / "data" / "train.parquet"
    outputs = {}
    for ref, env in ((f"{model}@dev", None), (f"{model}@int", "sim")):
        out = tmp_path / f"scores-{env or 'default'}"
        args = ["predict", ref, "--input", data, "--output", out, "--workers", "1", "--project", stands_project]
        result = cli(*args, *(["--env", env] if env else []))
        assert result.exit_code == 0, result.output
        outputs[env] = pd.read_parquet(out).sort_index(axis=1)
    # the same scores; only the run that produced the model differs (the copy's own run)
    assert outputs[None]["model_run_id"].iloc[0] != outputs["sim"]["model_run_id"].iloc[0]
    pd.testing.assert_frame_equal(outputs[None].drop(columns="model_run_id"),
                                  outputs["sim"].drop(columns="model_run_id"))


def test_an_unreachable_target_registry_is_one_line_and_nothing_is_promoted(
    cli, stands_project: Path, sim_stand: SimStand, edit_config
) -> None:
    dead = f"postgresql://postgres:topsecret@127.0.0.1:{free_port()}/mlflow"
    edit_config(stands_project, f"tracking_uri: {sim_stand.tracking_uri}", f"tracking_uri: {dead}")
    project = Project.load(stands_project)
    project.train()

    result = cli("promote", "--to", "int", "--project", stands_project)
    assert result.exit_code == 9  # UNAVAILABLE
    first = result.output.strip().splitlines()[0]
    assert "stand 'sim' (stage 'int') cannot be reached" in first
    assert "postgresql://postgres:***@127.0.0.1:" in first and "topsecret" not in result.output
    assert "nothing was written to that stand" in result.output
    assert [e["action"] for e in project.audit()] == ["train"]


def test_an_unreachable_target_artifact_store_is_one_line_and_nothing_is_visible(
    cli, stands_project: Path, sim_stand: SimStand, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = Project.load(stands_project)
    project.train()
    dead = f"http://127.0.0.1:{free_port()}"
    monkeypatch.setenv("AWS_ENDPOINT_URL", dead)
    monkeypatch.setenv("MLFLOW_S3_ENDPOINT_URL", dead)

    result = cli("promote", "--to", "int", "--project", stands_project)
    assert result.exit_code == 9  # UNAVAILABLE
    first = result.output.strip().splitlines()[0]
    assert "stand 'sim' (stage 'int') cannot be reached: artifact store s3://" in first
    assert "unreachable" in first
    monkeypatch.undo()
    assert visible_on_target(sim_stand, project.name) == {"versions": 0, "aliases": {}, "runs": 0}
