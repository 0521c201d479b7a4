"""Which version a batch scores with: a bare name is the last stage's holder, and a
gate-failed version is never picked silently."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from conveyor.app import Project
from conveyor.core.errors import ExitCode, GateFailedError
from conveyor.scaffold import generate_example_data


def test_bare_names_and_gate_failed_versions(
    make_project: Callable[..., Path], cli: Any, edit_config: Callable[[Path, str, str], None],
    tmp_path: Path,
) -> None:
    folder = make_project()
    Project.load(folder).train()  # v1 passes the gate: dev
    edit_config(folder, 'roc_auc: ">= 0.80"', 'roc_auc: ">= 0.9999"')
    with pytest.raises(GateFailedError):
        Project.load(folder).train()  # v2 fails it: the newest version
    rows = generate_example_data(folder, rows=300, seed=4, out=Path("data/day.parquet"))

    refused = cli("predict", "churn", "--input", rows, "--output", tmp_path / "a", "--project", folder)
    assert refused.exit_code == ExitCode.NOT_FOUND, refused.output
    assert "means churn@prod" in refused.output and "churn@dev" in refused.output
    assert not (tmp_path / "a").exists()

    latest = cli("predict", "churn@latest", "--input", rows, "--output", tmp_path / "b",
                 "--project", folder, "--json")
    assert latest.exit_code == 0, latest.output
    assert "churn v2 (churn@latest) failed the quality gate" in latest.output
    manifest = json.loads((tmp_path / "b" / "_manifest.json").read_text())
    assert manifest["model"]["version"] == "2"
    assert "failed the quality gate" in manifest["extra"]["warnings"][0]

    project = Project.load(folder)
    project.promote("staging", "1")
    project.promote("prod", "1")
    bare = cli("predict", "churn", "--input", rows, "--output", tmp_path / "c", "--project", folder, "--json")
    assert bare.exit_code == 0, bare.output
    manifest = json.loads((tmp_path / "c" / "_manifest.json").read_text())
    assert (manifest["model"]["ref"], manifest["model"]["version"]) == ("churn", "1")
    assert "warnings" not in manifest.get("extra", {})
