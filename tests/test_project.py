"""The Python API mirrors the CLI: one Project object drives the whole loop."""

from __future__ import annotations

from pathlib import Path

from conveyor import Project
from conveyor.scaffold import generate_example_data


def test_notebook_style_loop(project_dir: Path, tmp_path: Path) -> None:
    project = Project.load(project_dir)
    trained = project.train()
    assert project.promote("staging").to_version == trained.version
    assert [v.version for v in project.models()] == [trained.version]

    fresh = generate_example_data(project_dir, rows=2000, seed=11, out=tmp_path / "new.parquet")
    scored = project.predict("churn@staging", str(fresh), str(tmp_path / "scores"), workers=1)
    assert scored.manifest.rows_in == 2000 == scored.manifest.rows_out + scored.manifest.rejected

    drifted = generate_example_data(project_dir, rows=2000, seed=12, drift=1.0, out=tmp_path / "d.parquet")
    watched = project.monitor(data=drifted, version=trained.version)
    assert watched.drift_detected is True
    assert watched.version == trained.version
