"""`conveyor pack` on bad input: one line, exit 1, no tag and nothing stored."""

from __future__ import annotations

from pathlib import Path

from conveyor.core import tags


def test_requirements_that_cannot_be_resolved_fail_in_one_line_and_leave_nothing(
    project_dir: Path, cli, edit_config
) -> None:
    edit_config(project_dir, "stages:", "runtime:\n  requirements: [conveyor-no-such-package-anywhere==0.0.1]\nstages:")
    assert cli("train", "--project", project_dir).exit_code == 0
    out = cli("pack", "churn", "--version", "1", "--project", project_dir)
    assert out.exit_code == 1
    assert "resolving the version's requirements failed" in out.stderr
    assert "conveyor-no-such-package-anywhere" in out.stderr
    assert "nothing was stored and no tag was set" in out.stderr
    from conveyor import Project

    version_tags = Project.load(project_dir).client.get_model_version("churn", "1").tags
    assert not [k for k in version_tags if k.startswith(tags.PACK_PREFIX)]
    assert not (project_dir / ".conveyor" / "artifacts" / "packs").exists()
